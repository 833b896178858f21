//! The /proc/PID files that disclose what only a privileged or permitted
//! reader may see, and the credentials the check is made with.
//!
//! - /proc/PID/stack runs the kernel's unwinder on the task: only a reader
//!   that opened it with CAP_SYS_ADMIN in the initial namespace gets the
//!   trace, EACCES from read() otherwise, even for its own stack
//!   (f8a00cef1720, "proc: restrict kernel stack dumps to root", v4.19,
//!   CVE-2018-17972).
//! - /proc/PID/pagemap shows physical frame numbers only to a reader that
//!   opened it with CAP_SYS_ADMIN; others read the entry with the PFN bits
//!   zero (ab676b7d6fbf, v4.0, CVE-2016-0823, then PFNs hidden rather than
//!   the file refused, v4.2).
//! - /proc/PID/cmdline and environ read the target's argument and
//!   environment strings only from anonymous memory (FOLL_ANON): an area a
//!   file is mapped over reads as nothing, so a reader never blocks on, or
//!   reads, a file the target chose (7f7ccc2ccc2e, v4.17, CVE-2018-1120).
//! - /proc/PID/fdinfo (and its files) need PTRACE_MODE_READ_FSCREDS on top
//!   of their mode 0555, checked in the inode's permission operation, so
//!   every path-based call (open, inotify_add_watch()) is refused alike
//!   (7bc3fa0172a4 made them 0555 in v5.14, with the check on the files'
//!   open only; 1927e498aee1, v5.18, added it to the directory's open;
//!   0a960ba49869, v6.10, moved both into .permission).
//! - A proc instance mounted with hidepid=1 refuses /proc/PID to a caller
//!   without PTRACE_MODE_READ_FSCREDS access; access(2) checks with the
//!   caller's real ids and, for a non-root real uid, no capabilities
//!   (override credentials), and the ptrace check must use them, not the
//!   task's own credentials (6b3ad6649a4c, "ptrace: reintroduce usage of
//!   subjective credentials in ptrace_has_cap()", v5.5).

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::Mode;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

use kconform_core::{setup, Ctx, Needs, Observation, Outcome, Param, Scenario, Stop};

use super::{parked_as, AREA};
use crate::kit::access::{self, as_uid, temp_dir, Target, Then};
use crate::kit::creds::{NOBODY, OTHER};
use crate::kit::task;
use crate::kit::trace::errno_name;

/// Read a whole file as bytes: `Ok(bytes)` or the errno of open or read.
fn read_bytes(path: &str) -> Result<Vec<u8>, Errno> {
    std::fs::read(path).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

// ---------------------------------------------------------------------------
// /proc/PID/stack

/// Whose kernel stack is read, by whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackOf {
    /// NOBODY reads its own /proc/self/stack.
    UnprivilegedSelf,
    /// Root reads its parked child's.
    RootChild,
}

impl StackOf {
    pub const ALL: [StackOf; 2] = [StackOf::UnprivilegedSelf, StackOf::RootChild];
}

impl Param for StackOf {
    fn slug(&self) -> String {
        match self {
            StackOf::UnprivilegedSelf => "unprivileged-self",
            StackOf::RootChild => "root-child",
        }
        .into()
    }
}

/// /proc/PID/stack is for CAP_SYS_ADMIN only: an unprivileged reader's
/// read() fails with EACCES, its own stack included; root reads a trace.
pub const PROC_STACK: Scenario<StackOf> = Scenario {
    base: "ptrace-access/proc-stack/needs-cap-sys-admin",
    area: AREA,
    summary: "/proc/PID/stack is read only with CAP_SYS_ADMIN, one's own included",
    needs: |s| {
        match s {
            StackOf::UnprivilegedSelf => Needs::any(),
            StackOf::RootChild => Needs::root(),
        }
        .config("CONFIG_STACKTRACE")
    },
    run: proc_stack,
};

