//! The whole suite on one kernel under QEMU: boot, run what is planned,
//! settle what the boot decided, and boot again while anything is left
//! (after a crash, or to run suspects one at a time).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use kconform_core::executor::Execution;
use kconform_core::expect::{Expectations, Status};
use kconform_core::guest::protocol::{Mode, Phase, Plan};
use kconform_core::interrupt;
use kconform_core::kernel::{config_unmet, KernelFacts};
use kconform_core::model::{Instance, Needs, Stop};
use kconform_core::record::{KernelEvent, KernelInfo, Report, ResultRecord, VmInfo};
use kconform_core::run::{not_run, Event, KernelRun, Listener, Results};

use super::blame::{assign, ending_trouble, BootState};
use super::boot::{BootEnd, BootOutcome, Booter};
use super::{plan, unrunnable, Guest, VmSettings};
use crate::kernels::BootTarget;

/// Instances the guest runs at once per vCPU. Many of an instance's
/// moments are spent blocked (waitpid, ptrace stops, pipes), and a few
/// instances wait out a deadline (a RECV that should not block, a
/// restarted sleep), holding their slot for 0.3-0.5 s. The 500-instance
/// suite on bookworm's cloud kernel, 2 vCPUs under TCG, timed by the
/// guest's clock from the first instance to the last (medians, and the
/// range): 1.38 s (1.28-1.48, 11 runs) at 3 per vCPU, 1.27 s (1.21-1.43,
/// 8) at 5, 1.24 s (1.18-1.48, 16) at 6, 1.18 s (1.16-1.43, 8) at 8 and
/// 1.22 s (1.14-1.37, 8) at 10; every instance conforming in each run,
/// and on all four kernels of the default matrix, three times, at 8.
const JOBS_PER_CPU: usize = 8;

/// Ceiling on boots per kernel: every boot must settle at least one
/// instance, and a kernel that crashes on everything is not retried forever.
const MAX_BOOTS: usize = 64;

/// One kernel's run in progress.
struct Suite<'a> {
    target: &'a BootTarget,
    settings: &'a VmSettings,
    guest: &'a Guest,
    expectations: &'a Expectations,
    results: Results<'a>,
    booter: Booter<'a>,
    /// What the first boot's guest said of its kernel.
    facts: Option<KernelFacts>,
    proc_version: Option<String>,
    /// To run, in catalog order; and to run again one at a time.
    pending: Vec<usize>,
    /// Command-line parameters instances need different values of.
    conflicting: BTreeSet<&'static str>,
    isolate: Vec<usize>,
    /// Kernel trouble no instance can be blamed for.
    kernel_events: Vec<KernelEvent>,
    /// Why the run stopped before everything ran.
    fatal: Option<String>,
    console_tail: Option<String>,
}

/// Run `instances` in `target` under QEMU and judge them, telling
/// `listener` as kernel number `kernel`.
#[allow(clippy::too_many_arguments)]
pub fn run_suite(
    target: &BootTarget,
    settings: &VmSettings,
    guest: &Guest,
    instances: &[&Instance],
    expectations: &Expectations,
    workdir: &Path,
    kernel: usize,
    listener: &dyn Listener,
) -> KernelRun {
    let start = Instant::now();
    let mut results = Results::new(kernel, instances, listener);
    let config = target.config.as_ref().map(|(_, c)| c);
    let pending = results.skip_unmet(|needs| {
        config
            .and_then(|c| config_unmet(c, needs))
            .map(Stop::lacks)
            .or_else(|| plan::pinned(&settings.cmdline_extra, needs))
    });
    let conflicting = plan::conflicting(pending.iter().map(|&k| &instances[k].needs));
    let mut suite = Suite {
        target,
        settings,
        guest,
        expectations,
        results,
        booter: Booter::new(target, settings, guest, workdir),
        facts: None,
        proc_version: None,
        pending,
        conflicting,
        isolate: Vec::new(),
        kernel_events: Vec::new(),
        fatal: None,
        console_tail: None,
    };
    // At least one boot, even when the config ruled out every instance:
    // the report names the kernel that was booted.
    while suite.fatal.is_none() && (suite.facts.is_none() || suite.has_work()) {
        if interrupt::requested() {
            break;
        }
        if suite.booter.boots >= MAX_BOOTS {
            suite.fatal = Some(format!("gave up after {MAX_BOOTS} boots"));
            break;
        }
        listener.on(kernel, Event::Booting(suite.booter.boots + 1));
        suite.boot_once();
    }
    suite.finish(start, kernel, listener)
}

