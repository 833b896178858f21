//! Who may trace or read whom: credentials, dumpable, process_vm_readv,
//! /proc/PID/mem, Yama (BRIEF item 5).
//!
//! The kernel's rules: process_vm_readv() and opening /proc/PID/mem ask
//! mm_access() for PTRACE_MODE_ATTACH, the check ptrace_attach() makes
//! (__ptrace_may_access(), kernel/ptrace.c): the caller's own thread group
//! always passes; otherwise its uid and gid must match the target's real,
//! effective and saved ids and the target's mm must be dumpable
//! (SUID_DUMP_USER), unless the caller has CAP_SYS_PTRACE; then the LSMs
//! have their say (Yama below). process_vm_readv() reports a refusal as
//! EPERM, the open as EACCES; /proc/PID/mem is also a mode-0600 file owned
//! by the target's euid, or by root while the target is not dumpable
//! (task_dump_owner(), fs/proc/base.c), so its permission check may refuse
//! first, also with EACCES. An open /proc/PID/mem holds the mm it was
//! opened on: access is not checked again, and once that mm is gone (the
//! target exec'd) reads return nothing.
//!
//! Dumpability: PR_SET_DUMPABLE takes 0 or 1 (prctl(2)); commit_creds()
//! resets it to fs.suid_dumpable when the euid, egid, fsuid or fsgid
//! change; exec sets it to 1, or to fs.suid_dumpable for a program the
//! caller may not read or one that changes its ids (fs/exec.c). A fork
//! copies it with the mm. PTRACE_TRACEME then a setuid exec: unless the
//! credentials TRACEME was called with had CAP_SYS_PTRACE, the program
//! runs with the caller's ids (security/commoncap.c), flagged AT_SECURE
//! all the same.
//!
//! Yama (security/yama/yama_lsm.c) adds, for every PTRACE_MODE_ATTACH
//! check, by kernel.yama.ptrace_scope: 0 nothing; 1 the caller must be an
//! ancestor of the target, or named by the target's PR_SET_PTRACER (or
//! descend from the one named; PR_SET_PTRACER_ANY names everyone), or have
//! CAP_SYS_PTRACE; 2 CAP_SYS_PTRACE only; 3 nobody. The scope is global,
//! so scenarios never change it: each Yama instance needs one scope (a
//! guest under QEMU sets it before the instance runs; natively the
//! instance is skipped where another is in force). Everywhere else the
//! targets declare PR_SET_PTRACER_ANY, so scope 1 cannot turn a refusal
//! the core code must make into one Yama made.
//!
//! The submodules take the same rules further: a tracer's PEEKDATA and
//! process_madvise() (`memory`), dumpability in a user namespace of one's
//! own and after exit (`dumpability`), the /proc files that disclose what
//! only a permitted reader may see and the credentials the check weighs
//! (`procfs`), and the capability use a check leaves in the accounting
//! (`accounting`). Each records, in the fixtures, the bugs it observes.
//!
//! Unprivileged readers and tracers run as [`NOBODY`] in subjects of their
//! own (dumpable, as a process NOBODY started would be); targets are
//! parked subjects. What a reader reads is [`MARK`], which each target
//! sets after the fork, so `read=target` means the target's memory, not
//! the reader's own copy of it.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use kconform_core::{
    setup, Area, Ctx, Instance, Needs, Observation, Outcome, Param, Scenario, Stop,
};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::sys::uio::{pread, process_vm_readv, RemoteIoVec};
use nix::sys::wait::WaitStatus;
use nix::unistd::{getpid, pipe2, Pid};

use crate::kit::access::{
    self, allow_any_tracer, as_uid, exec_probe, set_dumpable, suid_dumpable_resets, ProbeCopy,
    Target, Then, SUID_DUMPABLE, SUID_DUMPABLE_RESETS, YAMA_ADMITS_ROOT, YAMA_ADMITS_UNPRIVILEGED,
    YAMA_SCOPE,
};
use crate::kit::creds::{self, NOBODY, OTHER};
use crate::kit::script::Script;
use crate::kit::task;
use crate::kit::trace::{errno_name, result_name};
use crate::probe::pick;

pub const AREA: Area = Area {
    name: "ptrace-access",
    summary:
        "who may trace or read whom: credentials, dumpable, process_vm_readv, /proc/PID/mem, Yama",
};

mod accounting;
mod dumpability;
mod memory;
mod procfs;