fn proc_stack(of: &StackOf, _: &Ctx) -> Outcome {
    let read = |path: &str| match read_bytes(path) {
        Ok(b) if b.is_empty() => "read=empty".to_string(),
        Ok(_) => "read=trace".to_string(),
        Err(e) => format!("read={}", errno_name(e)),
    };
    match of {
        StackOf::UnprivilegedSelf => {
            as_uid(NOBODY, || Ok(Observation::new(read("/proc/self/stack"))))
        }
        StackOf::RootChild => {
            let target = Target::spawn(|| Ok(Then::Park(String::new())))?;
            // Only a task off the CPU has its stack walked (x86's unwinder
            // gives up on one running on another CPU: an empty read). The
            // target asleep per /proc may still be switching out, so an
            // empty read is retried while it stays asleep, for up to 2 s
            // (an overcommitted host can keep the target's vCPU off the
            // host's CPUs for a while in mid-switch); a kernel that reads
            // nothing for a sleeping task still shows read=empty.
            let path = format!("/proc/{}/stack", target.pid);
            let mut seen = String::new();
            for _ in 0..400 {
                target.wait_parked()?;
                seen = read(&path);
                if seen != "read=empty" {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Ok(Observation::new(seen))
        }
    }
}

// ---------------------------------------------------------------------------
// /proc/PID/pagemap

/// Who reads their own pagemap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagemapReader {
    Unprivileged,
    Root,
}

impl PagemapReader {
    pub const ALL: [PagemapReader; 2] = [PagemapReader::Unprivileged, PagemapReader::Root];
}

impl Param for PagemapReader {
    fn slug(&self) -> String {
        match self {
            PagemapReader::Unprivileged => "unprivileged",
            PagemapReader::Root => "root",
        }
        .into()
    }
}

/// The pagemap entry of a page the reader just wrote to: present, with
/// its physical frame number for CAP_SYS_ADMIN only (bits 0-54 zero for
/// anyone else).
pub const PAGEMAP: Scenario<PagemapReader> = Scenario {
    base: "ptrace-access/pagemap/pfn-needs-cap-sys-admin",
    area: AREA,
    summary: "/proc/PID/pagemap shows page frame numbers only to CAP_SYS_ADMIN",
    needs: |r| {
        match r {
            PagemapReader::Unprivileged => Needs::any(),
            PagemapReader::Root => Needs::root(),
        }
        .config("CONFIG_PROC_PAGE_MONITOR")
    },
    run: pagemap,
};

fn pagemap(reader: &PagemapReader, _: &Ctx) -> Outcome {
    let uid = match reader {
        PagemapReader::Unprivileged => NOBODY,
        PagemapReader::Root => 0,
    };
    as_uid(uid, || {
        let mut page = vec![0u8; 3 * 4096];
        // A page inside the buffer, touched so it is present.
        let addr = (page.as_ptr() as usize + 4095) & !4095;
        let offset = addr - page.as_ptr() as usize;
        page[offset] = 1;
        // 4.0 and 4.1 refused the open to all but CAP_SYS_ADMIN.
        let fd = match open(
            "/proc/self/pagemap",
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) => return Ok(Observation::new(format!("open={}", errno_name(e)))),
        };
        let mut entry = [0u8; 8];
        let n = nix::sys::uio::pread(&fd, &mut entry, ((addr / 4096) * 8) as i64)
            .map_err(|e| Stop::error(format!("pread(/proc/self/pagemap): {e}")))?;
        std::hint::black_box(&page);
        if n != 8 {
            return Err(Stop::error(format!("pagemap: short read ({n})")));
        }
        let entry = u64::from_ne_bytes(entry);
        let present = entry >> 63;
        let pfn = entry & ((1u64 << 55) - 1);
        Ok(Observation::new(format!(
            "present={present} pfn={}",
            if pfn == 0 { "zero" } else { "nonzero" }
        )))
    })
}

// ---------------------------------------------------------------------------
// /proc/PID/cmdline and environ over a file mapping

/// Which strings the target points at a file mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strings {
    Cmdline,
    Environ,
}

impl Strings {
    pub const ALL: [Strings; 2] = [Strings::Cmdline, Strings::Environ];

