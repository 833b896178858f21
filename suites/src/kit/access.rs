//! Who may reach whom: a piece of a scenario run as another uid, Yama's
//! ptrace_scope, dumpability, parked targets to reach for, and copies of
//! the probe the kernel execs with other credentials (setuid-root, or
//! execute-only).

use std::ffi::CString;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{pipe2, Pid};

use kconform_core::{setup, Ctx, Outcome, Stop};

use super::creds;
use super::task;

/// Run `f` in a subject that first drops to `uid` (a no-op when not
/// root) and makes itself dumpable again, as a process that uid started
/// would be (the drop made it non-dumpable, and its children with it);
/// its outcome comes back through a pipe, read once it has exited, so a
/// child of it that still holds the pipe cannot hang the scenario.
pub fn as_uid(uid: u32, f: impl FnOnce() -> Outcome) -> Outcome {
    let (rx, tx) = pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
    let pid = task::spawn(|| {
        creds::drop_or_exit(uid);
        setup::or_exit("prctl(PR_SET_DUMPABLE, 1)", set_dumpable(1));
        let bytes = serde_json::to_vec(&f()).unwrap_or_default();
        let mut rest = &bytes[..];
        while let Ok(n @ 1..) = nix::unistd::write(&tx, rest) {
            rest = &rest[n..];
        }
        0
    })?;
    drop(tx);
    let end = task::wait_exit(pid)?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = nix::unistd::read(&rx, &mut chunk) {
        bytes.extend_from_slice(&chunk[..n]);
    }
    serde_json::from_slice::<Outcome>(&bytes).unwrap_or_else(|_| {
        Err(Stop::error(format!(
            "the uid {uid} subject ended with {end} before it reported"
        )))
    })
}

/// The calling process (a scenario's own, which nothing else shares)
/// becomes `uid` for good, and dumpable again, as in [`as_uid`]. A no-op
/// for the uid when not root.
pub fn switch_to(uid: u32) -> Result<(), Stop> {
    creds::drop_to(uid)?;
    set_dumpable(1)?;
    Ok(())
}

/// kernel.yama.ptrace_scope, or None where Yama is not running.
pub fn yama_scope() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// Yama's scope, a sysctl under /proc/sys.
pub const YAMA_SCOPE: &str = "kernel/yama/ptrace_scope";
/// The scopes at which Yama lets an unprivileged tracer reach a target
/// that declared PR_SET_PTRACER_ANY (what [`yama_lets_unprivileged_in`]
/// wants): an instance's need, which a guest sets.
pub const YAMA_ADMITS_UNPRIVILEGED: &[&str] = &["0", "1"];
/// The scopes at which Yama lets CAP_SYS_PTRACE in ([`yama_lets_root_in`]).
pub const YAMA_ADMITS_ROOT: &[&str] = &["0", "1", "2"];
/// The scope at which Yama lets any tracer at any non-descendant.
pub const YAMA_ADMITS_ANY: &[&str] = &["0"];
/// fs.suid_dumpable, a sysctl under /proc/sys.
pub const SUID_DUMPABLE: &str = "fs/suid_dumpable";
/// The values at which credential changes reset dumpability
/// ([`suid_dumpable_resets`]).
pub const SUID_DUMPABLE_RESETS: &[&str] = &["0", "2"];

/// Skip unless Yama lets an unprivileged task reach a non-descendant
/// that declared PR_SET_PTRACER_ANY (scope 0 or 1, or no Yama).
pub fn yama_lets_unprivileged_in() -> Result<(), Stop> {
    match yama_scope() {
        Some(scope) if scope >= 2 => Err(Stop::forbidden(format!(
            "Yama ptrace_scope={scope} refuses unprivileged tracers whatever the target allows; \
             run with kernel.yama.ptrace_scope=0 or 1"
        ))),
        _ => Ok(()),
    }
}

/// Skip where Yama refuses even CAP_SYS_PTRACE (scope 3).
pub fn yama_lets_root_in() -> Result<(), Stop> {
    match yama_scope() {
        Some(scope) if scope >= 3 => Err(Stop::forbidden(format!(
            "Yama ptrace_scope={scope} refuses every tracer, root included"
        ))),
        _ => Ok(()),
    }
}

/// Skip where Yama refuses the caller, as it is, as a tracer of its own
/// children.
pub fn yama_lets_caller_in() -> Result<(), Stop> {
    if creds::is_root() {
        yama_lets_root_in()
    } else {
        yama_lets_unprivileged_in()
    }
}