impl Suite<'_> {
    fn has_work(&self) -> bool {
        !(self.pending.is_empty() && self.isolate.is_empty())
    }

    /// The next boot's instances, in the order its guest runs them, with
    /// its sysctl phases, its command-line parameters and how many
    /// instances run at once: suspects one at a time first, else what is
    /// pending; of those, the ones that share the first's boot.
    fn next_batch(&mut self) -> (Vec<usize>, Vec<Phase>, Vec<&'static str>, usize) {
        let (source, jobs) = if self.isolate.is_empty() {
            (&mut self.pending, self.settings.cpus * JOBS_PER_CPU)
        } else {
            (&mut self.isolate, 1)
        };
        let results = &self.results;
        let conflicting = &self.conflicting;
        let key = |k: usize| plan::boot_key(&results.instance(k).needs, conflicting);
        let first = source.first().map(|&k| key(k)).unwrap_or_default();
        let (batch, rest): (Vec<usize>, Vec<usize>) =
            source.iter().partition(|&&k| key(k) == first);
        *source = rest;
        let params = plan::boot_params(batch.iter().map(|&k| &results.instance(k).needs));
        let members: Vec<(usize, &Needs, bool)> = batch
            .iter()
            .map(|&k| (k, &results.instance(k).needs, results.instance(k).long))
            .collect();
        let (order, phases) = plan::phases(&members);
        (order, phases, params, jobs)
    }

    fn boot_once(&mut self) {
        let (batch, phases, params, jobs) = self.next_batch();
        let plan = Plan {
            mode: Mode::Suite,
            ids: batch
                .iter()
                .map(|&k| self.results.instance(k).id.clone())
                .collect(),
            iterations: self.settings.iterations,
            timeout_ms: self.settings.instance_timeout.as_millis() as u64,
            jobs,
            phases,
            fail_setup: self.settings.fail_setup.clone(),
            kernel_config: None,
        };
        let mut state = BootState::default();
        let outcome = self.booter.boot(&plan, &params, &mut |ev, tick_start| {
            state.on_guest_event(ev, tick_start)
        });
        if !self.heard_from_guest(&state, &outcome, &batch) {
            return;
        }
        if let Some(msg) = &state.fatal {
            self.fatal = Some(format!("the guest gave up: {msg}"));
        }
        self.kernel_events.extend(ending_trouble(
            &outcome,
            &mut state,
            batch.len(),
            self.settings,
        ));
        let (blame, retry) = assign(&state, jobs);
        let settled = self.settle(&batch, state, blame, &retry);
        let interrupted = matches!(outcome.end, BootEnd::Interrupted);
        if settled == 0
            && retry.is_empty()
            && self.fatal.is_none()
            && !batch.is_empty()
            && !interrupted
        {
            self.fatal = Some(format!(
                "a boot settled no instance ({})",
                outcome.end.describe(self.settings)
            ));
        }
    }

    /// Whether the guest of this boot said hello, as the one this run
    /// expects. The first boot's hello gives the kernel's facts; a kernel
    /// that booted before and not now ends the run.
    fn heard_from_guest(
        &mut self,
        state: &BootState,
        outcome: &BootOutcome,
        batch: &[usize],
    ) -> bool {
        let end = || outcome.end.describe(self.settings);
        match (&state.hello, &self.facts) {
            (Some(_), Some(_)) => true,
            (Some(h), None) if h.catalog != self.guest.catalog => {
                self.fatal = Some(format!(
                    "the guest binary {} was built from other scenarios than this kconform \
                     (catalog {} vs {}): rebuild it, or unset KCONFORM_GUEST",
                    self.guest.binary.display(),
                    h.catalog,
                    self.guest.catalog
                ));
                false
            }
            (Some(h), None) => {
                self.facts = Some(KernelFacts::reported(
                    &h.release,
                    &h.proc_version,
                    &h.machine,
                    self.target.config.clone(),
                ));
                self.proc_version = Some(h.proc_version.clone());
                true
            }
            (None, _) if matches!(outcome.end, BootEnd::Interrupted) => {
                self.pending.extend(batch);
                false
            }
            (None, None) => {
                self.fatal = Some(format!("the kernel did not boot: {}", end()));
                self.console_tail = Some(crate::util::tail(&outcome.console, 40));
                false
            }
            (None, Some(_)) => {
                // It booted before and not now: nothing more can be learned.
                self.fatal = Some(format!(
                    "the kernel did not boot again after a crash: {}",
                    end()
                ));
                self.pending.extend(batch);
                false
            }
        }
    }

    /// Judge what this boot finished, with the trouble blamed on it;
    /// queue the suspects to run alone and what never finished to run
    /// again. How many were settled.
    fn settle(
        &mut self,
        batch: &[usize],
        mut state: BootState,
        mut blame: BTreeMap<usize, Vec<KernelEvent>>,
        retry: &BTreeSet<usize>,
    ) -> usize {
        let facts = self.facts.as_ref().expect("set on the first boot");
        let mut settled = 0;
        for (i, &k) in batch.iter().enumerate() {
            if retry.contains(&i) {
                self.isolate.push(k);
                continue;
            }
            let inst = self.results.instance(k);
            let events = blame.remove(&i).unwrap_or_default();
            let exec = match state.done.remove(&i) {
                Some(exec) => exec,
                // Running when the kernel went down: the trouble is its result.
                None if !events.is_empty() => Execution {
                    outcome: Err(Stop::Error("the kernel went down while it ran".into())),
                    duration: Duration::ZERO,
                },
                None => {
                    self.pending.push(k);
                    continue;
                }
            };
            let mut r = ResultRecord::judged(inst, &exec, facts, self.expectations);
            if let Some(first) = events.first() {
                r.status = Status::Fail;
                r.reason = Some(format!(
                    "kernel {} while this instance ran: {}",
                    first.kind, first.summary
                ));
                r.kernel_events = events;
            }
            self.results.settle(k, r);
            settled += 1;
        }
        // Keep the run's order: what is left goes first, as planned.
        self.pending.sort_unstable();
        self.isolate.sort_unstable();
        settled
    }

    /// The kernel's report: every instance has a record, those that never
    /// ran an error saying why.
    fn finish(self, start: Instant, kernel: usize, listener: &dyn Listener) -> KernelRun {
        let settings = self.settings;
        let vm = VmInfo {
            qemu: settings.qemu.version.clone(),
            accel: settings.accel.as_str().into(),
            cpus: settings.cpus,
            memory_mb: settings.memory_mb,
            cmdline: self.booter.cmdline.clone(),
            boots: self.booter.boots,
            boot_ms: self.booter.boot_ms,
            results_port: self.booter.results_port.into(),
            console_log: "console.log".into(),
        };
        let interrupted = interrupt::requested() && self.fatal.is_none();
        let why = match (&self.fatal, interrupted) {
            (Some(f), _) => f.clone(),
            (None, true) => "interrupted".into(),
            (None, false) => "nothing ran".into(),
        };
        let target = self.target;
        let mut report = match self.facts {
            Some(facts) => {
                let records = self.results.into_records(|inst| not_run(inst, &why));
                let mut k = KernelInfo::from_facts(&target.spec, &facts);
                k.proc_version = self.proc_version;
                k.source = Some(target.source.clone());
                k.image_sha256 = crate::util::sha256_file(&target.image);
                k.config_sha256 = target
                    .config
                    .as_ref()
                    .map(|(_, c)| crate::util::sha256_config(c));
                k.events = self.kernel_events;
                k.error = self.fatal;
                Report::new(k, 0, records)
            }
            None => {
                let mut r = unrunnable(
                    &target.spec,
                    Some(target.source.clone()),
                    &why,
                    self.results.instances(),
                );
                r.kernel.console_tail = self.console_tail;
                r
            }
        };
        report.kernel.vm = Some(vm);
        report.interrupted = interrupted;
        report.duration_ms = start.elapsed().as_millis() as u64;
        listener.on(kernel, Event::Finished(&report));
        KernelRun {
            report,
            console: self.booter.console,
        }
    }
}
