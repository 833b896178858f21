//! Non-dumpability keeps protecting a process whatever else it does:
//! after it enters a user namespace its own uid owns, and after its
//! memory is gone (an exiting task, a zombie).
//!
//! CAP_SYS_PTRACE overrides non-dumpability only in the user namespace
//! that owned the memory image when it was exec'd (mm->user_ns, moved up
//! at exec to a namespace where the program's owner is mapped), not in the
//! task's current one: bfedb589252c ("mm: Add a user_ns owner to mm_struct
//! and fix ptrace permission checks", v4.10, CVE-2015-8709). Before it,
//! __ptrace_may_access() asked for the capability in the task's credential
//! namespace, so a process that exec'd a program it may not read and then
//! sat in a user namespace its uid created was open to that uid, which has
//! every capability there.
//!
//! Once a task has no mm (exit_mm() ran: an exiting task, a zombie), its
//! dumpability is the one cached at exit_mm() (task->user_dumpable), and
//! without it the caller needs CAP_SYS_PTRACE in the initial namespace:
//! 31e62c2ebbfd ("ptrace: slightly saner 'get_dumpable()' logic", 2026,
//! CVE-2026-46333). Before it __ptrace_may_access() checked dumpability
//! only `if (task->mm)`, so every ptrace-mode check of a same-uid task
//! that had dropped its mm passed: PTRACE_MODE_READ_FSCREDS for the fields
//! of /proc/PID/stat only a permitted reader sees (the exit code), and
//! PTRACE_MODE_ATTACH_REALCREDS for pidfd_getfd().

use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitid, Id, WaitPidFlag};

use kconform_core::{Ctx, Needs, Observation, Outcome, Param, Scenario, Stop};

use super::memory::pidfd_open;
use super::{attach, AREA};
use crate::kit::access::{
    self, allow_any_tracer, as_uid, set_dumpable, suid_dumpable_resets, ProbeCopy, Target, Then,
    SUID_DUMPABLE, SUID_DUMPABLE_RESETS, YAMA_ADMITS_UNPRIVILEGED, YAMA_SCOPE,
};
use crate::kit::creds::NOBODY;
use crate::kit::procfs::stat_fields;
use crate::kit::task;
use crate::kit::trace::errno_name;
use crate::probe::pick;

/// Debian's switch for unprivileged user namespaces (absent upstream).
const UNPRIVILEGED_USERNS: &str = "kernel/unprivileged_userns_clone";

// ---------------------------------------------------------------------------
// A user namespace of one's own

/// NOBODY unshares a user namespace (its uid owns it, with every
/// capability in it) and execs a program it may run but not read: the
/// image is non-dumpable and belongs to the initial namespace (the
/// program's owner, root, is not mapped in the new one), so NOBODY,
/// outside, still may not attach, though it is capable in the task's
/// namespace.
pub const OWN_USERNS: Scenario<()> = Scenario {
    base: "ptrace-access/own-userns/execute-only-exec",
    area: AREA,
    summary:
        "an unreadable image stays non-dumpable for the uid owning the user namespace it runs in",
    needs: |_| {
        Needs::root()
            .config("CONFIG_USER_NS")
            .sysctl(SUID_DUMPABLE, SUID_DUMPABLE_RESETS)
            .sysctl(YAMA_SCOPE, YAMA_ADMITS_UNPRIVILEGED)
            .sysctl(UNPRIVILEGED_USERNS, &["1"])
    },
    run: own_userns,
};

fn own_userns(_: &(), ctx: &Ctx) -> Outcome {
    access::yama_lets_unprivileged_in()?;
    let suid_dumpable = suid_dumpable_resets()?;
    let copy = ProbeCopy::execute_only(ctx)?;
    as_uid(NOBODY, || {
        let exe = copy.exe.clone();
        let target = Target::spawn(|| {
            allow_any_tracer();
            match unshare(CloneFlags::CLONE_NEWUSER) {
                Ok(()) => Ok(Then::Exec(exe)),
                Err(e) => Ok(Then::Park(format!("unshare={}", errno_name(e)))),
            }
        })?;
        if let Some(why) = target.note.strip_prefix("unshare=") {
            return Err(Stop::forbidden(format!(
                "unprivileged unshare(CLONE_NEWUSER) refused here ({why}): \
                 user namespaces off (user.max_user_namespaces, \
                 kernel.unprivileged_userns_clone)"
            )));
        }
        let dumpable = pick(&target.state, &["dumpable"]).replace(
            &format!("dumpable={suid_dumpable}"),
            "dumpable=suid_dumpable",
        );
        Ok(Observation::new(format!(
            "{dumpable} {}",
            attach(target.pid)
        )))
    })
}

