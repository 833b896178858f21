//! Signal dispositions a subject sets up before the kernel forces a signal
//! on it, and a handler that notes what it was handed.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};

use super::task::{step_or_exit, NoteBuf};
use super::trace::code_name;

/// What the subject has done with a signal before the kernel forces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// SIG_DFL.
    Default,
    /// SIG_IGN.
    Ignored,
    /// A handler that notes the siginfo.
    Handled,
    /// A handler installed, and the signal blocked.
    Blocked,
}

impl Disposition {
    pub const ALL: [Disposition; 4] = [
        Disposition::Default,
        Disposition::Ignored,
        Disposition::Handled,
        Disposition::Blocked,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Disposition::Default => "sig-dfl",
            Disposition::Ignored => "sig-ign",
            Disposition::Handled => "handler",
            Disposition::Blocked => "blocked",
        }
    }

    /// Set it up in the calling process; the handler notes to `notes_fd`.
    pub fn apply(self, sig: Signal, notes_fd: i32) -> nix::Result<()> {
        self.apply_by_steps(sig, notes_fd, |_, result| result)
    }

    /// In a subject: [`apply`](Self::apply); the call that fails
    /// (`sigaction(SIGSYS)`, `sigprocmask(SIG_BLOCK, SIGSYS)`) is reported
    /// and the subject gives up (see [`kconform_core::setup`]).
    pub fn apply_or_exit(self, sig: Signal, notes_fd: i32) {
        let _ = self.apply_by_steps(sig, notes_fd, step_or_exit);
    }

    /// The calls of [`apply`](Self::apply), each handed to `step` with its name.
    fn apply_by_steps(
        self,
        sig: Signal,
        notes_fd: i32,
        step: impl Fn(&str, nix::Result<()>) -> nix::Result<()>,
    ) -> nix::Result<()> {
        let handler = match self {
            Disposition::Default => SigHandler::SigDfl,
            Disposition::Ignored => SigHandler::SigIgn,
            Disposition::Handled | Disposition::Blocked => {
                NOTES_FD.store(notes_fd, Ordering::SeqCst);
                SigHandler::SigAction(noting_handler)
            }
        };
        let act = SigAction::new(handler, SaFlags::SA_SIGINFO, SigSet::empty());
        // SAFETY: the handler only formats into a stack buffer and write(2)s.
        let installed = unsafe { sigaction(sig, &act) }.map(drop);
        step(&format!("sigaction({})", sig.as_str()), installed)?;
        if self == Disposition::Blocked {
            let mut set = SigSet::empty();
            set.add(sig);
            let blocked = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
            step(
                &format!("sigprocmask(SIG_BLOCK, {})", sig.as_str()),
                blocked,
            )?;
        }
        Ok(())
    }
}

static NOTES_FD: AtomicI32 = AtomicI32::new(-1);

/// Exit status of a subject whose SIGSEGV handler ran (returning from it
/// would only fault again).
pub const SEGV_HANDLER_EXIT: i32 = 42;

extern "C" fn noting_handler(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    _ctx: *mut libc::c_void,
) {
    let mut note = NoteBuf::default();
    note.str("handler ")
        .str(Signal::try_from(sig).map(|s| s.as_str()).unwrap_or("?"));
    if !info.is_null() {
        // SAFETY: the kernel hands a valid siginfo to SA_SIGINFO handlers;
        // read it as raw bytes (the _sigsys fields have no libc accessor).
        let raw = unsafe { &*(info as *const [u8; 128]) };
        let si = super::trace::SigInfo::decode(raw);
        note.str(" code=");
        let name = code_name(si.signo, si.code);
        note.str(&name);
        if sig == libc::SIGSYS && si.code == 1 {
            note.str(" errno=")
                .hex(si.errno as u64)
                .str(" syscall=")
                .num(si.syscall as i64);
        }
    }
    note.send(NOTES_FD.load(Ordering::SeqCst));
    if sig == libc::SIGSEGV {
        // SAFETY: leaving the faulting context for good.
        unsafe { libc::_exit(SEGV_HANDLER_EXIT) };
    }
}

/// The handler currently installed for `sig`: `SIG_DFL`, `SIG_IGN` or
/// `handler`, read without changing it; the errno if even reading is
/// refused (the kernel refuses SA_IMMUTABLE actions with EINVAL).
pub fn handler_name(sig: Signal) -> String {
    // SAFETY: sigaction with a null new action only reads.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sigaction(sig as i32, std::ptr::null(), &mut old) };
    if rc != 0 {
        return super::trace::errno_name(nix::errno::Errno::last());
    }
    match old.sa_sigaction {
        libc::SIG_DFL => "SIG_DFL".into(),
        libc::SIG_IGN => "SIG_IGN".into(),
        _ => "handler".into(),
    }
}

/// Try to install the noting handler for `sig`: `ok` or the errno
/// (EINVAL when the kernel made the action immutable).
pub fn try_install_handler(sig: Signal, notes_fd: i32) -> String {
    NOTES_FD.store(notes_fd, Ordering::SeqCst);
    let act = SigAction::new(
        SigHandler::SigAction(noting_handler),
        SaFlags::SA_SIGINFO,
        SigSet::empty(),
    );
    // SAFETY: see Disposition::apply.
    super::trace::result_name(&unsafe { sigaction(sig, &act) })
}

pub fn is_blocked(sig: Signal) -> bool {
    let mut cur = SigSet::empty();
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, None, Some(&mut cur));
    cur.contains(sig)
}