/// Let any process reach the caller as far as Yama is concerned (a
/// no-op, EINVAL, without Yama).
pub fn allow_any_tracer() {
    // Yama's exception is not shown anywhere the executor could compare.
    kconform_core::reuse::changed_unseen();
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PTRACER, libc::PR_SET_PTRACER_ANY, 0, 0, 0) };
}

/// PR_SET_PTRACER: name the task (with its descendants) Yama lets in.
pub fn set_ptracer(pid: Pid) -> Result<(), Errno> {
    kconform_core::reuse::changed_unseen();
    // SAFETY: prctl with integer arguments.
    Errno::result(unsafe {
        libc::prctl(libc::PR_SET_PTRACER, pid.as_raw() as libc::c_ulong, 0, 0, 0)
    })
    .map(drop)
}

/// PR_SET_DUMPABLE with any value (only 0 and 1 are accepted).
pub fn set_dumpable(value: libc::c_ulong) -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, value, 0, 0, 0) }).map(drop)
}

/// PR_GET_DUMPABLE of the caller.
pub fn dumpable() -> i32 {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }
}

/// fs.suid_dumpable: what a credential change or a setuid exec resets
/// dumpability to.
pub fn suid_dumpable() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/fs/suid_dumpable")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// Skip where fs.suid_dumpable=1: credential changes and setuid execs
/// then leave a task dumpable, so they cannot be told from no change.
pub fn suid_dumpable_resets() -> Result<u32, Stop> {
    match suid_dumpable() {
        Some(1) => Err(Stop::forbidden(
            "fs.suid_dumpable=1 keeps tasks dumpable across credential changes; run with 0 or 2",
        )),
        Some(v) => Ok(v),
        None => Err(Stop::lacks("no /proc/sys/fs/suid_dumpable")),
    }
}

/// What a [`Target`] does once set up.
pub enum Then {
    /// Park, reporting this note (may be empty) with its state line.
    Park(String),
    /// Exec this program as `PROG __probe state-park`.
    Exec(PathBuf),
}

/// A target to reach for: a subject that ran its setup and then either
/// parks (blocked reading stdin) or has exec'd a probe in `state-park`
/// mode. Killed on drop.
pub struct Target {
    pub pid: Pid,
    /// What the setup noted ([`Then::Park`]).
    pub note: String,
    /// The target's [`crate::probe::state_line`] once set up (its own
    /// when parked, the probe's when it exec'd one).
    pub state: String,
    /// Closing it ends the park, should the kill be refused.
    stdin: Option<OwnedFd>,
}

impl Target {
    /// Fork a target that runs `setup`, then does what it says.
    pub fn spawn(setup: impl FnOnce() -> Result<Then, Errno>) -> Result<Target, Stop> {
        let (out_rx, out_tx) = pipe2(OFlag::O_CLOEXEC)?;
        let (in_rx, in_tx) = pipe2(OFlag::O_CLOEXEC)?;
        let keep_open = in_tx.as_raw_fd();
        let pid = task::spawn(|| {
            // Only the scenario may hold the write end: its close is the
            // target's EOF.
            // SAFETY: closing this process's copy of a pipe end it never uses.
            unsafe { libc::close(keep_open) };
            let line = match setup() {
                Ok(Then::Exec(prog)) => {
                    setup::or_exit("dup2(stdout)", nix::unistd::dup2_stdout(&out_tx));
                    setup::or_exit("dup2(stdin)", nix::unistd::dup2_stdin(&in_rx));
                    exec_probe(&prog, "state-park")
                }
                Ok(Then::Park(note)) => format!("{note}\t{}\n", crate::probe::state_line()),
                Err(e) => format!("setup-failed {e}\n"),
            };
            let _ = nix::unistd::write(&out_tx, line.as_bytes());
            let mut b = [0u8; 16];
            while let Ok(1..) = nix::unistd::read(in_rx.as_fd(), &mut b) {}
            0
        })?;
        drop((out_tx, in_rx));
        let mut target = Target {
            pid,
            note: String::new(),
            state: String::new(),
            stdin: Some(in_tx),
        };
        let mut line = String::new();
        let _ = BufReader::new(File::from(out_rx)).read_line(&mut line);
        let line = line.trim_end_matches('\n');
        if line.is_empty() {
            return Err(Stop::error("the target died during setup"));
        }
        if let Some(why) = line.strip_prefix("setup-failed ") {
            return Err(Stop::error(format!("target setup failed: {why}")));
        }
        match line.split_once('\t') {
            Some((note, state)) => {
                target.note = note.to_string();
                target.state = state.to_string();
            }
            None => target.state = line.to_string(),
        }
        Ok(target)
    }

