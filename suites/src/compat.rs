//! 32-bit compat syscalls on x86_64 (BRIEF item 5; issue 6).
//!
//! An x86_64 kernel with IA32 emulation takes i386 syscalls from a 64-bit
//! task (`int 0x80`) and runs 32-bit executables. seccomp hands such a
//! call to the filter with seccomp_data.arch = AUDIT_ARCH_I386 and the
//! number from the i386 table, so a filter that compares numbers without
//! checking the arch first is bypassed (i386 getpid is 20, not 39) and
//! even misfires (i386 exit is 1, x86_64 write's number). A filter that
//! checks the arch first (samples/seccomp, libseccomp) kills the call. x32
//! calls (`syscall` with __X32_SYSCALL_BIT in the number) come with arch
//! AUDIT_ARCH_X86_64, so only a filter that also checks that bit stops
//! them; the filter sees them even where the kernel has no x32 ABI.
//!
//! Each scenario runs the same calls along one of four paths: `syscall64`
//! (the native reference), `int80` (i386 calls from 64-bit code), `elf32`
//! (a static i386 executable generated at run time and exec'd under a
//! filter installed before the exec) and `x32`. Observations list each
//! call's result (`getpid=pid`, an errno name, a number, or `none` when
//! it never returned), then how the subject ended and what reached the
//! effects pipe (`effects=W` when a write got through). Paths the kernel
//! lacks are probed in the subject before any filter and skipped with
//! the reason: IA32 emulation absent or off (int 0x80 faults, ELF32 exec
//! fails with ENOEXEC), or no x32 ABI (x32 getpid answers ENOSYS).

use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;

use kconform_core::{setup, Area, Needs, Observation, Param, Scenario, Stop};
use nix::errno::Errno;
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{raise, Signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::kit::bpf::{Bpf, X32_SYSCALL_BIT};
use crate::kit::compat::{
    decode_seen, i386, int80, low_byte, on_marked, probe_int80, reporting_filter, syscall3,
    syscall_info, Elf32, Results, ELF32_BYTE, INFO_ENTRY, MARK, MARK_HI,
};
use crate::kit::seccomp::{ArchCheck, Filter, Ret};
use crate::kit::task::{describe, event_name, give_up, require, spawn, wait_exit, Notes};
use crate::kit::trace::{arch_name, Attach, Tracee};

/// Where each call's result goes (the subject's dup of the results pipe).
const RESULT_FD: RawFd = 100;
/// The fd only the `write` call writes to (the effects pipe).
const EFFECT_FD: RawFd = 101;
/// RET_TRACE data and RET_TRAP data the tracer must read back.
const TRACE_DATA: u16 = 0x7;
const TRAP_DATA: u16 = 0x42;
/// A high word put into the first argument's register: i386 syscalls
/// use only the low 32 bits, and the filter reports what it saw.
const HIGH_WORD: u64 = 0x5a5;

/// How the subject makes its syscalls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// `syscall` from 64-bit code with x86_64 numbers: the reference.
    Syscall64,
    /// `int 0x80` from the same 64-bit process, with i386 numbers.
    Int80,
    /// `int 0x80` from a static ELF32 i386 executable exec'd by the subject.
    Elf32,
    /// `syscall` with x86_64 numbers | __X32_SYSCALL_BIT.
    X32,
}

impl Path {
    pub const ALL: [Path; 4] = [Path::Syscall64, Path::Int80, Path::Elf32, Path::X32];

    fn slug(self) -> &'static str {
        match self {
            Path::Syscall64 => "syscall64",
            Path::Int80 => "int80",
            Path::Elf32 => "elf32",
            Path::X32 => "x32",
        }
    }

    fn needs(self) -> Needs {
        match self {
            Path::Int80 | Path::Elf32 => Needs::any().config("CONFIG_IA32_EMULATION"),
            Path::Syscall64 => Needs::any(),
            // Debian builds x32 in but off unless booted with this; its
            // cloud flavour leaves it out.
            Path::X32 => Needs::any()
                .config("CONFIG_X86_X32_ABI")
                .cmdline("syscall.x32=y"),
        }
    }
}

