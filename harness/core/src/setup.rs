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
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::model::Stop;

/// Where this instance's setup failures go (the executor's pipe), -1
/// outside an instance.
static CHANNEL: AtomicI32 = AtomicI32::new(-1);

/// The instance the channel's lines are about: one scenario process runs
/// many instances in turn (see [`crate::reuse`]), and a line may still be
/// in the pipe when the next instance starts.
static TAG: AtomicUsize = AtomicUsize::new(0);

/// The step to fail on purpose in this instance (see [`crate::Ctx`]).
static INJECTED: Mutex<Option<String>> = Mutex::new(None);

/// The exit status of a subject that gave up on a failed setup step.
/// The executor has the step's report by then, so the status is never
/// judged; it only needs to differ from what scenarios observe.
pub const SUBJECT_EXIT: i32 = 126;

/// For the executor, in the instance's process: failures go to `tx`,
/// tagged `tag`, and `inject` names a step to fail on purpose.
pub fn begin_instance(tx: &OwnedFd, tag: usize, inject: Option<String>) {
    use std::os::fd::AsRawFd;
    CHANNEL.store(tx.as_raw_fd(), Ordering::SeqCst);
    TAG.store(tag, Ordering::SeqCst);
    if let Ok(mut i) = INJECTED.lock() {
        *i = inject;
    }
}

/// What a line of an instance's channel says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// A setup step failed: `setup: CALL failed: WHY`.
    Failed(String),
    /// A case of a many-case instance is done (see [`case_done`]).
    CaseDone,
}

/// The line [`case_done`] writes after the tag.
const CASE_DONE: &str = "case-done";

/// For the executor: what was said on `rx` so far (a non-blocking pipe),
/// each with its instance's tag, in order.
pub fn said(rx: &OwnedFd) -> Vec<(usize, Said)> {
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
        .filter_map(|l| {
            let (tag, text) = l.split_once(' ')?;
            let said = match text {
                CASE_DONE => Said::CaseDone,
                _ => Said::Failed(text.to_string()),
            };
            Some((tag.parse().ok()?, said))
        })
        .collect()
}

/// For an instance that checks many cases (the models): one is done. The
/// executor then gives the instance its timeout again, so `--timeout`
/// bounds each case rather than their sum: a host that slows every case
/// alike (TCG guests beside other work) does not make a model an error,
/// while one case that hangs still does.
pub fn case_done() {
    say(CASE_DONE);
}

/// `text` on the instance's channel, tagged, with one write(2)
/// (async-signal-safe enough for a forked subject); nothing outside an
/// instance.
fn say(text: &str) {
    let fd: RawFd = CHANNEL.load(Ordering::SeqCst);
    if fd >= 0 {
        let line = format!("{} {text}\n", TAG.load(Ordering::SeqCst));
        // SAFETY: write(2) from a live buffer to the instance's channel.
        unsafe { libc::write(fd, line.as_ptr() as *const libc::c_void, line.len()) };
    }
}

/// `setup: CALL failed: WHY`, said on the instance's channel, and the
/// error that makes the instance.
pub fn failed(call: &str, why: impl Display) -> Stop {
    let text = format!("setup: {call} failed: {why}");
    say(&text);
    Stop::Error(text)
}

/// [`failed`] for code that must not allocate: a signal handler, or a
/// clone child that shares the caller's memory without libc state of its
/// own. The line is formatted into a stack buffer (cut at 256 bytes) and
/// sent with one write(2); `why` must format without allocating (an
/// `Errno`, a `&str`).
pub fn failed_raw(call: &str, why: impl Display) {
    use std::fmt::Write;
    let mut line = StackLine::default();
    let _ = write!(
        line,
        "{} setup: {call} failed: {why}",
        TAG.load(Ordering::SeqCst)
    );
    line.send(CHANNEL.load(Ordering::SeqCst));
}

/// A line of at most 255 bytes on the stack (the rest is cut), built
/// without allocating and sent with one write(2): for [`failed_raw`], and
/// for notes written from signal handlers.
pub struct StackLine {
    buf: [u8; 256],
    len: usize,
}

impl Default for StackLine {
    fn default() -> Self {
        StackLine {
            buf: [0; 256],
            len: 0,
        }
    }
}

