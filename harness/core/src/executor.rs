//! Runs each instance in its own forked process with a timeout, so an
//! instance that crashes, hangs or leaves traced children behind is
//! recorded as such and the run goes on.

use std::os::fd::{AsFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe2, ForkResult, Pid};

use crate::model::{Ctx, Instance, Outcome, Stop};

/// What one instance did, as seen from the parent.
#[derive(Debug, Clone)]
pub struct Execution {
    pub outcome: Outcome,
    pub duration: Duration,
}

/// Run one instance in a forked child and collect its outcome.
pub fn execute(inst: &Instance, ctx: &Ctx, timeout: Duration) -> Execution {
    let mut all = execute_all(&[inst], ctx, 1, timeout, &|_, _| {}, &|_, _, _| {});
    all.remove(0)
}

/// An instance's process and the ends of its two pipes the parent reads:
/// the outcome, and the setup failures of any of its processes.
fn spawn(inst: &Instance, ctx: &Ctx) -> nix::Result<(Pid, OwnedFd, OwnedFd)> {
    let (rx, tx) = pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // Read by the parent, so a failed setup step is known even when the
    // instance then hangs and is killed.
    let (setup_rx, setup_tx) = pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
    // SAFETY: the child only runs the scenario and then _exit()s; it never
    // returns into the caller's stack, and touches no stdio lock (its panic
    // hook is silenced below, the outcome goes through the pipe).
    match unsafe { fork() }? {
        ForkResult::Child => {
            drop(rx);
            drop(setup_rx);
            child_main(inst, ctx, tx, setup_tx)
        }
        ForkResult::Parent { child } => {
            drop(tx);
            drop(setup_tx);
            // Both sides set the group so the parent can kill the whole tree
            // whichever runs first.
            let _ = nix::unistd::setpgid(child, child);
            Ok((child, rx, setup_rx))
        }
    }
}

fn child_main(inst: &Instance, ctx: &Ctx, tx: OwnedFd, setup: OwnedFd) -> ! {
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    // SAFETY: plain prctl/sigprocmask calls on our own process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
    // Rust's runtime installs SIGSEGV/SIGBUS handlers for stack-overflow
    // reports; scenarios start from the kernel's defaults instead.
    // The run's own SIGINT/SIGTERM handler (crate::interrupt) is no
    // subject's business either.
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGCHLD,
        Signal::SIGPIPE,
        Signal::SIGSYS,
        Signal::SIGTRAP,
        Signal::SIGSEGV,
        Signal::SIGBUS,
    ] {
        // SAFETY: resetting to the default disposition is always sound.
        let _ = unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl) };
    }
    no_core_files();
    std::panic::set_hook(Box::new(|_| {}));
    // Setup failures of this instance's processes (see crate::setup).
    crate::setup::begin_instance(&setup, ctx.fail_setup.clone());
    let outcome = catch_unwind(AssertUnwindSafe(|| inst.run(ctx))).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        Err(Stop::Error(format!("scenario panicked: {msg}")))
    });
    let bytes = serde_json::to_vec(&outcome).unwrap_or_default();
    let _ = write_all(&tx, &bytes);
    // SAFETY: _exit skips atexit handlers and destructors that belong to the parent.
    unsafe { libc::_exit(0) }
}

/// Subjects killed by SIGSYS or SIGSEGV would otherwise leave core files
/// wherever kconform runs. RLIMIT_CORE=1 stops both kinds of dump: a file
/// dump needs at least a page, and a pipe dump refuses a limit of 1.
/// Scenarios about the core flag set their own limit.
fn no_core_files() {
    if let Ok((_, hard)) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_CORE)
    {
        let soft = if hard >= 1 { 1 } else { 0 };
        let _ =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, soft, hard);
    }
}

fn write_all(fd: &OwnedFd, mut buf: &[u8]) -> nix::Result<()> {
    while !buf.is_empty() {
        let n = nix::unistd::write(fd, buf)?;
        buf = &buf[n..];
    }
    Ok(())
}