pub fn instances() -> Vec<Instance> {
    let mut all = Vec::new();
    all.extend(DUMPABLE.expand(Change::ALL));
    all.extend(PROCESS_VM_READV.expand(Reach::ALL));
    all.extend(PROC_MEM.expand(Reach::ALL));
    all.extend(MEM_FD_OPENED_BEFORE.expand(Later::ALL));
    all.extend(TRACEME_SETUID_EXEC.expand(By::ALL));
    all.extend(YAMA.expand(YamaCase::all()));
    all.extend(memory::PEEKDATA.expand(memory::Before::ALL));
    all.extend(dumpability::OWN_USERNS.expand([()]));
    all.extend(dumpability::AFTER_EXIT.expand(dumpability::Exited::ALL));
    all.extend(procfs::PROC_STACK.expand(procfs::StackOf::ALL));
    all.extend(procfs::PAGEMAP.expand(procfs::PagemapReader::ALL));
    all.extend(procfs::FILE_BACKED.expand(procfs::Strings::ALL));
    all.extend(procfs::PROC_FDINFO.expand(procfs::FdinfoCase::all()));
    all.extend(procfs::HIDEPID_ACCESS.expand([()]));
    all.extend(memory::PROCESS_MADVISE.expand(memory::Adviser::ALL));
    all.extend(accounting::ACCOUNTING.expand(accounting::Traced::ALL));
    all
}

// ---------------------------------------------------------------------------
// What readers read

/// Each target stores [`MARK_VALUE`] here once forked; everyone else
/// leaves it 0.
static MARK: AtomicU64 = AtomicU64::new(0);
const MARK_VALUE: u64 = 0x6b63_6f6e_666f_726d;

fn mark_address() -> usize {
    MARK.as_ptr() as usize
}

fn set_mark() {
    MARK.store(MARK_VALUE, Ordering::SeqCst);
}

/// Eight bytes read from a target as observation text.
fn what_was_read(bytes: [u8; 8]) -> &'static str {
    match u64::from_ne_bytes(bytes) {
        MARK_VALUE => "read=target",
        0 => "read=unset",
        _ => "read=other",
    }
}

/// process_vm_readv() of [`MARK`] in `pid`: `readv=ok read=target` or
/// `readv=EPERM`.
fn readv(pid: Pid) -> String {
    let mut buf = [0u8; 8];
    let remote = [RemoteIoVec {
        base: mark_address(),
        len: 8,
    }];
    match process_vm_readv(pid, &mut [std::io::IoSliceMut::new(&mut buf)], &remote) {
        Ok(8) => format!("readv=ok {}", what_was_read(buf)),
        Ok(n) => format!("readv=short({n})"),
        Err(e) => format!("readv={}", errno_name(e)),
    }
}

/// Skip where process_vm_readv() is not built in.
fn readv_exists() -> Result<(), Stop> {
    match process_vm_readv(getpid(), &mut [], &[]) {
        Err(Errno::ENOSYS) => Err(Stop::lacks(
            "process_vm_readv: ENOSYS (kernel built without CONFIG_CROSS_MEMORY_ATTACH)",
        )),
        _ => Ok(()),
    }
}