/// One syscall the subject makes, named by what it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// getpid(arg0): the argument is ignored by the kernel but seen by filters.
    Getpid(u64),
    /// write(EFFECT_FD, "W", 1).
    Write,
    /// exit(code): ends the process when it gets through.
    Exit(u32),
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Getpid(_) => "getpid",
            Call::Write => "write",
            Call::Exit(_) => "exit",
        }
    }

    /// The number in the table `path` indexes.
    fn nr(self, path: Path) -> u32 {
        let (x86_64, i386) = match self {
            Call::Getpid(_) => (libc::SYS_getpid as u32, i386::GETPID),
            Call::Write => (libc::SYS_write as u32, i386::WRITE),
            Call::Exit(_) => (libc::SYS_exit as u32, i386::EXIT),
        };
        match path {
            Path::Syscall64 => x86_64,
            Path::X32 => x86_64 | X32_SYSCALL_BIT,
            Path::Int80 | Path::Elf32 => i386,
        }
    }

    /// The arguments, with `byte` the address of a `W` below 4 GiB.
    fn args(self, byte: u64) -> [u64; 3] {
        match self {
            Call::Getpid(a0) => [a0, 0, 0],
            Call::Write => [EFFECT_FD as u64, byte, 1],
            Call::Exit(code) => [code as u64, 0, 0],
        }
    }

    fn invoke(self, path: Path, byte: u64) -> i64 {
        let [a0, a1, a2] = self.args(byte);
        match path {
            Path::Int80 => int80(self.nr(path), a0, a1, a2),
            _ => syscall3(self.nr(path) as u64, a0, a1, a2),
        }
    }
}

/// The pipes a subject reports through: call results (binary, so the
/// ELF32 program can write them), side effects, and probe outcomes.
struct Io {
    results: Results,
    effects: Notes,
    status: Notes,
}

/// An executable file in a fresh directory, removed when dropped.
struct TempExe {
    dir: PathBuf,
    path: CString,
}

impl TempExe {
    /// Under $TMPDIR or, failing that (no /tmp in an initramfs), next to
    /// the running binary or in /.
    fn write(image: &[u8]) -> Result<TempExe, Stop> {
        use std::os::unix::fs::PermissionsExt;
        let mut candidates = vec![std::env::temp_dir()];
        if let Some(p) = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|p| p.to_path_buf()))
        {
            candidates.push(p);
        }
        candidates.push(PathBuf::from("/"));
        let dir = candidates
            .into_iter()
            .find_map(|c| nix::unistd::mkdtemp(&c.join("kconform-elf32-XXXXXX")).ok())
            .ok_or_else(|| Stop::error("no writable directory for the ELF32 executable"))?;
        let file = dir.join("elf32");
        let written = std::fs::write(&file, image)
            .and_then(|_| std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)));
        let exe = TempExe {
            path: CString::new(file.as_os_str().as_encoded_bytes())
                .map_err(|e| Stop::error(format!("temp path: {e}")))?,
            dir,
        };
        written?;
        Ok(exe)
    }
}