fn poll_timeout(d: Duration) -> PollTimeout {
    // Rounded up, so a deadline a fraction of a millisecond away is not
    // polled for with 0 over and over.
    let ms = d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

/// An instance's process, from fork until its outcome is read.
struct Running {
    child: Pid,
    rx: OwnedFd,
    setup_rx: OwnedFd,
    bytes: Vec<u8>,
    started: Instant,
    deadline: Instant,
}

impl Running {
    /// Read what the pipe has; true once it is at end of file (the
    /// instance and everything it started have closed it) or broken.
    fn read_some(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match nix::unistd::read(self.rx.as_fd(), &mut chunk) {
            Ok(0) => true,
            Ok(n) => {
                self.bytes.extend_from_slice(&chunk[..n]);
                false
            }
            Err(nix::Error::EINTR) | Err(nix::Error::EAGAIN) => false,
            Err(_) => true,
        }
    }

    /// Kill what is left of the instance and decode its outcome, unless
    /// `cut_short` says why there is none to decode.
    fn finish(self, cut_short: Option<String>) -> Outcome {
        // The scenario's own children (tracees, helpers) live in its process
        // group; nothing of an instance may outlive it.
        let _ = kill(Pid::from_raw(-self.child.as_raw()), Signal::SIGKILL);
        let status = waitpid(self.child, None);
        // A setup step that failed makes the instance an error, whatever
        // the scenario then made of the subject that gave up, a hang or a
        // crash included.
        if let Some(failure) = crate::setup::first_failure(&self.setup_rx) {
            let late = cut_short
                .map(|why| format!(" (then {why})"))
                .unwrap_or_default();
            return Err(Stop::Error(format!("{failure}{late}")));
        }
        if let Some(why) = cut_short {
            return Err(Stop::Error(why));
        }
        match serde_json::from_slice::<Outcome>(&self.bytes) {
            Ok(outcome) => outcome,
            Err(_) => Err(Stop::Error(match status {
                Ok(WaitStatus::Signaled(_, sig, _)) => {
                    format!("scenario process killed by {sig} before it reported")
                }
                Ok(WaitStatus::Exited(_, code)) => {
                    format!("scenario process exited {code} before it reported")
                }
                other => format!("scenario process vanished before it reported ({other:?})"),
            })),
        }
    }
}

/// Run many instances, `jobs` at a time; `on_start` and `on_done` see each
/// as it begins and ends, with its index in `instances`. Results come back
/// in that order, none lost.
///
/// One thread forks every instance and waits on all their pipes at once.
/// Under QEMU's TCG, forking from a process whose threads run on several
/// vCPUs cost twice the CPU of forking from one thread: every fork
/// write-protects the siblings' pages, which shoots down their TLBs on
/// the other vCPUs and faults them back in afterwards.
pub fn execute_all(
    instances: &[&Instance],
    ctx: &Ctx,
    jobs: usize,
    timeout: Duration,
    on_start: &dyn Fn(usize, &Instance),
    on_done: &dyn Fn(usize, &Instance, &Execution),
) -> Vec<Execution> {
    let mut results: Vec<Option<Execution>> = instances.iter().map(|_| None).collect();
    let mut running: Vec<(usize, Running)> = Vec::new();
    let mut next = 0;
    let mut finished = |k: usize, outcome: Outcome, started: Instant| {
        let exec = Execution {
            outcome,
            duration: started.elapsed(),
        };
        on_done(k, instances[k], &exec);
        results[k] = Some(exec);
    };
    while next < instances.len() || !running.is_empty() {
        if crate::interrupt::requested() {
            // Nothing new starts; what runs is killed and says why.
            for (k, r) in running.drain(..) {
                let started = r.started;
                finished(k, r.finish(Some("interrupted".into())), started);
            }
            break;
        }
        while running.len() < jobs.max(1) && next < instances.len() {
            let (k, inst) = (next, instances[next]);
            next += 1;
            on_start(k, inst);
            let started = Instant::now();
            match spawn(inst, ctx) {
                Ok((child, rx, setup_rx)) => running.push((
                    k,
                    Running {
                        child,
                        rx,
                        setup_rx,
                        bytes: Vec::new(),
                        started,
                        deadline: started + timeout,
                    },
                )),
                Err(e) => finished(
                    k,
                    Err(Stop::Error(format!(
                        "could not fork the scenario process: {e}"
                    ))),
                    started,
                ),
            }
        }
        let now = Instant::now();
        let nearest = running.iter().map(|(_, r)| r.deadline).min();
        // Never long, so an interrupt taken by another thread is seen soon.
        let wait = nearest
            .map_or(Duration::ZERO, |d| d.saturating_duration_since(now))
            .min(Duration::from_millis(200));
        let mut fds: Vec<PollFd> = running
            .iter()
            .map(|(_, r)| PollFd::new(r.rx.as_fd(), PollFlags::POLLIN))
            .collect();
        let polled = poll(&mut fds, poll_timeout(wait)).map(|_| {
            fds.iter()
                .map(|f| f.revents().is_some_and(|e| !e.is_empty()))
                .collect::<Vec<bool>>()
        });
        drop(fds);
        let ready = match polled {
            Ok(ready) => ready,
            Err(nix::Error::EINTR) => vec![false; running.len()],
            Err(e) => {
                // Not transient: stop waiting rather than spin until the
                // deadlines, and say so for every instance under way.
                for (k, r) in running.drain(..) {
                    let started = r.started;
                    let why = format!("could not wait for the scenario process (poll: {e})");
                    finished(k, r.finish(Some(why)), started);
                }
                continue;
            }
        };
        // From the back, so removing one leaves the indices before it valid.
        for slot in (0..running.len()).rev() {
            let done = ready[slot] && running[slot].1.read_some();
            let late = !done && Instant::now() >= running[slot].1.deadline;
            if done || late {
                let (k, r) = running.swap_remove(slot);
                let started = r.started;
                let why = late.then(|| {
                    format!(
                        "timed out after {:.1} s; the scenario's processes were killed",
                        timeout.as_secs_f64()
                    )
                });
                finished(k, r.finish(why), started);
            }
        }
    }
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| Execution {
                outcome: Err(Stop::Error("not run: interrupted".into())),
                duration: Duration::ZERO,
            })
        })
        .collect()
}