fn open_mem(pid: Pid) -> Result<OwnedFd, Errno> {
    open(
        format!("/proc/{pid}/mem").as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// pread() of [`MARK`] through an open /proc/PID/mem.
fn pread_mark(fd: &OwnedFd) -> String {
    let mut buf = [0u8; 8];
    match pread(fd.as_fd(), &mut buf, mark_address() as i64) {
        Ok(8) => what_was_read(buf).to_string(),
        Ok(0) => "read=eof".to_string(),
        Ok(n) => format!("read=short({n})"),
        Err(e) => format!("read={}", errno_name(e)),
    }
}

/// Open /proc/PID/mem and read [`MARK`]: `mem-open=ok read=target` or
/// `mem-open=EACCES`.
fn proc_mem(pid: Pid) -> String {
    match open_mem(pid) {
        Ok(fd) => format!("mem-open=ok {}", pread_mark(&fd)),
        Err(e) => format!("mem-open={}", errno_name(e)),
    }
}

/// PTRACE_ATTACH, and let go again: `attach=ok` or `attach=EPERM`.
fn attach(pid: Pid) -> String {
    let r = ptrace::attach(pid);
    if r.is_ok() {
        // The target is parked in read(2): it stops for the SIGSTOP.
        let _ = task::wait(pid);
        let _ = ptrace::detach(pid, None);
    }
    format!("attach={}", result_name(&r))
}

/// A subject that drops to `uid`, is dumpable (or not), lets any tracer
/// in as far as Yama goes, and marks its memory.
fn parked_as(uid: u32, dumpable: bool) -> Result<Target, Stop> {
    Target::spawn(|| {
        creds::drop_to(uid)?;
        set_dumpable(dumpable.into())?;
        allow_any_tracer();
        set_mark();
        Ok(Then::Park(String::new()))
    })
}

// ---------------------------------------------------------------------------
// Dumpability

/// What happens to a task before its dumpability is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// PR_SET_DUMPABLE 0.
    Prctl0,
    /// PR_SET_DUMPABLE 0, then 1.
    Prctl0Then1,
    /// PR_SET_DUMPABLE 2 (SUID_DUMP_ROOT, which only the sysctl may set).
    Prctl2,
    /// Root setresuid() (and setresgid) to NOBODY.
    Setresuid,
    /// Root setfsuid() to another uid, nothing else.
    Setfsuid,
    /// NOBODY execs a program it may run but not read (mode 0711). (A
    /// setuid exec resets dumpability the same way: see
    /// [`TRACEME_SETUID_EXEC`].)
    ExecuteOnlyExec,
    /// PR_SET_DUMPABLE 0, then exec of a readable program.
    Prctl0ThenExec,
    /// PR_SET_DUMPABLE 0, then fork: the child is read.
    Prctl0ThenFork,
    /// NOBODY execs a readable `#!` script whose interpreter it may run
    /// but not read (mode 0711).
    UnreadableInterpreter,
}

impl Change {
    const ALL: [Change; 9] = [
        Change::Prctl0,
        Change::Prctl0Then1,
        Change::Prctl2,
        Change::Setresuid,
        Change::Setfsuid,
        Change::ExecuteOnlyExec,
        Change::Prctl0ThenExec,
        Change::Prctl0ThenFork,
        Change::UnreadableInterpreter,
    ];

    /// Whether the change sets dumpability to fs.suid_dumpable.
    fn resets(self) -> bool {
        matches!(
            self,
            Change::Setresuid
                | Change::Setfsuid
                | Change::ExecuteOnlyExec
                | Change::UnreadableInterpreter
        )
    }
}

impl Param for Change {
    fn slug(&self) -> String {
        match self {
            Change::Prctl0 => "prctl-0",
            Change::Prctl0Then1 => "prctl-0-then-1",
            Change::Prctl2 => "prctl-2",
            Change::Setresuid => "setresuid",
            Change::Setfsuid => "setfsuid",
            Change::ExecuteOnlyExec => "execute-only-exec",
            Change::Prctl0ThenExec => "prctl-0-then-exec",
            Change::Prctl0ThenFork => "prctl-0-then-fork",
            Change::UnreadableInterpreter => "unreadable-interpreter",
        }
        .into()
    }
}

/// A task's dumpability after a change, as the task reads it
/// (PR_GET_DUMPABLE) and as /proc shows it (the owner of /proc/PID/mem).
const DUMPABLE: Scenario<Change> = Scenario {
    base: "ptrace-access/dumpable",
    area: AREA,
    summary:
        "PR_SET_DUMPABLE, credential changes, exec and fork set dumpability and /proc ownership",
    needs: |c| {
        let needs = match c {
            Change::Prctl0
            | Change::Prctl0Then1
            | Change::Prctl2
            | Change::Prctl0ThenExec
            | Change::Prctl0ThenFork => Needs::any(),
            _ => Needs::root(),
        };
        if c.resets() {
            needs.sysctl(SUID_DUMPABLE, SUID_DUMPABLE_RESETS)
        } else {
            needs
        }
    },
    run: dumpable_after,
};

fn dumpable_after(change: &Change, ctx: &Ctx) -> Outcome {
    let suid_dumpable = if change.resets() {
        Some(suid_dumpable_resets()?)
    } else {
        None
    };
    let copy = match change {
        Change::ExecuteOnlyExec | Change::UnreadableInterpreter => {
            Some(ProbeCopy::execute_only(ctx)?)
        }
        // NOBODY must be able to read the program, or the exec itself
        // makes it non-dumpable; an unprivileged caller runs its own.
        Change::Prctl0ThenExec if creds::is_root() && !access::world_runnable(&ctx.probe_exe) => {
            Some(ProbeCopy::readable(ctx)?)
        }
        _ => None,
    };
    // The script is named for the probe mode its interpreter is to run:
    // exec'd by that relative name from its directory, binfmt_script
    // makes it `INTERPRETER __probe state-park ...`.
    let script = match (&copy, change) {
        (Some(copy), Change::UnreadableInterpreter) => {
            Some(Script::new("state-park", &copy.exe, "__probe")?)
        }
        _ => None,
    };
    let script_dir = script.as_ref().map(|s| s.dir().to_path_buf());
    let exe = match (&copy, change) {
        (Some(_), Change::UnreadableInterpreter) => Some(PathBuf::from("state-park")),
        (Some(copy), _) => Some(copy.exe.clone()),
        (None, Change::Prctl0ThenExec) => Some(ctx.probe_exe.clone()),
        _ => None,
    };
    let change = *change;
    let observe = move || -> Outcome {
        let target = Target::spawn(|| {
            let mut note = String::new();
            match change {
                Change::Setresuid => creds::drop_to(NOBODY)?,
                Change::Setfsuid => {
                    nix::unistd::setfsuid(nix::unistd::Uid::from_raw(OTHER));
                }
                _ => {
                    creds::drop_to(NOBODY)?;
                    set_dumpable(1)?;
                }
            }
            match change {
                Change::Prctl0 | Change::Prctl0ThenExec => set_dumpable(0)?,
                Change::Prctl0Then1 => {
                    set_dumpable(0)?;
                    set_dumpable(1)?;
                }
                Change::Prctl2 => note = format!("prctl(2)={} ", result_name(&set_dumpable(2))),
                _ => {}
            }
            if let Some(dir) = &script_dir {
                nix::unistd::chdir(dir.as_path())?;
            }
            Ok(match &exe {
                Some(exe) => Then::Exec(exe.clone()),
                None => Then::Park(note),
            })
        })?;
        Ok(Observation::new(format!(
            "{}{}",
            target.note,
            dumpable_words(&target, suid_dumpable)
        )))
    };
    if change == Change::Prctl0ThenFork {
        // The target is forked by a non-dumpable parent.
        return as_uid(NOBODY, || {
            set_dumpable(0)?;
            let target = Target::spawn(|| Ok(Then::Park(String::new())))?;
            Ok(Observation::new(dumpable_words(&target, None)))
        });
    }
    observe()
}

/// `dumpable=D mem-owner=root|self|uid=N`; D is `suid_dumpable` where
/// it equals that sysctl (the value a reset must give).
fn dumpable_words(target: &Target, suid_dumpable: Option<u32>) -> String {
    let d = pick(&target.state, &["dumpable"]);
    let d = match (d.strip_prefix("dumpable="), suid_dumpable) {
        (Some(v), Some(s)) if v == s.to_string() => "dumpable=suid_dumpable".to_string(),
        _ => d,
    };
    let euid = pick(&target.state, &["euid"]);
    let owner = match std::fs::metadata(format!("/proc/{}/mem", target.pid)) {
        Ok(m) if m.uid() == 0 => "root".to_string(),
        Ok(m) if format!("euid={}", m.uid()) == euid => "self".to_string(),
        Ok(m) => format!("uid={}", m.uid()),
        Err(e) => format!("{e}"),
    };
    format!("{d} mem-owner={owner}")
}

// ---------------------------------------------------------------------------
// process_vm_readv and /proc/PID/mem against the ptrace rules

/// Whose memory an unprivileged reader (or root) reaches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The reader's own dumpable child.
    OwnChild,
    /// A task that dropped from root to the reader's uid and made itself
    /// dumpable again.
    SameUid,
    /// The same, after PR_SET_DUMPABLE 0.
    NonDumpable,
    /// A task that setresuid() from root to the reader's uid.
    CredChanged,
    /// A dumpable task of another uid.
    OtherUid,
    /// The reader itself, after PR_SET_DUMPABLE 0.
    SelfNonDumpable,
    /// Root reaching a non-dumpable task of another uid.
    RootOverNonDumpable,
}

