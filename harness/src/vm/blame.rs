//! Pinning kernel trouble on the instance that caused it.
//!
//! While a boot runs, the guest says which instances started and ended,
//! and each end carries the kernel log lines that announce trouble (a
//! WARN, a BUG, a new taint). A crash or a hang ends the boot; the
//! console shows what it was. Trouble seen while one instance ran is
//! that instance's; trouble seen while several ran sends them all to a
//! boot of their own, one at a time, so the blame is exact.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kconform_core::console;
use kconform_core::executor::Execution;
use kconform_core::guest::protocol::{taint_letters, Event as GuestEvent};
use kconform_core::record::KernelEvent;

use super::boot::{started_in_log, BootEnd, BootOutcome};
use super::VmSettings;

pub(super) struct Hello {
    pub(super) release: String,
    pub(super) proc_version: String,
    pub(super) machine: String,
    pub(super) catalog: String,
}

/// A kernel problem and who may have caused it.
pub(super) struct Trouble {
    suspects: BTreeSet<usize>,
    kind: &'static str,
    summary: String,
    excerpt: String,
}

impl Trouble {
    fn event(&self) -> KernelEvent {
        KernelEvent {
            kind: self.kind.into(),
            summary: self.summary.clone(),
            excerpt: self.excerpt.clone(),
        }
    }
}

/// What one boot has said so far.
#[derive(Default)]
pub(super) struct BootState {
    pub(super) hello: Option<Hello>,
    taint: u64,
    /// Plan index -> console length when it started.
    in_flight: BTreeMap<usize, usize>,
    last_start_offset: usize,
    pub(super) done: BTreeMap<usize, Execution>,
    troubles: Vec<Trouble>,
    pub(super) fatal: Option<String>,
}

impl BootState {
    /// `tick_start`: the console's length before the boot loop's latest
    /// read, which came before this event's; the event's own console
    /// output cannot begin earlier.
    pub(super) fn on_guest_event(&mut self, ev: &GuestEvent, tick_start: usize) {
        match ev {
            GuestEvent::Hello {
                release,
                proc_version,
                machine,
                taint,
                catalog,
                ..
            } => {
                self.taint = *taint;
                self.hello = Some(Hello {
                    release: release.clone(),
                    proc_version: proc_version.clone(),
                    machine: machine.clone(),
                    catalog: catalog.clone(),
                });
            }
            GuestEvent::Start { i, .. } => {
                self.in_flight.insert(*i, tick_start);
                self.last_start_offset = self.in_flight.values().copied().min().unwrap_or(0);
            }
            GuestEvent::Done {
                i,
                outcome,
                duration_ms,
                taint,
                kmsg,
                ..
            } => {
                self.in_flight.remove(i);
                let mut suspects: BTreeSet<usize> = self.in_flight.keys().copied().collect();
                suspects.insert(*i);
                let new_taint = *taint & !self.taint;
                self.taint = *taint;
                let log = kmsg.join("\n");
                if let Some((kind, summary, excerpt)) = console::excerpt_from(&log, 0) {
                    self.troubles.push(Trouble {
                        suspects,
                        kind,
                        summary,
                        excerpt,
                    });
                } else if new_taint != 0 {
                    let summary = format!("kernel tainted: {}", taint_letters(new_taint));
                    self.troubles.push(Trouble {
                        suspects,
                        kind: "taint",
                        summary,
                        excerpt: log,
                    });
                }
                self.done.insert(
                    *i,
                    Execution {
                        outcome: outcome.clone(),
                        duration: Duration::from_millis(*duration_ms),
                    },
                );
            }
            GuestEvent::Fatal { message } => self.fatal = Some(message.clone()),
            GuestEvent::MoreTime { .. }
            | GuestEvent::Exited { .. }
            | GuestEvent::Ran { .. }
            | GuestEvent::End => {}
        }
    }
}

