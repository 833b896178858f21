//! Ctrl-C and SIGTERM: a request to stop, which every long loop of a run
//! checks, so QEMU is killed, scratch directories are removed, the
//! reports of what finished are written and a running `git bisect` is
//! reset, instead of the process dying wherever the signal caught it.
//! A second signal ends the process at once (QEMU dies with it).

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// The exit status of a process that stopped on request: 128 + SIGINT,
/// as a shell reports it, so `git bisect run` stops rather than taking
/// the step for an answer.
pub const EXIT_STATUS: u8 = 130;

extern "C" fn on_signal(_: libc::c_int) {
    if REQUESTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(EXIT_STATUS as i32) };
    }
}

/// Catch SIGINT and SIGTERM from now on. Without SA_RESTART, a blocking
/// call in the thread that takes the signal returns EINTR at once.
pub fn install() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only touches an atomic and may call _exit.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Ask for a stop, as a signal would.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}