impl Reach {
    const ALL: [Reach; 7] = [
        Reach::OwnChild,
        Reach::SameUid,
        Reach::NonDumpable,
        Reach::CredChanged,
        Reach::OtherUid,
        Reach::SelfNonDumpable,
        Reach::RootOverNonDumpable,
    ];

    fn needs(self) -> Needs {
        let needs = match self {
            Reach::OwnChild | Reach::SameUid | Reach::NonDumpable | Reach::SelfNonDumpable => {
                Needs::any()
            }
            _ => Needs::root(),
        };
        let needs = match self {
            Reach::RootOverNonDumpable => needs.sysctl(YAMA_SCOPE, YAMA_ADMITS_ROOT),
            _ => needs.sysctl(YAMA_SCOPE, YAMA_ADMITS_UNPRIVILEGED),
        };
        match self {
            Reach::CredChanged => needs.sysctl(SUID_DUMPABLE, SUID_DUMPABLE_RESETS),
            _ => needs,
        }
    }

    /// Set up the target and run `read` on it as the reader.
    fn run(self, read: fn(Pid) -> String) -> Outcome {
        if self == Reach::RootOverNonDumpable {
            access::yama_lets_root_in()?;
        } else {
            access::yama_lets_unprivileged_in()?;
        }
        let seen = |pid| Ok(Observation::new(read(pid)));
        // The reader is the scenario process, dropped to NOBODY once the
        // target is set up (it is the target's parent, which only Yama
        // would weigh, and every target here lets any tracer in).
        let as_nobody = |pid| {
            access::switch_to(NOBODY)?;
            seen(pid)
        };
        match self {
            Reach::OwnChild => {
                access::switch_to(NOBODY)?;
                let target = Target::spawn(|| {
                    set_mark();
                    Ok(Then::Park(String::new()))
                })?;
                seen(target.pid)
            }
            Reach::SameUid => {
                let target = parked_as(NOBODY, true)?;
                as_nobody(target.pid)
            }
            Reach::NonDumpable => {
                let target = parked_as(NOBODY, false)?;
                as_nobody(target.pid)
            }
            Reach::CredChanged => {
                suid_dumpable_resets()?;
                let target = Target::spawn(|| {
                    allow_any_tracer();
                    creds::drop_to(NOBODY)?;
                    set_mark();
                    Ok(Then::Park(String::new()))
                })?;
                as_nobody(target.pid)
            }
            Reach::OtherUid => {
                let target = parked_as(OTHER, true)?;
                as_nobody(target.pid)
            }
            Reach::SelfNonDumpable => {
                access::switch_to(NOBODY)?;
                set_mark();
                set_dumpable(0)?;
                seen(getpid())
            }
            Reach::RootOverNonDumpable => {
                let target = parked_as(OTHER, false)?;
                seen(target.pid)
            }
        }
    }
}