// ---------------------------------------------------------------------------
// After the memory is gone

/// The dumpability a task had when it exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exited {
    /// PR_SET_DUMPABLE 0, then exit.
    NonDumpable,
    /// Dumpable to the end (the control).
    Dumpable,
}

impl Exited {
    pub const ALL: [Exited; 2] = [Exited::NonDumpable, Exited::Dumpable];
}

impl Param for Exited {
    fn slug(&self) -> String {
        match self {
            Exited::NonDumpable => "zombie-non-dumpable",
            Exited::Dumpable => "zombie-dumpable",
        }
        .into()
    }
}

/// Exit status 7, as the kernel keeps it (status << 8) in task->exit_code.
const EXIT_CODE: i32 = 7;

/// NOBODY's child exits (non-dumpable, or dumpable as control) and stays
/// a zombie; NOBODY then reads the exit code field of its /proc/PID/stat
/// (shown only to a PTRACE_MODE_READ_FSCREDS-permitted reader, else 0)
/// and calls pidfd_getfd() on it (PTRACE_MODE_ATTACH_REALCREDS, then the
/// fd: `no-files`, EBADF or ESRCH, as the zombie has none). A
/// non-dumpable zombie refuses both: `stat-exit-code=hidden
/// pidfd-getfd=EPERM`.
pub const AFTER_EXIT: Scenario<Exited> = Scenario {
    base: "ptrace-access/after-exit",
    area: AREA,
    summary:
        "a task that exited non-dumpable stays closed to its uid: /proc/PID/stat, pidfd_getfd()",
    needs: |_| Needs::any().sysctl(YAMA_SCOPE, YAMA_ADMITS_UNPRIVILEGED),
    run: after_exit,
};

fn after_exit(exited: &Exited, _: &Ctx) -> Outcome {
    // pidfd_getfd() is a PTRACE_MODE_ATTACH check, which Yama's scope 2
    // refuses an unprivileged caller.
    access::yama_lets_unprivileged_in()?;
    let dumpable = *exited == Exited::Dumpable;
    as_uid(NOBODY, || {
        let child = task::spawn(|| match set_dumpable(dumpable.into()) {
            Ok(()) => EXIT_CODE,
            Err(_) => 1,
        })?;
        let pidfd = pidfd_open(child);
        // Wait for the exit without reaping: the child stays a zombie.
        let status = waitid(Id::Pid(child), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT);
        let reap = || task::wait_exit(child);
        match status {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) if code == EXIT_CODE => {}
            other => {
                let _ = reap();
                return Err(Stop::error(format!(
                    "the child did not exit {EXIT_CODE} (setup failed?): {other:?}"
                )));
            }
        }
        let pidfd = match pidfd {
            Ok(fd) => fd,
            Err(Errno::ENOSYS) => {
                let _ = reap();
                return Err(Stop::lacks("pidfd_open: ENOSYS (before 5.3)"));
            }
            Err(e) => {
                let _ = reap();
                return Err(Stop::error(format!("pidfd_open: {e}")));
            }
        };
        let code = stat_exit_code(child);
        // SAFETY: pidfd_getfd(2) with integer arguments.
        let rc = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.0, 0, 0) };
        // Past the access check a zombie has no files: EBADF, or ESRCH
        // where the kernel tells an exited task apart (6.x).
        let getfd = match Errno::result(rc) {
            Ok(fd) => {
                // SAFETY: closing the descriptor pidfd_getfd() just gave us.
                unsafe { libc::close(fd as i32) };
                "ok".to_string()
            }
            Err(Errno::ENOSYS) => {
                let _ = reap();
                return Err(Stop::lacks("pidfd_getfd: ENOSYS (before 5.6)"));
            }
            Err(Errno::EBADF | Errno::ESRCH) => "no-files".to_string(),
            Err(e) => errno_name(e),
        };
        drop(pidfd);
        reap()?;
        let code = match code.as_deref() {
            Some("0") => "hidden".to_string(),
            Some(c) if c == (EXIT_CODE << 8).to_string() => "shown".to_string(),
            Some(c) => format!("other({c})"),
            None => "unreadable".to_string(),
        };
        Ok(Observation::new(format!(
            "stat-exit-code={code} pidfd-getfd={getfd}"
        )))
    })
}

/// The last field of /proc/PID/stat (52, exit_code), as text.
fn stat_exit_code(pid: nix::unistd::Pid) -> Option<String> {
    stat_fields(pid)?.pop()
}
