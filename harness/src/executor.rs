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
    let start = Instant::now();
    let outcome = match spawn(inst, ctx) {
        Ok((child, rx)) => collect(child, rx, timeout),
        Err(e) => Err(Stop::Error(format!(
            "could not fork the scenario process: {e}"
        ))),
    };
    Execution {
        outcome,
        duration: start.elapsed(),
    }
}

fn spawn(inst: &Instance, ctx: &Ctx) -> nix::Result<(Pid, OwnedFd)> {
    let (rx, tx) = pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: the child only runs the scenario and then _exit()s; it never
    // returns into the caller's stack, and touches no stdio lock (its panic
    // hook is silenced below, the outcome goes through the pipe).
    match unsafe { fork() }? {
        ForkResult::Child => {
            drop(rx);
            child_main(inst, ctx, tx)
        }
        ForkResult::Parent { child } => {
            drop(tx);
            // Both sides set the group so the parent can kill the whole tree
            // whichever runs first.
            let _ = nix::unistd::setpgid(child, child);
            Ok((child, rx))
        }
    }
}

fn child_main(inst: &Instance, ctx: &Ctx, tx: OwnedFd) -> ! {
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
    for sig in [
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

fn collect(child: Pid, rx: OwnedFd, timeout: Duration) -> Outcome {
    let deadline = Instant::now() + timeout;
    let mut bytes = Vec::new();
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        let mut fds = [PollFd::new(rx.as_fd(), PollFlags::POLLIN)];
        match poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) => continue,
            Ok(_) => {
                let mut chunk = [0u8; 4096];
                match nix::unistd::read(rx.as_fd(), &mut chunk) {
                    Ok(0) => break,
                    Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                    Err(nix::Error::EINTR) => continue,
                    Err(_) => break,
                }
            }
            Err(nix::Error::EINTR) => continue,
            Err(_) => break,
        }
    }
    // The scenario's own children (tracees, helpers) live in its process
    // group; nothing of an instance may outlive it.
    let _ = kill(Pid::from_raw(-child.as_raw()), Signal::SIGKILL);
    let status = waitpid(child, None);
    if timed_out {
        return Err(Stop::Error(format!(
            "timed out after {:.1} s; the scenario's processes were killed",
            timeout.as_secs_f64()
        )));
    }
    match serde_json::from_slice::<Outcome>(&bytes) {
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

/// Run many instances, `jobs` at a time; `on_start` and `on_done` see each
/// as it begins and ends, with its index in `instances`. Results come back
/// in that order, none lost.
pub fn execute_all(
    instances: &[&Instance],
    ctx: &Ctx,
    jobs: usize,
    timeout: Duration,
    on_start: &(dyn Fn(usize, &Instance) + Sync),
    on_done: &(dyn Fn(usize, &Instance, &Execution) + Sync),
) -> Vec<Execution> {
    parallel_map(instances, jobs, |i, inst| {
        on_start(i, inst);
        let exec = execute(inst, ctx, timeout);
        on_done(i, inst, &exec);
        exec
    })
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
        }
    }

    #[test]
    fn observation_crosses_the_process_boundary() {
        let inst = Instance::from_fn("t/ok", Area::Tsync, Needs::default(), |_| {
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
        let inst = Instance::from_fn("t/crash", Area::Tsync, Needs::default(), |_| {
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
        let inst = Instance::from_fn("t/panic", Area::Tsync, Needs::default(), |_| {
            panic!("setup went wrong")
        });
        let e = execute(&inst, &ctx(), Duration::from_secs(5));
        assert_eq!(
            e.outcome,
            Err(Stop::Error("scenario panicked: setup went wrong".into()))
        );
    }

    #[test]
    fn a_hanging_instance_times_out_and_its_children_die() {
        let inst = Instance::from_fn("t/hang", Area::Tsync, Needs::default(), |_| {
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

    #[test]
    fn execute_all_keeps_order_and_loses_nothing() {
        let insts: Vec<Instance> = (0..20)
            .map(|i| {
                Instance::from_fn(
                    &format!("t/{i}"),
                    Area::Tsync,
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