impl std::fmt::Write for StackLine {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

impl StackLine {
    /// `bytes` appended, as far as they fit.
    pub fn push(&mut self, bytes: &[u8]) {
        // One byte stays free for the newline.
        let n = bytes.len().min(self.buf.len() - 1 - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// The text so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The text and a newline, with one write(2) to `fd` (nothing when
    /// `fd` is negative).
    pub fn send(&mut self, fd: RawFd) {
        if fd < 0 {
            return;
        }
        self.buf[self.len] = b'\n';
        // SAFETY: write(2) from a live stack buffer.
        unsafe { libc::write(fd, self.buf.as_ptr() as *const libc::c_void, self.len + 1) };
    }
}

/// Whether `call` is the step a test asked to fail.
fn injected(call: &str) -> bool {
    INJECTED.lock().ok().is_some_and(|i| names(&i, call))
}

/// [`injected`] without waiting for the lock (taken, the answer is no)
/// or copying the name, for [`or_exit_raw`].
fn injected_raw(call: &str) -> bool {
    INJECTED.try_lock().ok().is_some_and(|i| names(&i, call))
}

fn names(injected: &Option<String>, call: &str) -> bool {
    injected.as_deref().is_some_and(|want| call.contains(want))
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

/// [`or_exit`] for code that must not allocate (see [`failed_raw`]).
pub fn or_exit_raw<T, E: Display>(call: &str, result: Result<T, E>) -> T {
    let why = if injected_raw(call) {
        Err("injected (KCONFORM_FAIL_SETUP)")
    } else {
        Ok(())
    };
    match (why, result) {
        (Ok(()), Ok(v)) => return v,
        (Err(why), _) => failed_raw(call, why),
        (Ok(()), Err(e)) => failed_raw(call, e),
    }
    // SAFETY: leave the subject without running destructors (or touching
    // memory it may share with its parent).
    unsafe { libc::_exit(SUBJECT_EXIT) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The channel is one per process: tests that set it take turns.
    static CHANNEL_USERS: Mutex<()> = Mutex::new(());

    #[test]
    fn a_failed_step_is_named_and_reaches_the_channel() {
        let _turn = CHANNEL_USERS.lock().unwrap_or_else(|e| e.into_inner());
        let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_NONBLOCK).unwrap();
        begin_instance(&tx, 7, Some("mmap".into()));
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
        let first = |rx: &OwnedFd| {
            said(rx).into_iter().find_map(|(tag, said)| match said {
                Said::Failed(text) => Some((tag, text)),
                Said::CaseDone => None,
            })
        };
        assert_eq!(
            first(&rx),
            Some((
                7,
                "setup: prctl(PR_SET_NO_NEW_PRIVS) failed: EINVAL: Invalid argument".into()
            ))
        );
        failed_raw("prctl(PR_SET_NO_NEW_PRIVS)", nix::Error::EPERM);
        assert_eq!(
            first(&rx),
            Some((
                7,
                "setup: prctl(PR_SET_NO_NEW_PRIVS) failed: EPERM: Operation not permitted".into()
            ))
        );
        failed_raw(&"x".repeat(300), "cut");
        let (_, cut) = first(&rx).unwrap();
        assert_eq!(cut.len(), 253);
        assert!(cut.starts_with("setup: xxx"), "{cut}");
        assert!(injected_raw("mmap(MAP_32BIT)") && !injected_raw("pipe2"));
        CHANNEL.store(-1, Ordering::SeqCst);
        *INJECTED.lock().unwrap() = None;
    }

    #[test]
    fn a_case_done_is_told_apart_from_a_failure() {
        let _turn = CHANNEL_USERS.lock().unwrap_or_else(|e| e.into_inner());
        let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_NONBLOCK).unwrap();
        begin_instance(&tx, 3, None);
        case_done();
        let _ = failed("pipe2", "EMFILE");
        case_done();
        assert_eq!(
            said(&rx),
            vec![
                (3, Said::CaseDone),
                (3, Said::Failed("setup: pipe2 failed: EMFILE".into())),
                (3, Said::CaseDone),
            ]
        );
        CHANNEL.store(-1, Ordering::SeqCst);
    }
}
