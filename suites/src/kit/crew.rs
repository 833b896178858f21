//! The threads of a subject, driven from its main thread (a crew), and
//! the subject process they live in, which brings its outcome back to
//! the scenario: what the TSYNC scenarios and their model are built on.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;

use kconform_core::{Observation, Outcome, SkipClass, Stop};

use super::procfs::gettid;
use super::task::{self, note_to, Notes};

type Job = Box<dyn FnOnce() + Send>;

/// The threads of a subject. Member 0 is the calling thread (`main`); the
/// others are `sibling-N`, each a thread that runs jobs sent to it and
/// never exits on its own, so the thread list stays what the scenario
/// built until the subject exits.
pub struct Crew {
    members: Vec<Member>,
}

struct Member {
    tid: i32,
    /// None for `main`, which runs its jobs inline.
    jobs: Option<mpsc::Sender<Job>>,
}

/// A job running on another thread; `finish` waits for its result.
pub struct Pending<R>(mpsc::Receiver<R>);

impl<R> Pending<R> {
    pub fn finish(self) -> R {
        self.0.recv().expect("a crew thread died mid-job")
    }
}

impl Crew {
    /// A crew of one: the calling thread, as `main`.
    pub fn of_this_thread() -> Crew {
        Crew {
            members: vec![Member {
                tid: gettid().as_raw(),
                jobs: None,
            }],
        }
    }

    pub fn name(i: usize) -> String {
        if i == 0 {
            "main".into()
        } else {
            format!("sibling-{i}")
        }
    }

    /// Thread `by` creates a new member (which inherits `by`'s filter and
    /// NO_NEW_PRIVS, as clone() does); returns its index.
    pub fn spawn_from(&mut self, by: usize) -> Result<usize, Stop> {
        let (tid, jobs) = self.on(by, start_member).map_err(Stop::error)?;
        self.members.push(Member {
            tid,
            jobs: Some(jobs),
        });
        Ok(self.members.len() - 1)
    }

    pub fn spawn_n(&mut self, by: usize, n: usize) -> Result<(), Stop> {
        for _ in 0..n {
            self.spawn_from(by)?;
        }
        Ok(())
    }

    /// Run `f` on thread `who` and wait for its result.
    pub fn on<R: Send + 'static>(&self, who: usize, f: impl FnOnce() -> R + Send + 'static) -> R {
        match &self.members[who].jobs {
            None => f(),
            Some(_) => self.begin(who, f).finish(),
        }
    }

    /// Start `f` on thread `who` (not `main`) without waiting.
    pub fn begin<R: Send + 'static>(
        &self,
        who: usize,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Pending<R> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(who, move || {
            let _ = tx.send(f());
        });
        Pending(rx)
    }

    /// Hand `f` to thread `who` (not `main`) and return at once.
    pub fn send(&self, who: usize, f: impl FnOnce() + Send + 'static) {
        let jobs = self.members[who]
            .jobs
            .as_ref()
            .expect("main runs its jobs inline");
        jobs.send(Box::new(f)).expect("a crew thread is gone");
    }

    /// `f` run on every thread, in order.
    pub fn each<R: Send + 'static>(&self, f: fn() -> R) -> Vec<R> {
        (0..self.members.len()).map(|i| self.on(i, f)).collect()
    }

    /// Every member's tid, in order.
    pub fn tids(&self) -> impl Iterator<Item = i32> + '_ {
        self.members.iter().map(|m| m.tid)
    }

    pub fn index_of(&self, tid: i64) -> Option<usize> {
        self.members.iter().position(|m| m.tid as i64 == tid)
    }

    pub fn name_of(&self, tid: i64) -> String {
        self.index_of(tid)
            .map(Crew::name)
            .unwrap_or_else(|| "unknown-tid".into())
    }
}

/// Start a crew thread from the calling thread: it reports its tid, then
/// runs jobs until the subject exits.
fn start_member() -> Result<(i32, mpsc::Sender<Job>), String> {
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let (tid_tx, tid_rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let _ = tid_tx.send(gettid().as_raw());
            while let Ok(job) = jobs_rx.recv() {
                job();
            }
            loop {
                std::thread::park();
            }
        })
        .map_err(|e| format!("thread spawn: {e}"))?;
    let tid = tid_rx
        .recv()
        .map_err(|_| "a new thread died at once".to_string())?;
    Ok((tid, jobs_tx))
}

/// The Notes write end of the running subject, for threads that end the
/// subject themselves (see `dead_leader`).
pub static OUTCOME_TX: AtomicI32 = AtomicI32::new(-1);

/// Run `body` in a fresh subject process (so no filter lands on the
/// scenario process) and bring its outcome back.
pub fn in_subject(body: impl FnOnce() -> Outcome) -> Outcome {
    let notes = Notes::new()?;
    let tx = notes.raw_tx();
    let pid = task::spawn(|| {
        OUTCOME_TX.store(tx, Ordering::Relaxed);
        send_outcome(tx, &body());
        0
    })?;
    let end = task::wait_exit(pid)?;
    read_outcome(notes.take(), &end)
}

pub fn send_outcome(tx: RawFd, outcome: &Outcome) {
    let line = |s: String| note_to(tx, s.as_bytes());
    match outcome {
        Ok(obs) => {
            line(format!("obs {}", obs.text));
            for (k, v) in &obs.details {
                line(format!("detail {k}={v}"));
            }
        }
        Err(Stop::Skip { reason, class }) => line(format!("skip {class} {reason}")),
        Err(Stop::Error(e)) => line(format!("error {e}")),
    }
}

fn read_outcome(notes: Vec<String>, end: &str) -> Outcome {
    let mut obs: Option<Observation> = None;
    for n in &notes {
        if let Some(text) = n.strip_prefix("obs ") {
            obs = Some(Observation::new(text));
        } else if let Some(kv) = n.strip_prefix("detail ") {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            obs = obs.map(|o| o.detail(k, v));
        } else if let Some(r) = n.strip_prefix("skip ") {
            let (class, reason) = r.split_once(' ').unwrap_or((r, ""));
            return Err(if class == SkipClass::KernelLacks.as_str() {
                Stop::lacks(reason)
            } else {
                Stop::forbidden(reason)
            });
        } else if let Some(e) = n.strip_prefix("error ") {
            return Err(Stop::error(e));
        }
    }
    match obs {
        Some(o) if end == "exit 0" => Ok(o),
        _ => Err(Stop::error(format!(
            "subject ended with {end}; notes: {}",
            if notes.is_empty() {
                "none".into()
            } else {
                notes.join(" | ")
            }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_outcomes_round_trip() {
        let o = read_outcome(
            vec!["obs a=1 b=[2,3]".into(), "detail k=v=w".into()],
            "exit 0",
        )
        .unwrap();
        assert_eq!(o.text, "a=1 b=[2,3]");
        assert_eq!(o.details, vec![("k".to_string(), "v=w".to_string())]);
        assert_eq!(
            read_outcome(vec!["skip kernel-lacks why not".into()], "exit 0"),
            Err(Stop::lacks("why not"))
        );
        assert!(read_outcome(vec!["obs x".into()], "killed SIGSYS").is_err());
    }
}
