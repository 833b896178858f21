//! A capability used to pass a ptrace access check is a capability used:
//! the task is marked PF_SUPERPRIV, which BSD process accounting reports
//! as ASU ("used superuser privileges") in its record. ptrace_has_cap()
//! (kernel/ptrace.c) asks ns_capable()/ns_capable_noaudit(), which mark
//! it, since cf23705244c9 ("ptrace: Set PF_SUPERPRIV when checking
//! capability", v5.10); from 69f594a38967 ("ptrace: do not audit
//! capability check when outputing /proc/pid/stat") on it had asked
//! has_ns_capability{,_noaudit}() and then security_capable(), which do
//! not, so a root debugger attaching to another user's process left no
//! trace in the accounting.

use std::os::unix::fs::PermissionsExt;

use nix::fcntl::OFlag;
use nix::sched::{unshare, CloneFlags};
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

use kconform_core::{setup, Ctx, Needs, Observation, Outcome, Param, Scenario, Stop};

use super::{parked_as, AREA};
use crate::kit::access::{self, temp_dir, YAMA_ADMITS_ROOT, YAMA_SCOPE};
use crate::kit::creds::OTHER;
use crate::kit::task;

/// Whose process the root tracer attaches to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Traced {
    /// A dumpable task of another uid: only CAP_SYS_PTRACE lets root in.
    OtherUid,
    /// A root task: the uid check passes without a capability (control).
    SameUid,
}

impl Traced {
    pub const ALL: [Traced; 2] = [Traced::OtherUid, Traced::SameUid];
}

impl Param for Traced {
    fn slug(&self) -> String {
        match self {
            Traced::OtherUid => "attach-other-uid",
            Traced::SameUid => "attach-same-uid",
        }
        .into()
    }
}

/// The name the tracer gives itself, to find its accounting record.
const TRACER_COMM: &str = "kconform-acct";
/// ASU in acct.ac_flag: used superuser privileges.
const ASU: u8 = 0x02;

/// A root task attaches (PTRACE_ATTACH, then detaches) and exits; its
/// accounting record carries ASU when the attach needed CAP_SYS_PTRACE
/// (another uid's task), not when it did not (a root task). The target
/// names any tracer for Yama (PR_SET_PTRACER_ANY), so only the ptrace
/// check itself can use the capability. Accounting is switched on in a
/// pid namespace of the scenario's own (acct(2) is per namespace), so
/// the host's accounting is never touched.
pub const ACCOUNTING: Scenario<Traced> = Scenario {
    base: "ptrace-access/accounting/cap-sys-ptrace-sets-asu",
    area: AREA,
    summary:
        "a ptrace attach that needs CAP_SYS_PTRACE marks the tracer ASU in its accounting record",
    needs: |_| {
        Needs::root()
            .config("CONFIG_BSD_PROCESS_ACCT")
            .config("CONFIG_PID_NS")
            .sysctl(YAMA_SCOPE, YAMA_ADMITS_ROOT)
    },
    run: accounting,
};

fn accounting(traced: &Traced, _: &Ctx) -> Outcome {
    access::yama_lets_root_in()?;
    let dir = temp_dir("kconform-acct", |_| true)
        .ok_or_else(|| Stop::error("no writable directory for the accounting file"))?;
    let _cleanup = RemoveDir(dir.clone());
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    let file = dir.join("acct");
    std::fs::write(&file, b"")?;
    let (rx, tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let traced = *traced;
    let outer = task::spawn(|| {
        setup::or_exit("unshare(CLONE_NEWPID)", unshare(CloneFlags::CLONE_NEWPID));
        let init = task::spawn(|| {
            let seen = in_namespace(traced, &file).unwrap_or_else(|stop| match stop {
                Stop::Error(why) => format!("error: {why}"),
                Stop::Skip { reason, .. } => format!("skip: {reason}"),
            });
            let _ = nix::unistd::write(&tx, seen.as_bytes());
            0
        });
        let init = task::or_exit_stop("fork (pid namespace init)", init);
        let _ = task::wait_exit(init);
        0
    })?;
    drop(tx);
    let seen = access::read_all(rx);
    task::wait_exit(outer)?;
    if let Some(why) = seen.strip_prefix("error: ") {
        return Err(Stop::error(why.to_string()));
    }
    if let Some(why) = seen.strip_prefix("skip: ") {
        return Err(Stop::lacks(why.to_string()));
    }
    if seen.is_empty() {
        return Err(Stop::error("the namespace init reported nothing"));
    }
    Ok(Observation::new(seen))
}

/// In the pid namespace's init: accounting on, the attach, accounting
/// off, and the tracer's record read back.
fn in_namespace(traced: Traced, file: &std::path::Path) -> Result<String, Stop> {
    let path = std::ffi::CString::new(file.as_os_str().as_encoded_bytes()).unwrap_or_default();
    // SAFETY: acct(2) with a NUL-terminated path.
    if unsafe { libc::acct(path.as_ptr()) } != 0 {
        return match nix::errno::Errno::last() {
            nix::errno::Errno::ENOSYS => Err(Stop::lacks(
                "acct: ENOSYS (kernel built without CONFIG_BSD_PROCESS_ACCT)",
            )),
            e => Err(setup::failed("acct(file)", e)),
        };
    }
    let owner = match traced {
        Traced::OtherUid => OTHER,
        Traced::SameUid => 0,
    };
    let target = parked_as(owner, true)?;
    let target_pid = target.pid;
    let tracer = task::spawn(|| {
        let name = std::ffi::CString::new(TRACER_COMM).unwrap_or_default();
        // SAFETY: prctl(PR_SET_NAME) with a NUL-terminated name.
        unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) };
        match ptrace::attach(target_pid) {
            Ok(()) => {
                let _ = task::wait(target_pid);
                let _ = ptrace::detach(target_pid, None::<Signal>);
                0
            }
            Err(_) => 3,
        }
    })?;
    let end = task::wait(tracer)?;
    // SAFETY: acct(NULL) switches accounting off.
    unsafe { libc::acct(std::ptr::null()) };
    drop(target);
    if !matches!(end, WaitStatus::Exited(_, 0)) {
        return Err(Stop::error(format!(
            "the tracer could not attach: {}",
            task::describe(&end)
        )));
    }
    let records = std::fs::read(file)?;
    let flags: Vec<u8> = records
        .chunks_exact(64)
        .filter(|r| comm(r) == TRACER_COMM)
        .map(|r| r[0])
        .collect();
    match flags.as_slice() {
        [flag] => Ok(format!("attach=ok asu={}", u8::from(flag & ASU != 0))),
        [] => Err(Stop::error("no accounting record of the tracer")),
        _ => Err(Stop::error("several accounting records of the tracer")),
    }
}

/// ac_comm of a 64-byte accounting record: at 48 in a version 3 record
/// (struct acct_v3), at 36 in a version 1/2 one (struct acct).
fn comm(record: &[u8]) -> String {
    let at = match record[1] & 0x0f {
        3 => 48..64,
        _ => 36..53,
    };
    let bytes = &record[at];
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

struct RemoveDir(std::path::PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_command_name_in_both_record_versions() {
        let mut v3 = [0u8; 64];
        v3[1] = 3;
        v3[48..48 + TRACER_COMM.len()].copy_from_slice(TRACER_COMM.as_bytes());
        assert_eq!(comm(&v3), TRACER_COMM);
        let mut v2 = [0u8; 64];
        v2[1] = 2;
        v2[36..36 + 4].copy_from_slice(b"true");
        assert_eq!(comm(&v2), "true");
    }
}