impl Drop for TempExe {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The calls as an ELF32 program that reports each result to RESULT_FD.
fn elf32_image(calls: &[Call]) -> Vec<u8> {
    let program = calls.iter().fold(Elf32::new(), |p, c| {
        let [a0, a1, a2] = c.args(ELF32_BYTE as u64);
        p.call(
            c.nr(Path::Elf32),
            [a0 as u32, a1 as u32, a2 as u32],
            RESULT_FD as u32,
        )
    });
    program.image(0)
}

/// The subject: probe the path, install the filter, make the calls (or
/// exec the ELF32 program that makes them), report each result.
fn subject(
    path: Path,
    calls: &[Call],
    filter: Option<&Bpf>,
    exe: Option<&CString>,
    io: &Io,
    stop_first: bool,
) -> i32 {
    // A pipe already at one of the fixed numbers would be overwritten (or,
    // dup2'd onto itself, keep its close-on-exec flag).
    let clear = |fd: RawFd| fd != RESULT_FD && fd != EFFECT_FD;
    let apart = clear(io.results.tx().as_raw_fd()) && clear(io.effects.raw_tx());
    setup::or_exit(
        "pipes apart from RESULT_FD and EFFECT_FD",
        if apart { Ok(()) } else { Err(Errno::EBUSY) },
    );
    // SAFETY: dup2 onto fd numbers this process does not use otherwise.
    let results = Errno::result(unsafe { libc::dup2(io.results.tx().as_raw_fd(), RESULT_FD) });
    setup::or_exit("dup2(RESULT_FD)", results);
    // SAFETY: as above.
    let effects = Errno::result(unsafe { libc::dup2(io.effects.raw_tx(), EFFECT_FD) });
    setup::or_exit("dup2(EFFECT_FD)", effects);
    if stop_first {
        setup::or_exit("raise(SIGSTOP)", raise(Signal::SIGSTOP));
    }
    let pid = nix::unistd::getpid().as_raw() as i64;
    match path {
        Path::Int80 => {
            if let Err(got) = probe_int80(io.status.raw_tx()) {
                io.status.say(&format!(
                    "skip: int 0x80 getpid answered {got}, not the pid"
                ));
                return 125;
            }
        }
        Path::X32 => {
            let got = syscall3((libc::SYS_getpid as u32 | X32_SYSCALL_BIT) as u64, 0, 0, 0);
            // Filters see x32 calls either way; whether one that gets past
            // the filter runs depends on the ABI, so scenarios decide.
            if got == -(libc::ENOSYS as i64) {
                io.status.say("x32-absent");
            } else {
                require(
                    "syscall(__X32_SYSCALL_BIT | SYS_getpid)",
                    got == pid,
                    format_args!("answered {got}, not the pid"),
                );
            }
        }
        Path::Syscall64 | Path::Elf32 => {}
    }
    let byte = match path {
        Path::Elf32 => ELF32_BYTE as u64,
        _ => setup::or_exit("mmap(MAP_32BIT)", low_byte(b'W')),
    };
    if let Some(f) = filter {
        f.install_or_exit();
    }
    if let Some(exe) = exe {
        let argv = [exe.as_c_str()];
        let env: [&std::ffi::CStr; 0] = [];
        let skip = match nix::unistd::execve(exe, &argv, &env).unwrap_err() {
            Errno::ENOEXEC => {
                "skip: exec of an ELF32 i386 executable failed with ENOEXEC: \
                 IA32 emulation is not built in (CONFIG_IA32_EMULATION) or is off \
                 (ia32_emulation=false, CONFIG_IA32_EMULATION_DEFAULT_DISABLED)"
            }
            Errno::EACCES => {
                "skip: exec from the temporary directory failed with EACCES \
                 (mounted noexec?)"
            }
            e => give_up("execve(elf32)", e),
        };
        io.status.say(skip);
        return 126;
    }
    for c in calls {
        Results::put(RESULT_FD, c.invoke(path, byte));
    }
    0
}

/// What the tracer watches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watch {
    /// PTRACE_SYSCALL: the syscall-entry stop of the marked call.
    SyscallEntry,
    /// PTRACE_EVENT_SECCOMP of a RET_TRACE rule on the marked call.
    SeccompStop,
    /// The SIGSYS delivery stop of a RET_TRAP rule, suppressed.
    Trap,
}

/// One subject run: each call's result, its end, side effects, and what
/// a tracer logged.
struct Ran {
    pid: Pid,
    results: Vec<i64>,
    end: String,
    effects: String,
    trace: Vec<String>,
    x32_absent: bool,
}

impl Ran {
    /// For an x32 call that gets past the filter: the kernel must run it,
    /// else the observation says nothing about the filter.
    fn x32_required(self) -> Result<Ran, Stop> {
        if self.x32_absent {
            let why = "x32 syscalls answer ENOSYS: no x32 ABI (CONFIG_X86_X32_ABI, \
                       or Debian's CONFIG_X86_X32_DISABLED without syscall.x32=y)";
            // Booted with the switch on (as kconform's VMs are), the
            // kernel lacks x32; without it, the running kernel's boot
            // settings are the host's, which kconform never changes.
            let switched_on = std::fs::read_to_string("/proc/cmdline")
                .is_ok_and(|c| c.split_whitespace().any(|w| w == "syscall.x32=y"));
            return Err(if switched_on {
                Stop::lacks(why)
            } else {
                Stop::forbidden(why)
            });
        }
        Ok(self)
    }