    fn name(self) -> &'static str {
        match self {
            Strings::Cmdline => "cmdline",
            Strings::Environ => "environ",
        }
    }
}

impl Param for Strings {
    fn slug(&self) -> String {
        self.name().into()
    }
}

/// What the file mapped over the strings holds (NUL-terminated).
const FILE_TEXT: &[u8] = b"kconform-file-backed\0";

/// A (root) target maps a file and points its argument (or environment)
/// area at it with PR_SET_MM; /proc/PID/cmdline (environ) then reads as
/// nothing: the kernel reads those strings only from anonymous memory.
pub const FILE_BACKED: Scenario<Strings> = Scenario {
    base: "ptrace-access/proc-cmdline/file-backed-not-read",
    area: AREA,
    summary: "/proc/PID/cmdline and environ read nothing from a file-backed mapping",
    needs: |_| Needs::root(),
    run: file_backed,
};

fn file_backed(strings: &Strings, _: &Ctx) -> Outcome {
    let dir = TempDir::new("kconform-strings")?;
    let file = dir.path.join("strings");
    let mut text = FILE_TEXT.to_vec();
    text.resize(4096, 0);
    std::fs::write(&file, &text)?;
    let strings = *strings;
    let target = Target::spawn(|| {
        let f = std::fs::File::open(&file)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        // SAFETY: a fresh shared read-only mapping of one page of a file
        // this process keeps open; nothing else uses the address.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        std::mem::forget(f);
        let start = addr as libc::c_ulong;
        let end = start + FILE_TEXT.len() as libc::c_ulong;
        let (set_start, set_end) = match strings {
            Strings::Cmdline => (libc::PR_SET_MM_ARG_START, libc::PR_SET_MM_ARG_END),
            Strings::Environ => (libc::PR_SET_MM_ENV_START, libc::PR_SET_MM_ENV_END),
        };
        // The start first: the new area lies below the stack, so start
        // <= end holds at each step.
        for (op, value) in [(set_start, start), (set_end, end)] {
            // SAFETY: prctl with integer arguments.
            match Errno::result(unsafe {
                libc::prctl(libc::PR_SET_MM, op as libc::c_ulong, value, 0, 0)
            }) {
                Ok(_) => {}
                // Root without CAP_SYS_RESOURCE (a container's root).
                Err(Errno::EPERM) => return Ok(Then::Park("set-mm=EPERM".into())),
                Err(e) => return Err(e),
            }
        }
        Ok(Then::Park(String::new()))
    })?;
    if target.note == "set-mm=EPERM" {
        return Err(Stop::forbidden(
            "PR_SET_MM refused (EPERM): this root lacks CAP_SYS_RESOURCE",
        ));
    }
    let seen = match read_bytes(&format!("/proc/{}/{}", target.pid, strings.name())) {
        Ok(b) if b.is_empty() => "read=empty".to_string(),
        Ok(b) if b.starts_with(&FILE_TEXT[..FILE_TEXT.len() - 1]) => "read=file".to_string(),
        Ok(b) => format!("read=other({} bytes)", b.len()),
        Err(e) => format!("read={}", errno_name(e)),
    };
    Ok(Observation::new(format!("{}: {seen}", strings.name())))
}

/// A fresh directory under $TMPDIR (or beside the binary), removed on drop.
struct TempDir {
    path: std::path::PathBuf,
}

impl TempDir {
    fn new(prefix: &str) -> Result<TempDir, Stop> {
        let path = temp_dir(prefix, |_| true)
            .ok_or_else(|| Stop::error("no writable directory for a scratch file"))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------
// /proc/PID/fdinfo

/// Whose fdinfo directory NOBODY reaches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdinfoOf {
    /// A dumpable task of another uid.
    OtherUid,
    /// A dumpable task of NOBODY's (the control).
    SameUid,
}

/// How NOBODY reaches for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdinfoCall {
    /// open(O_DIRECTORY), then list it.
    Readdir,
    /// inotify_add_watch() on the directory.
    Inotify,
}