    /// Until the parked target is asleep in its read of stdin: the line it
    /// wrote first reaches the scenario while it may still be running
    /// (and a running task's kernel stack, for one, is not walked).
    pub fn wait_parked(&self) -> Result<(), Stop> {
        if crate::kit::procfs::wait_for_state(self.pid, "S", std::time::Duration::from_secs(10)) {
            Ok(())
        } else {
            Err(Stop::error(format!(
                "the target {} never went to sleep in its park",
                self.pid
            )))
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = kill(self.pid, Signal::SIGKILL);
        let _ = task::wait_exit(self.pid);
    }
}

/// In a subject: exec `prog __probe MODE`; a failed exec is reported
/// (see [`kconform_core::setup`]) and the subject gives up.
pub fn exec_probe(prog: &Path, mode: &str) -> ! {
    let path = CString::new(prog.as_os_str().as_bytes()).unwrap_or_default();
    let argv = [
        path.clone(),
        CString::new("__probe").unwrap_or_default(),
        CString::new(mode).unwrap_or_default(),
    ];
    let call = format!("execve({} __probe {mode})", prog.display());
    match setup::or_exit(&call, nix::unistd::execv(&path, &argv)) {}
}

/// Run `body` in a subject whose stdout goes into a pipe; returns what
/// it wrote and how it ended.
pub fn capture(body: impl FnOnce() -> i32) -> Result<(String, String), Stop> {
    let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
    let pid = task::spawn(|| {
        setup::or_exit("dup2(stdout)", nix::unistd::dup2_stdout(&tx));
        body()
    })?;
    drop(tx);
    let out = read_all(rx);
    let end = task::wait_exit(pid)?;
    Ok((out.trim_end().to_string(), end))
}

/// A root-owned copy of the probe with a given mode (4755: setuid root;
/// 0711: executable but unreadable for others; 0755), on a mount that
/// honours setuid and exec, in a directory everyone can reach.
///
/// Where the run has a [`Ctx::shared_dir`] (the guest), one copy per mode
/// serves every instance: under QEMU's TCG, copying the binary and
/// translating the code of a fresh file cost ~40 ms an instance. Otherwise
/// each copy is made in a fresh directory and removed on drop. Either way
/// it is only ever exec'd, never changed. Needs root.
pub struct ProbeCopy {
    /// The fresh directory to remove on drop (none for a shared copy).
    dir: Option<PathBuf>,
    pub exe: PathBuf,
}

impl ProbeCopy {
    /// Skips where the caller runs under no_new_privs: no exec of it
    /// could gain privilege.
    pub fn setuid_root(ctx: &Ctx) -> Result<Self, Stop> {
        if super::seccomp::no_new_privs() {
            return Err(Stop::forbidden(
                "kconform itself runs under no_new_privs, so no setuid exec can gain privilege",
            ));
        }
        Self::make(ctx, 0o4755)
    }

    pub fn execute_only(ctx: &Ctx) -> Result<Self, Stop> {
        Self::make(ctx, 0o711)
    }

    /// Mode 0755: what any uid may read and run.
    pub fn readable(ctx: &Ctx) -> Result<Self, Stop> {
        Self::make(ctx, 0o755)
    }