    /// `getpid=pid write=EPERM`, `none` for calls that never returned.
    fn calls(&self, calls: &[Call]) -> String {
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let v = match self.results.get(i) {
                    None => "none".to_string(),
                    Some(&v) if v == self.pid.as_raw() as i64 => "pid".to_string(),
                    Some(&v) if v < 0 => format!("{:?}", Errno::from_raw(-v as i32)),
                    Some(v) => v.to_string(),
                };
                format!("{}={v}", c.name())
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Run `calls` along `path` under `filter`, traced when `watch` says so;
/// a path the kernel lacks becomes a skip.
fn run(path: Path, calls: &[Call], filter: Option<Bpf>, watch: Option<Watch>) -> Result<Ran, Stop> {
    let exe = match path {
        Path::Elf32 => Some(TempExe::write(&elf32_image(calls))?),
        _ => None,
    };
    let io = Io {
        results: Results::new()?,
        effects: Notes::new()?,
        status: Notes::new()?,
    };
    let stop_first = watch == Some(Watch::SyscallEntry);
    let body = || {
        subject(
            path,
            calls,
            filter.as_ref(),
            exe.as_ref().map(|e| &e.path),
            &io,
            stop_first,
        )
    };
    let (pid, end, trace) = match watch {
        None => {
            let pid = spawn(body)?;
            (pid, wait_exit(pid)?, Vec::new())
        }
        Some(w) => {
            let options = Options::PTRACE_O_TRACESYSGOOD | Options::PTRACE_O_TRACESECCOMP;
            let tracee = Tracee::spawn(Attach::Seize, options, body)?;
            let (log, end) = follow(&tracee, w)?;
            (tracee.pid, end, log)
        }
    };
    let status = io.status.take();
    for s in &status {
        if let Some(why) = s.strip_prefix("skip: ") {
            return Err(Stop::lacks(why));
        }
    }
    let results = io.results.take();
    if status.iter().any(|s| s == "int80-faulted") {
        return Err(Stop::lacks(
            "int 0x80 from a 64-bit task raised SIGSEGV: IA32 emulation is not built in \
             (CONFIG_IA32_EMULATION) or is off (ia32_emulation=false, \
             CONFIG_IA32_EMULATION_DEFAULT_DISABLED)",
        ));
    }
    Ok(Ran {
        pid,
        results,
        end,
        effects: io.effects.summary(),
        trace,
        x32_absent: status.iter().any(|s| s == "x32-absent"),
    })
}

/// Follow the tracee to its end, logging the stop `watch` names for the
/// marked call (and any SIGSYS stop, which is suppressed).
fn follow(tracee: &Tracee, watch: Watch) -> Result<(Vec<String>, String), Stop> {
    let mut log = Vec::new();
    let mut seen = false;
    for _ in 0..256 {
        let s = tracee.wait()?;
        let Some(pid) = s.pid() else { continue };
        let mut deliver = None;
        match s {
            WaitStatus::Exited(..) | WaitStatus::Signaled(..) => return Ok((log, describe(&s))),
            WaitStatus::PtraceSyscall(_) if !seen => {
                let info = syscall_info(pid)?;
                if info.op == INFO_ENTRY && info.args[0] as u32 == MARK {
                    let regs = ptrace::getregs(pid)?;
                    log.push(format!(
                        "syscall-entry orig_rax={} arch={} nr={}",
                        regs.orig_rax as i64,
                        arch_name(info.arch),
                        info.nr
                    ));
                    seen = true;
                }
            }
            WaitStatus::PtraceEvent(_, _, ev) if event_name(ev) == "SECCOMP" => {
                let msg = ptrace::getevent(pid)?;
                let info = syscall_info(pid)?;
                let regs = ptrace::getregs(pid)?;
                log.push(format!(
                    "event SECCOMP msg={msg:#x} orig_rax={} arch={} nr={} ret_data={:#x}",
                    regs.orig_rax as i64,
                    arch_name(info.arch),
                    info.nr,
                    info.ret_data
                ));
                seen = true;
            }
            WaitStatus::Stopped(_, Signal::SIGSYS) => {
                log.push(format!("stop {}", tracee.siginfo()?));
            }
            WaitStatus::Stopped(_, Signal::SIGSTOP) => {}
            WaitStatus::Stopped(_, sig) => deliver = Some(sig),
            _ => {}
        }
        let _ = if watch == Watch::SyscallEntry && !seen {
            ptrace::syscall(pid, deliver)
        } else {
            ptrace::cont(pid, deliver)
        };
    }
    log.push("...".into());
    Ok((log, "running".into()))
}

impl Param for Path {
    fn slug(&self) -> String {
        Path::slug(*self).to_string()
    }
}

/// What the filter is handed: the arch and number of the table the call
/// indexes, and the first argument as the registers held it.
pub const FILTER_SEES: Scenario<Path> = Scenario {
    base: "compat/filter-sees",
    area: AREA,
    summary: "seccomp_data.arch and nr name the table the call indexes (i386 for int 0x80)",
    needs: |p| p.needs(),
    run: |p, _| {
        // 32-bit code cannot set a register's high half.
        let hi = if *p == Path::Elf32 {
            0
        } else {
            HIGH_WORD << 32
        };
        let calls = [Call::Getpid(MARK as u64), Call::Getpid(MARK_HI as u64 | hi)];
        let ran = run(*p, &calls, Some(reporting_filter()), None)?;
        let seen = match ran.results.first() {
            Some(&v) if v < 0 => decode_seen(-v),
            Some(v) => format!("unfiltered ret={v}"),
            None => "none".into(),
        };
        let high = match ran.results.get(1) {
            Some(&v) if v <= 0 => format!("{:#x}", -v),
            Some(v) => format!("unfiltered ret={v}"),
            None => "none".into(),
        };
        Ok(Observation::new(format!(
            "{seen} arg0-high={high} -> {}",
            ran.end
        )))
    },
};

/// A call and the path it takes.
#[derive(Clone, Copy, Debug)]
pub struct Via {
    pub call: Call,
    pub path: Path,
}

impl Param for Via {
    fn slug(&self) -> String {
        format!("{}/{}", self.call.name(), self.path.slug())
    }
}

/// The filter a careless sandbox writes: x86_64 numbers, no arch check.
/// It denies getpid() and write() to the effects fd.
fn naive_filter() -> Bpf {
    Filter::checking(ArchCheck::None)
        .on(libc::SYS_getpid, Ret::Errno(libc::EPERM as u16))
        .on_arg0(
            libc::SYS_write,
            EFFECT_FD as u32,
            Ret::Errno(libc::EPERM as u16),
        )
        .bpf()
}

fn calls_and_end(ran: &Ran, calls: &[Call]) -> String {
    format!(
        "{} -> {}; effects={}",
        ran.calls(calls),
        ran.end,
        ran.effects
    )
}

/// A filter that matches x86_64 numbers without checking the arch is
/// bypassed through the compat table (and hits the wrong syscall: i386
/// exit is number 1, x86_64 write's, so exit(101) matches the write(101)
/// rule).
pub const NAIVE_FILTER: Scenario<Via> = Scenario {
    base: "compat/naive-filter",
    area: AREA,
    summary: "a filter comparing x86_64 numbers without the arch is bypassed by compat calls",
    needs: |p| p.path.needs(),
    run: |p, _| {
        let calls = [p.call];
        let ran = run(p.path, &calls, Some(naive_filter()), None)?.x32_required()?;
        Ok(Observation::new(calls_and_end(&ran, &calls)))
    },
};

/// The same denial behind an arch check, the way the kernel's
/// samples/seccomp and this suite's own filters do it: a compat call
/// kills the process before any number is compared. x32 calls carry the
/// x86_64 arch, so they pass the check.
pub const ARCH_CHECKED: Scenario<Path> = Scenario {
    base: "compat/arch-checked-filter",
    area: AREA,
    summary: "a filter that checks the arch first kills compat calls",
    needs: |p| p.needs(),
    run: |p, _| {
        let calls = [Call::Getpid(0)];
        let filter = Filter::checking(ArchCheck::Arch)
            .on(libc::SYS_getpid, Ret::Errno(libc::EPERM as u16))
            .bpf();
        let ran = run(*p, &calls, Some(filter), None)?.x32_required()?;
        Ok(Observation::new(calls_and_end(&ran, &calls)))
    },
};

/// libseccomp's x86_64 filters also kill numbers with __X32_SYSCALL_BIT:
/// the x32 call dies at the filter whether or not the kernel has x32.
pub const X32_AWARE: Scenario<Path> = Scenario {
    base: "compat/x32-aware-filter",
    area: AREA,
    summary: "a filter that checks arch and the x32 bit kills x32 calls",
    needs: |p| p.needs(),
    run: |p, _| {
        let calls = [Call::Getpid(0)];
        let filter = Filter::checking(ArchCheck::ArchAndX32)
            .on(libc::SYS_getpid, Ret::Errno(libc::EPERM as u16))
            .bpf();
        let ran = run(*p, &calls, Some(filter), None)?;
        Ok(Observation::new(calls_and_end(&ran, &calls)))
    },
};

/// RET_TRAP on a compat call: the tracer's SIGSYS siginfo names the i386
/// arch and number, and the suppressed call returns what the rollback
/// left in eax (its own number).
pub const TRAP_SIGINFO: Scenario<Path> = Scenario {
    base: "compat/trap-siginfo",
    area: AREA,
    summary: "RET_TRAP's SIGSYS carries the compat arch and number",
    needs: |p| p.needs(),
    run: |p, _| {
        let calls = [Call::Getpid(MARK as u64)];
        let filter = on_marked(Ret::Trap(TRAP_DATA));
        let ran = run(*p, &calls, Some(filter), Some(Watch::Trap))?;
        let ret = match ran.results.first() {
            Some(v) => v.to_string(),
            None => "none".into(),
        };
        Ok(Observation::new(format!(
            "{}; getpid ret={ret} -> {}",
            ran.trace.join(" -> "),
            ran.end
        )))
    },
};

/// The stop and the path.
#[derive(Clone, Copy, Debug)]
pub struct Traced {
    pub watch: Watch,
    pub path: Path,
}

impl Param for Traced {
    fn slug(&self) -> String {
        let stop = match self.watch {
            Watch::SyscallEntry => "syscall-entry",
            Watch::SeccompStop => "seccomp-stop",
            Watch::Trap => "trap",
        };
        format!("{stop}/{}", self.path.slug())
    }
}

/// What a 64-bit tracer reads for a compat call: orig_rax holds the i386
/// number, and PTRACE_GET_SYSCALL_INFO names the i386 arch, at the
/// syscall-entry stop and at a RET_TRACE stop alike.
pub const TRACER_SEES: Scenario<Traced> = Scenario {
    base: "compat/tracer-sees",
    area: AREA,
    summary: "a tracer reads the i386 number in orig_rax and the i386 arch for a compat call",
    needs: |p| p.path.needs(),
    run: |p, _| {
        let calls = [Call::Getpid(MARK as u64)];
        let filter = match p.watch {
            Watch::SeccompStop => Some(on_marked(Ret::Trace(TRACE_DATA))),
            _ => None,
        };
        let ran = run(p.path, &calls, filter, Some(p.watch))?;
        Ok(Observation::new(format!(
            "{}; {} -> {}",
            if ran.trace.is_empty() {
                "no stop".to_string()
            } else {
                ran.trace.join(" -> ")
            },
            ran.calls(&calls),
            ran.end
        )))
    },
};

pub const AREA: Area = Area {
    name: "compat",
    summary: "32-bit compat syscalls: the arch filters see, no bypass through the compat table",
};

pub fn instances() -> Vec<kconform_core::Instance> {
    let mut all = Vec::new();
    all.extend(FILTER_SEES.expand(Path::ALL));
    let mut naive = Vec::new();
    for call in [Call::Getpid(0), Call::Write] {
        for path in Path::ALL {
            naive.push(Via { call, path });
        }
    }
    // The misfire needs the i386 table; x32 exit is x86_64's exit.
    for path in [Path::Int80, Path::Elf32] {
        naive.push(Via {
            call: Call::Exit(EFFECT_FD as u32),
            path,
        });
    }
    all.extend(NAIVE_FILTER.expand(naive));
    all.extend(ARCH_CHECKED.expand(Path::ALL));
    // The native answers of the next three are other areas' business
    // (arch-checked-filter/syscall64 is the same rule; sigsys, ret-trace).
    all.extend(X32_AWARE.expand([Path::X32]));
    all.extend(TRAP_SIGINFO.expand([Path::Int80, Path::Elf32]));
    let mut traced = Vec::new();
    for watch in [Watch::SyscallEntry, Watch::SeccompStop] {
        for path in [Path::Int80, Path::Elf32] {
            traced.push(Traced { watch, path });
        }
    }
    all.extend(TRACER_SEES.expand(traced));
    all
}