#[derive(Clone, Copy, Debug)]
pub struct FdinfoCase {
    of: FdinfoOf,
    call: FdinfoCall,
}

impl FdinfoCase {
    pub fn all() -> Vec<FdinfoCase> {
        let mut v = Vec::new();
        for of in [FdinfoOf::OtherUid, FdinfoOf::SameUid] {
            for call in [FdinfoCall::Readdir, FdinfoCall::Inotify] {
                v.push(FdinfoCase { of, call });
            }
        }
        v
    }
}

impl Param for FdinfoCase {
    fn slug(&self) -> String {
        let of = match self.of {
            FdinfoOf::OtherUid => "other-uid",
            FdinfoOf::SameUid => "same-uid",
        };
        let call = match self.call {
            FdinfoCall::Readdir => "readdir",
            FdinfoCall::Inotify => "inotify",
        };
        format!("{of}/{call}")
    }
}

/// /proc/PID/fdinfo is refused (EACCES) to a reader without
/// PTRACE_MODE_READ access to the task, whatever the path-based call:
/// opening it to list the fd numbers, or inotify_add_watch() on it.
/// NOBODY's own task's is open to it.
pub const PROC_FDINFO: Scenario<FdinfoCase> = Scenario {
    base: "ptrace-access/proc-fdinfo",
    area: AREA,
    summary: "/proc/PID/fdinfo needs ptrace read access for open and inotify_add_watch alike",
    needs: |c| {
        let needs = Needs::root();
        match c.call {
            FdinfoCall::Inotify => needs.config("CONFIG_INOTIFY_USER"),
            FdinfoCall::Readdir => needs,
        }
    },
    run: proc_fdinfo,
};

fn proc_fdinfo(case: &FdinfoCase, _: &Ctx) -> Outcome {
    let owner = match case.of {
        FdinfoOf::OtherUid => OTHER,
        FdinfoOf::SameUid => NOBODY,
    };
    let target = parked_as(owner, true)?;
    let dir = format!("/proc/{}/fdinfo", target.pid);
    let call = case.call;
    as_uid(NOBODY, || {
        let seen = match call {
            FdinfoCall::Readdir => match std::fs::read_dir(&dir) {
                Ok(entries) => {
                    let n = entries.flatten().count();
                    format!("opendir=ok listed={}", if n > 0 { "fds" } else { "none" })
                }
                Err(e) => format!(
                    "opendir={}",
                    errno_name(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
                ),
            },
            FdinfoCall::Inotify => format!("inotify={}", inotify_watch(&dir)?),
        };
        Ok(Observation::new(seen))
    })
}

/// inotify_add_watch() on `path`: `ok` or the errno.
fn inotify_watch(path: &str) -> Result<String, Stop> {
    // SAFETY: inotify_init1(2) with a flag.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    if fd < 0 {
        return match Errno::last() {
            Errno::ENOSYS => Err(Stop::lacks(
                "inotify_init1: ENOSYS (kernel built without CONFIG_INOTIFY_USER)",
            )),
            e => Err(Stop::error(format!("inotify_init1: {e}"))),
        };
    }
    // SAFETY: the descriptor was just created and is owned here.
    let fd: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
    let c = CString::new(path).unwrap_or_default();
    // SAFETY: inotify_add_watch(2) with a NUL-terminated path.
    let wd = unsafe {
        libc::inotify_add_watch(
            fd.as_raw_fd(),
            c.as_ptr(),
            libc::IN_MODIFY | libc::IN_ATTRIB | libc::IN_CREATE | libc::IN_DELETE,
        )
    };
    Ok(if wd >= 0 {
        "ok".to_string()
    } else {
        errno_name(Errno::last())
    })
}

// ---------------------------------------------------------------------------
// hidepid and the credentials access(2) checks with