impl Param for Reach {
    fn slug(&self) -> String {
        match self {
            Reach::OwnChild => "own-child",
            Reach::SameUid => "same-uid",
            Reach::NonDumpable => "non-dumpable",
            Reach::CredChanged => "cred-changed",
            Reach::OtherUid => "other-uid",
            Reach::SelfNonDumpable => "self-non-dumpable",
            Reach::RootOverNonDumpable => "root-over-non-dumpable",
        }
        .into()
    }
}

/// process_vm_readv() follows the ptrace access rules: the caller's own
/// memory, a dumpable task of its uid, or anything with CAP_SYS_PTRACE;
/// EPERM otherwise.
const PROCESS_VM_READV: Scenario<Reach> = Scenario {
    base: "ptrace-access/process-vm-readv",
    area: AREA,
    summary: "process_vm_readv() reads only where ptrace may attach; EPERM elsewhere",
    needs: |r| r.needs(),
    run: |r, _| {
        readv_exists()?;
        r.run(readv)
    },
};

/// Opening /proc/PID/mem follows the same rules, refused with EACCES
/// (by the file's owner and mode, or by the ptrace check).
const PROC_MEM: Scenario<Reach> = Scenario {
    base: "ptrace-access/proc-mem",
    area: AREA,
    summary: "/proc/PID/mem opens only where ptrace may attach; EACCES elsewhere",
    needs: |r| r.needs(),
    run: |r, _| r.run(proc_mem),
};

// ---------------------------------------------------------------------------
// An open /proc/PID/mem outlives the access that opened it

/// What the target does after the reader opened its /proc/PID/mem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Later {
    /// PR_SET_DUMPABLE 0.
    Prctl0,
    /// Exec of a setuid-root program.
    SetuidExec,
}

impl Later {
    const ALL: [Later; 2] = [Later::Prctl0, Later::SetuidExec];
}

