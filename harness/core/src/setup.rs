//! A scenario's own setup failing is never the kernel's doing.
//!
//! Every process of an instance (the scenario process and the subjects it
//! forks, which only have an exit status to speak with) reports a failed
//! setup step here: the call, and why. The executor gives each instance a
//! channel for these reports and, when one arrives, makes the instance an
//! error naming the step, whatever observation the scenario then made of
//! a subject that gave up: a `fail` must mean the kernel did something
//! else than Linux promises, never that kconform could not set it up.

use std::fmt::Display;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

use crate::model::Stop;

/// Where this instance's setup failures go (the executor's pipe), -1
/// outside an instance.
static CHANNEL: AtomicI32 = AtomicI32::new(-1);

/// The step to fail on purpose in this instance (see [`crate::Ctx`]).
static INJECTED: Mutex<Option<String>> = Mutex::new(None);

/// The exit status of a subject that gave up on a failed setup step.
/// The executor has the step's report by then, so the status is never
/// judged; it only needs to differ from what scenarios observe.
pub const SUBJECT_EXIT: i32 = 126;

/// For the executor, in the instance's process: failures go to `tx`, and
/// `inject` names a step to fail on purpose.
pub fn begin_instance(tx: &OwnedFd, inject: Option<String>) {
    use std::os::fd::AsRawFd;
    CHANNEL.store(tx.as_raw_fd(), Ordering::SeqCst);
    if let Ok(mut i) = INJECTED.lock() {
        *i = inject;
    }
}

/// For the executor: the first failure reported on `rx`, if any.
pub fn first_failure(rx: &OwnedFd) -> Option<String> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n) = nix::unistd::read(rx.as_fd(), &mut chunk) {
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&bytes)
        .lines()
        .next()
        .map(str::to_string)
}

/// `setup: CALL failed: WHY`, sent to the instance's channel with one
/// write(2) (async-signal-safe enough for a forked subject), and the
/// error that makes the instance.
pub fn failed(call: &str, why: impl Display) -> Stop {
    let text = format!("setup: {call} failed: {why}");
    let fd: RawFd = CHANNEL.load(Ordering::SeqCst);
    if fd >= 0 {
        let line = format!("{text}\n");
        // SAFETY: write(2) from a live buffer to the instance's channel.
        unsafe { libc::write(fd, line.as_ptr() as *const libc::c_void, line.len()) };
    }
    Stop::Error(text)
}

/// Whether `call` is the step a test asked to fail.
fn injected(call: &str) -> bool {
    INJECTED
        .lock()
        .ok()
        .and_then(|i| i.clone())
        .is_some_and(|want| call.contains(&want))
}

/// A setup step's result in the scenario process: its value, or an error
/// that names the step.
pub fn step<T, E: Display>(call: &str, result: Result<T, E>) -> Result<T, Stop> {
    if injected(call) {
        return Err(failed(call, "injected (KCONFORM_FAIL_SETUP)"));
    }
    result.map_err(|e| failed(call, e))
}

/// A setup step's result in a subject: its value, or the step reported
/// and the subject gone ([`SUBJECT_EXIT`]).
pub fn or_exit<T, E: Display>(call: &str, result: Result<T, E>) -> T {
    match step(call, result) {
        Ok(v) => v,
        // SAFETY: leave the forked subject without running the parent's
        // destructors.
        Err(_) => unsafe { libc::_exit(SUBJECT_EXIT) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_step_is_named_and_reaches_the_channel() {
        let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_NONBLOCK).unwrap();
        begin_instance(&tx, Some("mmap".into()));
        let e = step(
            "prctl(PR_SET_NO_NEW_PRIVS)",
            Err::<(), _>(nix::Error::EINVAL),
        );
        assert_eq!(
            e,
            Err(Stop::Error(
                "setup: prctl(PR_SET_NO_NEW_PRIVS) failed: EINVAL: Invalid argument".into()
            ))
        );
        assert_eq!(step("pipe2", Ok::<u8, nix::Error>(7)), Ok(7));
        assert!(step("mmap(4096)", Ok::<u8, nix::Error>(7)).is_err());
        assert_eq!(
            first_failure(&rx).as_deref(),
            Some("setup: prctl(PR_SET_NO_NEW_PRIVS) failed: EINVAL: Invalid argument")
        );
        CHANNEL.store(-1, Ordering::SeqCst);
        *INJECTED.lock().unwrap() = None;
    }
}
