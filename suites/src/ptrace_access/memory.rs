//! Reaching into a tracee's or another process's memory after the
//! access that would open it: PTRACE_PEEKDATA by an established tracer,
//! and process_madvise().
//!
//! PTRACE_PEEKDATA/PEEKTEXT go through ptrace_access_vm() (kernel/ptrace.c):
//! the caller must be the tracee's tracer, and the tracee's mm dumpable
//! (SUID_DUMP_USER) or the credentials the trace was set up with
//! (ptracer_cred) capable over mm->user_ns; otherwise the read fails with
//! EIO. So a trace established while the tracee was readable does not keep
//! reading it once it turned non-dumpable (PR_SET_DUMPABLE 0, or an exec of
//! a program it may not read), since 84d77d3f06e7 ("ptrace: Don't allow
//! accessing an undumpable mm", v4.10).
//!
//! process_madvise() (mm/madvise.c) asks mm_access() for
//! PTRACE_MODE_READ_FSCREDS and then CAP_SYS_NICE, whoever the target is
//! (96cfe2c0fd23, "mm/madvise: replace ptrace attach requirement for
//! process_madvise", v5.12): hints that move another process's pages
//! around are a scheduling privilege.

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::{kill, raise, Signal};
use nix::sys::wait::WaitStatus;

use kconform_core::{setup, Ctx, Needs, Observation, Outcome, Param, Scenario, Stop};

use super::{mark_address, set_mark, what_was_read, AREA};
use crate::kit::access::{
    self, as_uid, exec_probe, set_dumpable, suid_dumpable_resets, ProbeCopy, Target, Then,
    SUID_DUMPABLE, SUID_DUMPABLE_RESETS, YAMA_ADMITS_UNPRIVILEGED, YAMA_SCOPE,
};
use crate::kit::creds::NOBODY;
use crate::kit::task;
use crate::kit::trace::{errno_name, result_name};

// ---------------------------------------------------------------------------
// PTRACE_PEEKDATA by an established tracer

/// What the tracee does after PTRACE_TRACEME, before it stops for its
/// tracer to read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Before {
    /// Nothing: it stays dumpable (the control).
    Dumpable,
    /// PR_SET_DUMPABLE 0.
    Prctl0,
    /// Exec of a program it may run but not read (mode 0711): the tracer
    /// reads the new image at its entry stop.
    ExecuteOnlyExec,
}

impl Before {
    pub const ALL: [Before; 3] = [Before::Dumpable, Before::Prctl0, Before::ExecuteOnlyExec];
}

impl Param for Before {
    fn slug(&self) -> String {
        match self {
            Before::Dumpable => "tracee-dumpable",
            Before::Prctl0 => "tracee-prctl-0",
            Before::ExecuteOnlyExec => "tracee-execute-only-exec",
        }
        .into()
    }
}

/// An unprivileged parent traces its child (PTRACE_TRACEME, asked as
/// NOBODY) and reads its memory with PTRACE_PEEKDATA at the child's next
/// stop: the mark a dumpable child set, EIO once the child made itself
/// non-dumpable or exec'd a program its tracer may not read.
pub const PEEKDATA: Scenario<Before> = Scenario {
    base: "ptrace-access/peekdata",
    area: AREA,
    summary: "an established unprivileged tracer cannot PEEKDATA a tracee that turned non-dumpable",
    needs: |b| {
        let needs = match b {
            Before::ExecuteOnlyExec => Needs::root().sysctl(SUID_DUMPABLE, SUID_DUMPABLE_RESETS),
            _ => Needs::any(),
        };
        needs.sysctl(YAMA_SCOPE, YAMA_ADMITS_UNPRIVILEGED)
    },
    run: peekdata,
};