/// In a proc instance mounted with hidepid=1 (in a pid and mount
/// namespace of the scenario's own), a task whose real uid is NOBODY and
/// effective uid root (as a setuid-root program runs) opens /proc/PID of a
/// task of another uid (its effective credentials pass), but access(2),
/// which checks with the real ids and, the real uid not being root, no
/// capabilities, is refused (EPERM): the ptrace check weighs the
/// credentials the call runs with, not the task's own.
pub const HIDEPID_ACCESS: Scenario<()> = Scenario {
    base: "ptrace-access/hidepid/access-checks-real-ids",
    area: AREA,
    summary: "access(2) on a hidepid=1 /proc/PID is judged on the real ids, without capabilities",
    needs: |_| Needs::root().config("CONFIG_PID_NS"),
    run: hidepid_access,
};

fn hidepid_access(_: &(), _: &Ctx) -> Outcome {
    let (rx, tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    // A subject in new pid and mount namespaces: the proc instance it
    // mounts (with its hidepid) belongs to its pid namespace alone, on
    // every kernel, and the mount goes with its namespace.
    let outer = task::spawn(|| {
        setup::or_exit(
            "unshare(CLONE_NEWNS | CLONE_NEWPID)",
            unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID),
        );
        // The first child is the namespace's init.
        let init = task::spawn(|| {
            let seen = hidepid_in_namespace().unwrap_or_else(|stop| match stop {
                Stop::Error(why) | Stop::Skip { reason: why, .. } => format!("error: {why}"),
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
    match seen.strip_prefix("error: ") {
        Some(why) => Err(Stop::error(why.to_string())),
        None if seen.is_empty() => Err(Stop::error("the namespace init reported nothing")),
        None => Ok(Observation::new(seen)),
    }
}

/// In the namespace init: mount proc with hidepid=1, park a task of
/// another uid, and let a real-NOBODY, effective-root task reach for it.
fn hidepid_in_namespace() -> Result<String, Stop> {
    setup::step(
        "mount(/, MS_REC | MS_PRIVATE)",
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        ),
    )?;
    let dir = TempDir::new("kconform-proc")?;
    setup::step(
        "mount(proc, hidepid=1)",
        mount(
            Some("proc"),
            dir.path.as_path(),
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("hidepid=1"),
        ),
    )?;
    let unmount = Unmount(&dir.path);
    let target = parked_as(OTHER, true)?;
    let pid_dir = dir.path.join(target.pid.to_string());
    let (rx, tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let checker = task::spawn(|| {
        let (n, root) = (Gid::from_raw(NOBODY), Gid::from_raw(0));
        setup::or_exit("setgroups(0, NULL)", setgroups(&[]));
        setup::or_exit("setresgid(65534, 0, 0)", setresgid(n, root, root));
        let (n, root) = (Uid::from_raw(NOBODY), Uid::from_raw(0));
        setup::or_exit("setresuid(65534, 0, 0)", setresuid(n, root, root));
        let opened = match std::fs::read_dir(&pid_dir) {
            Ok(_) => "ok".to_string(),
            Err(e) => errno_name(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))),
        };
        let accessed = faccessat(&pid_dir, libc::R_OK | libc::X_OK);
        let line = format!("open=ok-as-euid-0:{opened} access={accessed}");
        let _ = nix::unistd::write(&tx, line.as_bytes());
        0
    })?;
    drop(tx);
    let seen = access::read_all(rx);
    task::wait_exit(checker)?;
    drop(target);
    drop(unmount);
    if seen.is_empty() {
        return Err(Stop::error("the checker reported nothing"));
    }
    Ok(seen
        .replace("open=ok-as-euid-0:ok", "open=ok")
        .replace("open=ok-as-euid-0:", "open="))
}

/// faccessat(AT_FDCWD, path, mode, 0): `ok` or the errno.
fn faccessat(path: &Path, mode: i32) -> String {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap_or_default();
    // SAFETY: faccessat(2) with a NUL-terminated path.
    let rc = unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), mode, 0) };
    if rc == 0 {
        "ok".to_string()
    } else {
        errno_name(Errno::last())
    }
}

/// Unmount on drop (lazily: a parked task may still hold it).
struct Unmount<'a>(&'a Path);

impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}