/// The trouble that ended a boot (a crash, a hang, the VM dying), with
/// the instances that may have caused it: those in flight by the results
/// port's word, or by the kernel log's (the port's last bytes may have
/// been lost). With no suspect it is the kernel's own event.
pub(super) fn ending_trouble(
    outcome: &BootOutcome,
    state: &mut BootState,
    planned: usize,
    settings: &VmSettings,
) -> Option<KernelEvent> {
    if matches!(outcome.end, BootEnd::Finished | BootEnd::Interrupted) {
        return None;
    }
    let log = outcome.console.as_str();
    let logged = started_in_log(log);
    let mut suspects: BTreeSet<usize> = state.in_flight.keys().copied().collect();
    suspects.extend(
        logged
            .keys()
            .filter(|i| !state.done.contains_key(i) && **i < planned),
    );
    // Look for the trouble from the first suspect's start on, so an
    // earlier instance's warning is not taken for this crash.
    let from = suspects
        .iter()
        .filter_map(|i| logged.get(i))
        .min()
        .copied()
        .unwrap_or(state.last_start_offset);
    let (kind, summary, excerpt) = console::crash_excerpt_from(log, from).unwrap_or_else(|| {
        let kind = if matches!(outcome.end, BootEnd::Hung(_)) {
            "hang"
        } else {
            "died"
        };
        let since = log.get(from..).unwrap_or(log);
        (
            kind,
            outcome.end.describe(settings),
            console::tail(since, 20),
        )
    });
    let trouble = Trouble {
        suspects,
        kind,
        summary,
        excerpt,
    };
    if trouble.suspects.is_empty() {
        return Some(trouble.event());
    }
    state.troubles.push(trouble);
    None
}

/// Who is to blame for what this boot saw: the kernel's events per plan
/// index, for trouble one instance alone could have caused (or any, when
/// instances ran one at a time); and the instances to run again alone.
pub(super) fn assign(
    state: &BootState,
    jobs: usize,
) -> (BTreeMap<usize, Vec<KernelEvent>>, BTreeSet<usize>) {
    let mut blame: BTreeMap<usize, Vec<KernelEvent>> = BTreeMap::new();
    let mut retry: BTreeSet<usize> = BTreeSet::new();
    for t in &state.troubles {
        if t.suspects.len() == 1 || jobs == 1 {
            for &i in &t.suspects {
                // The console line and the crash can report one event twice.
                let events = blame.entry(i).or_default();
                if !events.iter().any(|e| e.summary == t.summary) {
                    events.push(t.event());
                }
            }
        } else {
            retry.extend(t.suspects.iter().copied());
        }
    }
    (blame, retry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kconform_core::model::Observation;

    fn done(i: usize, kmsg: &[&str]) -> GuestEvent {
        GuestEvent::Done {
            i,
            outcome: Ok(Observation::new("ok")),
            duration_ms: 1,
            taint: 0,
            kmsg: kmsg.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn a_warning_while_one_instance_ran_is_that_instances() {
        let mut s = BootState::default();
        s.on_guest_event(&GuestEvent::Start { i: 0 }, 0);
        s.on_guest_event(
            &done(0, &["WARNING: CPU: 0 PID: 9 at kernel/seccomp.c:1"]),
            0,
        );
        s.on_guest_event(&GuestEvent::Start { i: 1 }, 0);
        s.on_guest_event(&done(1, &[]), 0);
        let (blame, retry) = assign(&s, 6);
        assert_eq!(blame.keys().copied().collect::<Vec<_>>(), [0]);
        assert_eq!(blame[&0][0].kind, "warning");
        assert!(retry.is_empty());
    }

    #[test]
    fn trouble_while_several_ran_sends_them_to_run_alone() {
        let mut s = BootState::default();
        s.on_guest_event(&GuestEvent::Start { i: 0 }, 0);
        s.on_guest_event(&GuestEvent::Start { i: 1 }, 0);
        s.on_guest_event(&done(1, &["BUG: kernel NULL pointer dereference"]), 0);
        s.on_guest_event(&done(0, &[]), 0);
        let (blame, retry) = assign(&s, 6);
        assert!(blame.is_empty());
        assert_eq!(retry.into_iter().collect::<Vec<_>>(), [0, 1]);
        // Run one at a time, the same trouble is blamed outright.
        assert_eq!(assign(&s, 1).0.keys().copied().collect::<Vec<_>>(), [0, 1]);
    }
}