/// `f` over every item, `jobs` at a time, each item taken by the next
/// free worker; results in the items' order, none lost.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(usize, &T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(i, item);
                slots.lock().unwrap()[i] = Some(r);
            });
        }
    });
    slots
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every item was taken by a worker"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Area, Needs, Observation};

    fn ctx() -> Ctx {
        Ctx {
            iterations: 1,
            probe_exe: "/bin/true".into(),
            shared_dir: None,
            fail_setup: None,
        }
    }

    #[test]
    fn observation_crosses_the_process_boundary() {
        let inst = Instance::from_fn("t/ok", Area::HARNESS, Needs::default(), |_| {
            Ok(Observation::new("exit 7").detail("attempts", 3))
        });
        let e = execute(&inst, &ctx(), Duration::from_secs(5));
        assert_eq!(
            e.outcome,
            Ok(Observation::new("exit 7").detail("attempts", 3))
        );
    }

    #[test]
    fn a_crashing_instance_is_an_error_not_a_lost_result() {
        let inst = Instance::from_fn("t/crash", Area::HARNESS, Needs::default(), |_| {
            // SAFETY: deliberately kill ourselves to simulate a crash.
            unsafe { libc::raise(libc::SIGSEGV) };
            unreachable!()
        });
        let e = execute(&inst, &ctx(), Duration::from_secs(5));
        assert_eq!(
            e.outcome,
            Err(Stop::Error(
                "scenario process killed by SIGSEGV before it reported".into()
            ))
        );
    }

    #[test]
    fn a_panicking_instance_reports_the_panic() {
        let inst = Instance::from_fn("t/panic", Area::HARNESS, Needs::default(), |_| {
            panic!("setup went wrong")
        });
        let e = execute(&inst, &ctx(), Duration::from_secs(5));
        assert_eq!(
            e.outcome,
            Err(Stop::Error("scenario panicked: setup went wrong".into()))
        );
    }

    #[test]
    fn a_failed_setup_step_is_the_error_even_when_the_subject_is_observed() {
        let inst = Instance::from_fn("t/setup", Area::HARNESS, Needs::default(), |_| {
            // A subject gives up on its setup; the scenario goes on to
            // observe it as it would a kernel's doing.
            let pid = match unsafe { fork() }.unwrap() {
                ForkResult::Child => {
                    crate::setup::or_exit(
                        "prctl(PR_SET_NO_NEW_PRIVS)",
                        Err::<(), _>(nix::Error::EINVAL),
                    );
                    unreachable!()
                }
                ForkResult::Parent { child } => child,
            };
            let status = waitpid(pid, None).unwrap();
            Ok(Observation::new(format!("{status:?}")))
        });
        let exec = execute(&inst, &ctx(), Duration::from_secs(5));
        assert_eq!(
            exec.outcome,
            Err(Stop::Error(
                "setup: prctl(PR_SET_NO_NEW_PRIVS) failed: EINVAL: Invalid argument".into()
            ))
        );
    }

    #[test]
    fn a_hanging_instance_times_out_and_its_children_die() {
        let inst = Instance::from_fn("t/hang", Area::HARNESS, Needs::default(), |_| {
            // A grandchild that would outlive the instance if not killed.
            if let Ok(ForkResult::Child) = unsafe { fork() } {
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            std::thread::sleep(Duration::from_secs(60));
            Ok(Observation::new("never"))
        });
        let start = Instant::now();
        let e = execute(&inst, &ctx(), Duration::from_millis(300));
        assert!(start.elapsed() < Duration::from_secs(5));
        match e.outcome {
            Err(Stop::Error(msg)) => assert!(msg.starts_with("timed out after 0.3 s"), "{msg}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    fn run_all(insts: &[Instance], jobs: usize, timeout: Duration) -> Vec<Execution> {
        let refs: Vec<&Instance> = insts.iter().collect();
        execute_all(&refs, &ctx(), jobs, timeout, &|_, _| {}, &|_, _, _| {})
    }

    /// Each instance waits until all three have started: only a run
    /// with three under way at once gets them all past the barrier.
    #[test]
    fn execute_all_runs_jobs_instances_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let insts: Vec<Instance> = (0..3)
            .map(|i| {
                let dir = dir.path().to_path_buf();
                Instance::from_fn(
                    &format!("t/{i}"),
                    Area::HARNESS,
                    Needs::default(),
                    move |_| {
                        std::fs::write(dir.join(i.to_string()), "")?;
                        while std::fs::read_dir(&dir)?.count() < 3 {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Ok(Observation::new("met"))
                    },
                )
            })
            .collect();
        for e in run_all(&insts, 3, Duration::from_secs(20)) {
            assert_eq!(e.outcome, Ok(Observation::new("met")));
        }
    }

    /// A hang times out on its own; the instances beside it and after it
    /// still report.
    #[test]
    fn execute_all_times_out_a_hang_without_holding_up_the_rest() {
        let mut insts = vec![Instance::from_fn(
            "t/hang",
            Area::HARNESS,
            Needs::default(),
            |_| {
                std::thread::sleep(Duration::from_secs(60));
                Ok(Observation::new("never"))
            },
        )];
        insts.extend((0..5).map(|i| {
            Instance::from_fn(
                &format!("t/{i}"),
                Area::HARNESS,
                Needs::default(),
                move |_| Ok(Observation::new(format!("n={i}"))),
            )
        }));
        let out = run_all(&insts, 2, Duration::from_millis(500));
        match &out[0].outcome {
            Err(Stop::Error(msg)) => assert!(msg.starts_with("timed out after 0.5 s"), "{msg}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        for (i, e) in out[1..].iter().enumerate() {
            assert_eq!(e.outcome, Ok(Observation::new(format!("n={i}"))));
        }
    }

    #[test]
    fn execute_all_keeps_order_and_loses_nothing() {
        let insts: Vec<Instance> = (0..20)
            .map(|i| {
                Instance::from_fn(
                    &format!("t/{i}"),
                    Area::HARNESS,
                    Needs::default(),
                    move |_| Ok(Observation::new(format!("n={i}"))),
                )
            })
            .collect();
        let refs: Vec<&Instance> = insts.iter().collect();
        let seen = AtomicUsize::new(0);
        let out = execute_all(
            &refs,
            &ctx(),
            4,
            Duration::from_secs(5),
            &|_, _| {},
            &|_, _, _| {
                seen.fetch_add(1, Ordering::Relaxed);
            },
        );
        assert_eq!(seen.load(Ordering::Relaxed), 20);
        for (i, e) in out.iter().enumerate() {
            assert_eq!(e.outcome, Ok(Observation::new(format!("n={i}"))));
        }
    }
}