    fn make(ctx: &Ctx, mode: u32) -> Result<Self, Stop> {
        let honours_setuid = |d: &Path| {
            statvfs(d).is_ok_and(|s| {
                !s.flags()
                    .intersects(FsFlags::ST_NOSUID | FsFlags::ST_NOEXEC)
            })
        };
        if let Some(shared) = ctx.shared_dir.as_deref().filter(|d| honours_setuid(d)) {
            let exe = shared.join(format!("probe-{mode:o}"));
            if !exe.exists() {
                // Made whole under a private name, then linked into place:
                // an instance racing this one either finds the name taken
                // (and uses that copy) or never sees a half-written file.
                let dir = nix::unistd::mkdtemp(&shared.join("probe-XXXXXX"))?;
                let fresh = Self::in_dir(dir, ctx, mode)?;
                match std::fs::hard_link(&fresh.exe, &exe) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(ProbeCopy { dir: None, exe });
        }
        let dir = temp_dir("kconform-probe", honours_setuid).ok_or_else(|| {
            Stop::forbidden(
                "no writable dir on a mount without nosuid/noexec ($TMPDIR, the probe's, /)",
            )
        })?;
        Self::in_dir(dir, ctx, mode)
    }

    /// The copy in `dir`, a fresh directory it removes on drop.
    fn in_dir(dir: PathBuf, ctx: &Ctx, mode: u32) -> Result<Self, Stop> {
        let copy = ProbeCopy {
            exe: dir.join("probe"),
            dir: Some(dir.clone()),
        };
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        std::fs::copy(&ctx.probe_exe, &copy.exe)?;
        std::os::unix::fs::chown(&copy.exe, Some(0), Some(0))?;
        std::fs::set_permissions(&copy.exe, std::fs::Permissions::from_mode(mode))?;
        Ok(copy)
    }
}

impl Drop for ProbeCopy {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A fresh `PREFIX-XXXXXX` directory under $TMPDIR or, failing that (no
/// /tmp in an initramfs, or `usable` says no), next to the running
/// binary, or in /.
pub fn temp_dir(prefix: &str, usable: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    let mut candidates = vec![std::env::temp_dir()];
    if let Some(p) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(p);
    }
    candidates.push(PathBuf::from("/"));
    candidates
        .into_iter()
        .filter(|c| usable(c))
        .find_map(|c| nix::unistd::mkdtemp(&c.join(format!("{prefix}-XXXXXX"))).ok())
}

/// Whether any uid may read and run `path`: the file is r-x for others
/// and every directory above it searchable (so an unprivileged subject
/// can exec it without a copy).
pub fn world_runnable(path: &Path) -> bool {
    let Ok(path) = std::fs::canonicalize(path) else {
        return false;
    };
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode())
            .unwrap_or(0)
    };
    mode(&path) & 0o005 == 0o005 && path.ancestors().skip(1).all(|d| mode(d) & 0o001 != 0)
}

pub fn read_all(fd: OwnedFd) -> String {
    let mut s = String::new();
    let _ = File::from(fd).read_to_string(&mut s);
    s
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn ctx(shared_dir: Option<PathBuf>) -> Ctx {
        Ctx {
            iterations: 1,
            probe_exe: std::env::current_exe().unwrap(),
            shared_dir,
            fail_setup: None,
        }
    }

    /// With a shared dir, every instance gets the same root-owned copy
    /// per mode, and dropping a handle leaves it for the next one.
    #[test]
    fn shared_probe_copies_are_made_once_per_mode() {
        if !crate::kit::creds::is_root() {
            eprintln!("skipped: making root-owned copies needs root");
            return;
        }
        let shared = tempfile::tempdir().unwrap();
        let flags = statvfs(shared.path()).unwrap().flags();
        if flags.intersects(FsFlags::ST_NOSUID | FsFlags::ST_NOEXEC) {
            eprintln!("skipped: $TMPDIR is mounted nosuid or noexec");
            return;
        }
        let ctx = ctx(Some(shared.path().to_path_buf()));
        let first = ProbeCopy::execute_only(&ctx).unwrap();
        let exe = first.exe.clone();
        drop(first);
        let again = ProbeCopy::execute_only(&ctx).unwrap();
        assert_eq!(again.exe, exe);
        let meta = std::fs::metadata(&exe).unwrap();
        assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o711, 0));
        let other = ProbeCopy::readable(&ctx).unwrap();
        assert_ne!(other.exe, exe);
        assert_eq!(
            std::fs::metadata(&other.exe).unwrap().mode() & 0o7777,
            0o755
        );
    }

    /// Without one, each copy lives in its own directory, gone on drop.
    #[test]
    fn private_probe_copies_go_with_their_handle() {
        if !crate::kit::creds::is_root() {
            eprintln!("skipped: making root-owned copies needs root");
            return;
        }
        let ctx = ctx(None);
        let a = ProbeCopy::readable(&ctx).unwrap();
        let b = ProbeCopy::readable(&ctx).unwrap();
        assert_ne!(a.exe, b.exe);
        let dir = a.exe.parent().unwrap().to_path_buf();
        drop(a);
        assert!(!dir.exists());
        assert!(b.exe.exists());
    }
}
