//! Processes a scenario creates, how they synchronise with it, and how
//! what happened to them is written down.

use std::fmt::{self, Write as _};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::ptrace::Event;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, pipe2, ForkResult, Pid};

use kconform_core::{setup, Stop};

/// Fork a subject process that runs `body` and exits with its return
/// value. The subject dies with its parent, and a panic in it exits 101.
pub fn spawn(body: impl FnOnce() -> i32) -> Result<Pid, Stop> {
    // SAFETY: the child runs `body` and _exit()s without returning.
    match unsafe { fork() }.map_err(|e| Stop::error(format!("fork: {e}")))? {
        ForkResult::Child => {
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            let code = catch_unwind(AssertUnwindSafe(body)).unwrap_or(101);
            // SAFETY: leave without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Ok(child),
    }
}

/// vfork(): a child that shares the caller's memory and runs `body`
/// while the caller is suspended, until the child execs or exits
/// (clone(CLONE_VM | CLONE_VFORK, SIGCHLD), as posix_spawn does). The
/// child _exit()s with `body`'s return value (101 on a panic).
pub fn vfork(body: impl FnOnce() -> i32) -> Result<Pid, Stop> {
    let mut stack = vec![0u8; 256 * 1024];
    let mut body = Some(body);
    let cb: nix::sched::CloneCb = Box::new(move || {
        let code = body
            .take()
            .map_or(101, |b| catch_unwind(AssertUnwindSafe(b)).unwrap_or(101));
        // SAFETY: leave without returning into the caller's frames, which
        // share this memory.
        unsafe { libc::_exit(code) }
    });
    // SAFETY: the child runs on its own stack, which outlives it (the
    // caller is suspended until the child execs or exits), and _exit()s.
    unsafe {
        nix::sched::clone(
            cb,
            &mut stack,
            nix::sched::CloneFlags::CLONE_VM | nix::sched::CloneFlags::CLONE_VFORK,
            Some(libc::SIGCHLD),
        )
    }
    .map_err(|e| Stop::error(format!("vfork: {e}")))
}

/// In a subject: a setup step failed for `why`; report it (see
/// [`kconform_core::setup`]) and leave, so the instance is an error
/// naming the step instead of an observation of a subject that gave up.
pub fn give_up(call: &str, why: impl fmt::Display) -> ! {
    setup::failed(call, why);
    // SAFETY: leave the forked subject without running the parent's
    // destructors.
    unsafe { libc::_exit(setup::SUBJECT_EXIT) }
}

/// In a subject: go on if `ok`, else [`give_up`] on `call` with `why`
/// (and give up when a test injects a failure of `call`).
pub fn require(call: &str, ok: bool, why: impl fmt::Display) {
    setup::or_exit(call, if ok { Ok(()) } else { Err(why) })
}

/// A step of a kit helper that makes several setup calls in a subject
/// (`creds::drop_or_exit`, `Disposition::apply_or_exit`): `Ok` to go on,
/// or the call reported and the subject gone.
pub fn step_or_exit<E: fmt::Display>(call: &str, result: Result<(), E>) -> Result<(), E> {
    setup::or_exit(call, result);
    Ok(())
}

/// In a subject: [`setup::or_exit`] for the kit's own calls (spawn,
/// vfork, wait, [`Gate::new`], a tracee), which answer with a [`Stop`].
pub fn or_exit_stop<T>(call: &str, result: Result<T, Stop>) -> T {
    setup::or_exit(
        call,
        result.map_err(|stop| match stop {
            Stop::Error(why) | Stop::Skip { reason: why, .. } => why,
        }),
    )
}

/// Wait for any state change of `pid` (threads and clones included).
pub fn wait(pid: Pid) -> Result<WaitStatus, Stop> {
    loop {
        match waitpid(pid, Some(WaitPidFlag::__WALL)) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Stop::error(format!("waitpid({pid}): {e}"))),
            Ok(s) => return Ok(s),
        }
    }
}

/// Wait until `pid` has exited, passing over any stops, and describe how.
/// Use only on untraced subjects (a traced one needs its stops answered).
pub fn wait_exit(pid: Pid) -> Result<String, Stop> {
    loop {
        let s = wait(pid)?;
        if is_final(&s) {
            return Ok(describe(&s));
        }
    }
}

pub fn is_final(s: &WaitStatus) -> bool {
    matches!(s, WaitStatus::Exited(..) | WaitStatus::Signaled(..))
}

/// A wait status as observation text: `exit 7`, `killed SIGSYS`,
/// `killed SIGSYS core`, `stop SIGSYS`, `event EXIT`, `syscall-stop`.
pub fn describe(s: &WaitStatus) -> String {
    match s {
        WaitStatus::Exited(_, code) => format!("exit {code}"),
        WaitStatus::Signaled(_, sig, core) => {
            format!(
                "killed {}{}",
                sig.as_str(),
                if *core { " core" } else { "" }
            )
        }
        WaitStatus::Stopped(_, sig) => format!("stop {}", sig.as_str()),
        WaitStatus::PtraceEvent(_, sig, ev) => match event_name(*ev) {
            "STOP" => format!("event STOP {}", sig.as_str()),
            name => format!("event {name}"),
        },
        WaitStatus::PtraceSyscall(_) => "syscall-stop".into(),
        WaitStatus::Continued(_) => "continued".into(),
        WaitStatus::StillAlive => "alive".into(),
    }
}