impl Param for Later {
    fn slug(&self) -> String {
        match self {
            Later::Prctl0 => "then-prctl-0",
            Later::SetuidExec => "then-setuid-exec",
        }
        .into()
    }
}

/// An open /proc/PID/mem keeps reading the mm it was opened on after the
/// target turned non-dumpable (access is checked at open only), and
/// reads nothing once the target exec'd (that mm is gone), even when a
/// fresh open is refused.
const MEM_FD_OPENED_BEFORE: Scenario<Later> = Scenario {
    base: "ptrace-access/proc-mem/opened-before",
    area: AREA,
    summary: "an open /proc/PID/mem reads on after PR_SET_DUMPABLE 0, and nothing after an exec",
    needs: |later| {
        match later {
            Later::Prctl0 => Needs::any(),
            Later::SetuidExec => Needs::root(),
        }
        .sysctl(YAMA_SCOPE, YAMA_ADMITS_UNPRIVILEGED)
    },
    run: mem_fd_opened_before,
};

fn mem_fd_opened_before(later: &Later, ctx: &Ctx) -> Outcome {
    access::yama_lets_unprivileged_in()?;
    let copy = match later {
        Later::Prctl0 => None,
        Later::SetuidExec => Some(ProbeCopy::setuid_root(ctx)?),
    };
    let gate = task::Gate::new()?;
    // The target notes `ready`, waits for the reader to have its fd
    // open, makes the change and notes `changed` (or execs a probe in
    // state-park mode, whose state line is the note).
    let (line_rx, line_tx) = pipe2(OFlag::O_CLOEXEC)?;
    let (stdin_rx, stdin_tx) = pipe2(OFlag::O_CLOEXEC)?;
    let exe: Option<PathBuf> = copy.as_ref().map(|c| c.exe.clone());
    let pid = task::spawn(|| {
        creds::drop_or_exit(NOBODY);
        setup::or_exit("prctl(PR_SET_DUMPABLE, 1)", set_dumpable(1));
        allow_any_tracer();
        set_mark();
        let _ = nix::unistd::write(&line_tx, b"ready\n");
        gate.wait();
        match &exe {
            Some(exe) => {
                setup::or_exit("dup2(stdout)", nix::unistd::dup2_stdout(&line_tx));
                setup::or_exit("dup2(stdin)", nix::unistd::dup2_stdin(&stdin_rx));
                exec_probe(exe, "state-park")
            }
            None => {
                setup::or_exit("prctl(PR_SET_DUMPABLE, 0)", set_dumpable(0));
                let _ = nix::unistd::write(&line_tx, b"changed\n");
                let mut b = [0u8; 8];
                while let Ok(1..) = nix::unistd::read(stdin_rx.as_fd(), &mut b) {}
                0
            }
        }
    })?;
    let _reap = Reap {
        pid,
        _stdin: stdin_tx,
    };
    drop((line_tx, stdin_rx));
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(std::fs::File::from(line_rx)));
    if lines.next().and_then(Result::ok).as_deref() != Some("ready") {
        return Err(Stop::error("the target died during setup"));
    }
    as_uid(NOBODY, || {
        let fd = open_mem(pid).map_err(|e| Stop::error(format!("first open: {e}")))?;
        let before = pread_mark(&fd);
        gate.open();
        let changed = lines.next().and_then(Result::ok).unwrap_or_default();
        if changed.is_empty() {
            return Err(Stop::error("the target died making its change"));
        }
        let after = pread_mark(&fd);
        let reopen = match open_mem(pid) {
            Ok(_) => "ok".to_string(),
            Err(e) => errno_name(e),
        };
        Ok(Observation::new(format!(
            "before: {before}; after: fd {after} reopen={reopen}"
        )))
    })
}

/// Kill and reap a subject on drop; holds its stdin open until then.
struct Reap {
    pid: Pid,
    _stdin: OwnedFd,
}

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
        let _ = task::wait_exit(self.pid);
    }
}

// ---------------------------------------------------------------------------
// PTRACE_TRACEME, then a setuid exec

/// Who traces, and with whose credentials PTRACE_TRACEME was called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// A root parent; the subject asks as NOBODY.
    Root,
    /// A root parent; the subject asks while still root, then drops.
    RootAskedAsRoot,
}

impl By {
    const ALL: [By; 2] = [By::Root, By::RootAskedAsRoot];
}