fn peekdata(before: &Before, ctx: &Ctx) -> Outcome {
    // Yama's scope 2 refuses an unprivileged parent's PTRACE_TRACEME.
    access::yama_lets_unprivileged_in()?;
    let copy = match before {
        Before::ExecuteOnlyExec => {
            suid_dumpable_resets()?;
            Some(ProbeCopy::execute_only(ctx)?)
        }
        _ => None,
    };
    let before = *before;
    as_uid(NOBODY, || {
        let exe = copy.as_ref().map(|c| c.exe.clone());
        let tracee = task::spawn(|| {
            setup::or_exit("PTRACE_TRACEME", ptrace::traceme());
            set_mark();
            match (before, &exe) {
                (Before::ExecuteOnlyExec, Some(exe)) => exec_probe(exe, "state"),
                _ => {
                    if before == Before::Prctl0 {
                        setup::or_exit("prctl(PR_SET_DUMPABLE, 0)", set_dumpable(0));
                    }
                    setup::or_exit("raise(SIGSTOP)", raise(Signal::SIGSTOP));
                    0
                }
            }
        })?;
        let seen = match task::wait(tracee)? {
            // The stop the tracee raised, or the exec's SIGTRAP.
            WaitStatus::Stopped(pid, Signal::SIGSTOP) => {
                let peek = ptrace::read(pid, mark_address() as ptrace::AddressType);
                match peek {
                    Ok(word) => format!("peek=ok {}", what_was_read(word.to_ne_bytes())),
                    Err(e) => format!("peek={}", errno_name(e)),
                }
            }
            WaitStatus::Stopped(pid, Signal::SIGTRAP) => {
                let peek = ptrace::getregs(pid)
                    .and_then(|regs| ptrace::read(pid, regs.rip as ptrace::AddressType));
                format!("peek={}", result_name(&peek))
            }
            other => {
                let _ = kill(tracee, Signal::SIGKILL);
                let _ = task::wait_exit(tracee);
                return Err(Stop::error(format!(
                    "the tracee did not stop for its tracer: {}",
                    task::describe(&other)
                )));
            }
        };
        let _ = kill(tracee, Signal::SIGKILL);
        let _ = task::wait_exit(tracee);
        Ok(Observation::new(seen))
    })
}

// ---------------------------------------------------------------------------
// process_madvise()

/// Who hints at the target's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adviser {
    /// NOBODY, at its own dumpable child.
    UnprivilegedOwnChild,
    /// Root (CAP_SYS_NICE), at its child.
    Root,
}

impl Adviser {
    pub const ALL: [Adviser; 2] = [Adviser::UnprivilegedOwnChild, Adviser::Root];
}

impl Param for Adviser {
    fn slug(&self) -> String {
        match self {
            Adviser::UnprivilegedOwnChild => "unprivileged-own-child",
            Adviser::Root => "root",
        }
        .into()
    }
}

/// process_madvise(MADV_COLD) of a page of another process needs
/// CAP_SYS_NICE besides PTRACE_MODE_READ access: NOBODY is refused (EPERM)
/// even for its own dumpable child, which it could ptrace; root hints.
pub const PROCESS_MADVISE: Scenario<Adviser> = Scenario {
    base: "ptrace-access/process-madvise/needs-cap-sys-nice",
    area: AREA,
    summary: "process_madvise() of another process needs CAP_SYS_NICE, not only ptrace access",
    needs: |a| match a {
        Adviser::UnprivilegedOwnChild => Needs::any(),
        Adviser::Root => Needs::root(),
    },
    run: process_madvise,
};

fn process_madvise(adviser: &Adviser, _: &Ctx) -> Outcome {
    let uid = match adviser {
        Adviser::UnprivilegedOwnChild => NOBODY,
        Adviser::Root => 0,
    };
    as_uid(uid, || {
        let target = Target::spawn(|| {
            set_mark();
            Ok(Then::Park(String::new()))
        })?;
        let pidfd = pidfd_open(target.pid).map_err(|e| match e {
            Errno::ENOSYS => Stop::lacks("pidfd_open: ENOSYS (before 5.3)"),
            e => Stop::error(format!("pidfd_open: {e}")),
        })?;
        // The page of the target's mark, which it has touched.
        let page = mark_address() & !4095;
        let iov = libc::iovec {
            iov_base: page as *mut libc::c_void,
            iov_len: 4096,
        };
        // SAFETY: process_madvise(2) reads one iovec from a live local.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_process_madvise,
                pidfd.0,
                &iov as *const libc::iovec,
                1usize,
                libc::MADV_COLD,
                0u32,
            )
        };
        let seen = match Errno::result(rc) {
            Ok(4096) => "process-madvise=ok".to_string(),
            Ok(n) => format!("process-madvise=short({n})"),
            Err(Errno::ENOSYS) => return Err(Stop::lacks("process_madvise: ENOSYS (before 5.10)")),
            Err(e) => format!("process-madvise={}", errno_name(e)),
        };
        Ok(Observation::new(seen))
    })
}

/// A pidfd, closed on drop.
pub(super) struct PidFd(pub i32);

impl Drop for PidFd {
    fn drop(&mut self) {
        // SAFETY: closing a descriptor this value owns.
        unsafe { libc::close(self.0) };
    }
}

/// pidfd_open(2).
pub(super) fn pidfd_open(pid: nix::unistd::Pid) -> Result<PidFd, Errno> {
    // SAFETY: pidfd_open(2) with integer arguments.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    Errno::result(rc).map(|fd| PidFd(fd as i32))
}