pub fn event_name(ev: i32) -> &'static str {
    const STOP: i32 = 128; // PTRACE_EVENT_STOP
    match ev {
        x if x == Event::PTRACE_EVENT_FORK as i32 => "FORK",
        x if x == Event::PTRACE_EVENT_VFORK as i32 => "VFORK",
        x if x == Event::PTRACE_EVENT_CLONE as i32 => "CLONE",
        x if x == Event::PTRACE_EVENT_EXEC as i32 => "EXEC",
        x if x == Event::PTRACE_EVENT_VFORK_DONE as i32 => "VFORK_DONE",
        x if x == Event::PTRACE_EVENT_EXIT as i32 => "EXIT",
        x if x == Event::PTRACE_EVENT_SECCOMP as i32 => "SECCOMP",
        STOP => "STOP",
        _ => "UNKNOWN",
    }
}

/// A one-shot "go" from the scenario to a subject blocked on it.
pub struct Gate {
    rx: OwnedFd,
    tx: OwnedFd,
}

impl Gate {
    pub fn new() -> Result<Self, Stop> {
        let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
        Ok(Gate { rx, tx })
    }

    /// In the subject: block until the scenario opens the gate.
    pub fn wait(&self) {
        let mut b = [0u8; 1];
        loop {
            match nix::unistd::read(self.rx.as_fd(), &mut b) {
                Err(nix::Error::EINTR) => continue,
                _ => return,
            }
        }
    }

    /// In the scenario: let the subject go on.
    pub fn open(&self) {
        let _ = nix::unistd::write(&self.tx, b"g");
    }
}

/// Short notes a subject leaves for the scenario ("after", "handler
/// SIGSYS ..."): the observable side effects of running code. Writing
/// is async-signal-safe, so signal handlers can leave notes too; the
/// scenario reads them once the subject is gone.
pub struct Notes {
    rx: OwnedFd,
    tx: OwnedFd,
}

impl Notes {
    pub fn new() -> Result<Self, Stop> {
        let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
        fcntl(&rx, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        Ok(Notes { rx, tx })
    }

    /// The write end, for code that must note without a `&Notes` (signal
    /// handlers, other threads): see [`note_to`].
    pub fn raw_tx(&self) -> RawFd {
        self.tx.as_raw_fd()
    }

    pub fn say(&self, note: &str) {
        note_to(self.raw_tx(), note.as_bytes());
    }

    /// Every note written so far, in order.
    pub fn take(&self) -> Vec<String> {
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = nix::unistd::read(self.rx.as_fd(), &mut chunk) {
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The notes joined as observation text, or `none`.
    pub fn summary(&self) -> String {
        let notes = self.take();
        if notes.is_empty() {
            "none".into()
        } else {
            notes.join(",")
        }
    }
}

/// Write one note line with a single write(2): async-signal-safe.
pub fn note_to(fd: RawFd, note: &[u8]) {
    let mut line = setup::StackLine::default();
    line.push(note);
    line.send(fd);
}

/// A note built without allocating (for signal handlers), sent with one
/// write(2).
#[derive(Default)]
pub struct NoteBuf(setup::StackLine);

impl NoteBuf {
    pub fn str(&mut self, s: &str) -> &mut Self {
        let _ = self.0.write_str(s);
        self
    }

    pub fn num(&mut self, v: i64) -> &mut Self {
        let _ = write!(self.0, "{v}");
        self
    }

    pub fn hex(&mut self, v: u64) -> &mut Self {
        let _ = write!(self.0, "{v:#x}");
        self
    }

    pub fn send(&mut self, fd: RawFd) {
        self.0.send(fd);
    }
}

impl fmt::Display for NoteBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.0.bytes()))
    }
}

/// The signal behind a raw number, as text (`SIGSYS`, or `sig65`).
pub fn signame(sig: i32) -> String {
    Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("sig{sig}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notebuf_formats_without_allocating() {
        let mut b = NoteBuf::default();
        b.str("ret=")
            .num(-38)
            .str(" data=")
            .hex(0x42)
            .str(" zero=")
            .hex(0);
        assert_eq!(b.to_string(), "ret=-38 data=0x42 zero=0x0");
    }

    #[test]
    fn notes_cross_a_fork() {
        let notes = Notes::new().unwrap();
        let pid = spawn(|| {
            notes.say("after");
            notes.say("second");
            3
        })
        .unwrap();
        assert_eq!(wait_exit(pid).unwrap(), "exit 3");
        assert_eq!(notes.summary(), "after,second");
        assert_eq!(notes.summary(), "none");
    }

    #[test]
    fn describes_wait_statuses() {
        let pid = Pid::from_raw(1);
        assert_eq!(
            describe(&WaitStatus::Signaled(pid, Signal::SIGSYS, true)),
            "killed SIGSYS core"
        );
        assert_eq!(
            describe(&WaitStatus::Stopped(pid, Signal::SIGTRAP)),
            "stop SIGTRAP"
        );
        assert_eq!(
            describe(&WaitStatus::PtraceEvent(
                pid,
                Signal::SIGTRAP,
                Event::PTRACE_EVENT_EXIT as i32
            )),
            "event EXIT"
        );
    }
}