impl Param for By {
    fn slug(&self) -> String {
        match self {
            By::Root => "by-root",
            By::RootAskedAsRoot => "by-root-asked-as-root",
        }
        .into()
    }
}

/// NOBODY calls PTRACE_TRACEME and execs a setuid-root program. The
/// tracer's credentials the kernel weighs are those PTRACE_TRACEME was
/// called with (the subject's own, since 6994eefb0053), so the program
/// runs with NOBODY's euid under a root parent too, and with euid 0 only
/// when the subject asked while it was still root. Both are AT_SECURE
/// execs; the tracer sees the post-exec SIGTRAP and reads the new image's
/// memory. (An unprivileged parent is ptrace-attach/traceme-setuid-exec.)
const TRACEME_SETUID_EXEC: Scenario<By> = Scenario {
    base: "ptrace-access/traceme-setuid-exec",
    area: AREA,
    summary: "PTRACE_TRACEME then a setuid exec gains euid 0 only if TRACEME was asked with CAP_SYS_PTRACE",
    needs: |_| {
        Needs::root()
            .sysctl(YAMA_SCOPE, YAMA_ADMITS_ROOT)
            .sysctl(SUID_DUMPABLE, SUID_DUMPABLE_RESETS)
    },
    run: traceme_setuid_exec,
};

fn traceme_setuid_exec(by: &By, ctx: &Ctx) -> Outcome {
    // Yama's scope 3 refuses PTRACE_TRACEME under any parent.
    access::yama_lets_root_in()?;
    let suid_dumpable = suid_dumpable_resets()?;
    let copy = ProbeCopy::setuid_root(ctx)?;
    let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
    let subject = task::spawn(|| {
        // The order is the point: TRACEME records the credentials it is
        // called with.
        let traceme = || setup::or_exit("PTRACE_TRACEME", ptrace::traceme());
        match by {
            By::RootAskedAsRoot => {
                traceme();
                creds::drop_or_exit(NOBODY);
            }
            By::Root => {
                creds::drop_or_exit(NOBODY);
                traceme();
            }
        }
        setup::or_exit("dup2(stdout)", nix::unistd::dup2_stdout(&tx));
        exec_probe(&copy.exe, "state")
    })?;
    drop(tx);
    let mut log = Vec::new();
    loop {
        let s = task::wait(subject)?;
        log.push(task::describe(&s));
        match s {
            WaitStatus::Stopped(pid, Signal::SIGTRAP) => {
                let peek = ptrace::getregs(pid)
                    .and_then(|regs| ptrace::read(pid, regs.rip as ptrace::AddressType));
                log.push(format!("peek={}", result_name(&peek)));
                let _ = ptrace::cont(pid, None);
            }
            WaitStatus::Stopped(pid, sig) => {
                let _ = ptrace::cont(pid, sig);
            }
            _ if task::is_final(&s) => break,
            _ => {
                let _ = ptrace::cont(subject, None);
            }
        }
        if log.len() > 8 {
            break;
        }
    }
    let out = access::read_all(rx);
    let state = pick(out.trim_end(), &["euid", "ruid", "secure", "dumpable"]).replace(
        &format!("dumpable={suid_dumpable}"),
        "dumpable=suid_dumpable",
    );
    Ok(Observation::new(format!("{}; {state}", log.join(" -> "))))
}

// ---------------------------------------------------------------------------
// Yama

/// The relation between reader and target Yama judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// The target is the reader's child.
    Descendant,
    /// The target is the reader's sibling and declared nothing.
    Sibling,
    /// The sibling named an ancestor of the reader with PR_SET_PTRACER.
    DeclaredAncestor,
    /// The sibling declared PR_SET_PTRACER_ANY.
    DeclaredAny,
    /// The sibling named a task that is not the reader's ancestor.
    DeclaredUnrelated,
    /// The reader is root (CAP_SYS_PTRACE), the target its sibling.
    RootSibling,
}

#[derive(Clone, Copy, Debug)]
pub struct YamaCase {
    scope: u32,
    relation: Relation,
}

impl YamaCase {
    /// Every relation at the scope most kernels run (1, the default);
    /// at 0 and 2, the relations that tell them apart. Scope 3 (nobody
    /// attaches, and it cannot be lowered again) is left out.
    fn all() -> Vec<YamaCase> {
        let mut v = vec![YamaCase {
            scope: 0,
            relation: Relation::Sibling,
        }];
        for relation in [
            Relation::Descendant,
            Relation::Sibling,
            Relation::DeclaredAncestor,
            Relation::DeclaredAny,
            Relation::DeclaredUnrelated,
            Relation::RootSibling,
        ] {
            v.push(YamaCase { scope: 1, relation });
        }
        for relation in [Relation::Descendant, Relation::RootSibling] {
            v.push(YamaCase { scope: 2, relation });
        }
        v
    }
}

impl YamaCase {
    /// The sysctl value of the scope this case checks.
    fn scope_setting(&self) -> &'static [&'static str] {
        match self.scope {
            0 => &["0"],
            1 => &["1"],
            2 => &["2"],
            _ => &["3"],
        }
    }
}

impl Param for YamaCase {
    fn slug(&self) -> String {
        let relation = match self.relation {
            Relation::Descendant => "descendant",
            Relation::Sibling => "sibling",
            Relation::DeclaredAncestor => "sibling-declared-ancestor",
            Relation::DeclaredAny => "sibling-declared-any",
            Relation::DeclaredUnrelated => "sibling-declared-unrelated",
            Relation::RootSibling => "root-sibling",
        };
        format!("scope-{}/{relation}", self.scope)
    }
}

/// Yama's ptrace_scope decides every PTRACE_MODE_ATTACH access of a
/// same-uid, dumpable target: process_vm_readv(), /proc/PID/mem and
/// PTRACE_ATTACH alike.
const YAMA: Scenario<YamaCase> = Scenario {
    base: "ptrace-access/yama",
    area: AREA,
    summary: "Yama's ptrace_scope gates process_vm_readv, /proc/PID/mem and attach alike",
    needs: |c| {
        match c.relation {
            Relation::RootSibling => Needs::root(),
            _ => Needs::any(),
        }
        .sysctl(YAMA_SCOPE, c.scope_setting())
    },
    run: yama,
};

fn yama(case: &YamaCase, _: &Ctx) -> Outcome {
    match access::yama_scope() {
        None => return Err(Stop::lacks(
            "no /proc/sys/kernel/yama: Yama is not built in (CONFIG_SECURITY_YAMA) or not enabled",
        )),
        Some(scope) if scope != case.scope => {
            return Err(Stop::forbidden(format!(
                "kernel.yama.ptrace_scope is {scope} here; this instance checks scope {} \
                 (kconform never changes it on the running kernel; under QEMU it does)",
                case.scope
            )))
        }
        Some(_) => {}
    }
    readv_exists()?;
    let all_three = |pid: Pid| -> Outcome {
        // Attach last: once attached, Yama lets the tracer read anyway.
        Ok(Observation::new(format!(
            "{} {} {}",
            readv(pid),
            proc_mem(pid),
            attach(pid)
        )))
    };
    let scenario_pid = getpid();
    let sibling = |declare: Relation| {
        Target::spawn(move || {
            creds::drop_to(NOBODY)?;
            set_dumpable(1)?;
            match declare {
                Relation::DeclaredAncestor => access::set_ptracer(scenario_pid)?,
                Relation::DeclaredAny => allow_any_tracer(),
                Relation::DeclaredUnrelated => access::set_ptracer(getpid())?,
                _ => {}
            }
            set_mark();
            Ok(Then::Park(String::new()))
        })
    };
    match case.relation {
        Relation::Descendant => as_uid(NOBODY, || {
            let target = Target::spawn(|| {
                set_mark();
                Ok(Then::Park(String::new()))
            })?;
            all_three(target.pid)
        }),
        Relation::RootSibling => {
            let target = sibling(Relation::Sibling)?;
            // The scenario process is the target's parent: a sibling of
            // it does the reading, as root.
            access::as_uid(0, || all_three(target.pid))
        }
        declared => {
            let target = sibling(declared)?;
            as_uid(NOBODY, || all_three(target.pid))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_are_stable_and_unique() {
        let ids: Vec<String> = instances().into_iter().map(|i| i.id).collect();
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        assert!(ids.iter().all(|i| i.starts_with("ptrace-access/")));
        assert!(ids.len() <= 80, "{} instances", ids.len());
    }

    #[test]
    fn reads_what_the_mark_says() {
        assert_eq!(what_was_read(MARK_VALUE.to_ne_bytes()), "read=target");
        assert_eq!(what_was_read([0; 8]), "read=unset");
    }
}
