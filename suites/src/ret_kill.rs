//! SECCOMP_RET_KILL unescapability (BRIEF item 2; seeds 000 and 001).
//!
//! A task killed by RET_KILL_THREAD or RET_KILL_PROCESS never runs another
//! instruction, whatever a tracer does: the tracer sees at most
//! PTRACE_EVENT_EXIT and the exit, never a signal-delivery stop it could
//! suppress; the killed syscall has no effect. A tracer that rewrites a
//! syscall at a RET_TRACE stop or at syscall-entry cannot get a denied
//! syscall past the filter: the filter is run again on the new syscall.
//!
//! Every subject proves "never ran again" the same way: the killed
//! syscall is `write(KILL_FD, "K")` into the effects pipe, and the code
//! after it notes `escaped`; the scenario reads the pipe once every
//! subject is dead, so an empty pipe (`effects=none`) is the proof.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

use kconform_core::{
    setup, Area, Ctx, Feature, Needs, Observation, Outcome, Param, Scenario, Stop,
};
use nix::errno::Errno;
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::kit::procfs::gettid;
use crate::kit::seccomp::{Filter, Ret};
use crate::kit::task::{
    describe, event_name, note_to, or_exit_stop, require, spawn, wait_exit, Notes,
};
use crate::kit::trace::{listen, result_name, Attach, Tracee};

/// The fd the killed write() goes to: a dup of the effects pipe that
/// only the filter's kill rule names.
const KILL_FD: RawFd = 100;

static K: [u8; 1] = *b"K";

/// The killed syscall: write(KILL_FD, "K", 1).
fn killed_write() -> isize {
    // SAFETY: write(2) from a static buffer.
    unsafe { libc::write(KILL_FD, K.as_ptr() as *const libc::c_void, 1) }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kill {
    Thread,
    Process,
}

impl Kill {
    pub const ALL: [Kill; 2] = [Kill::Thread, Kill::Process];
    fn ret(self) -> Ret {
        match self {
            Kill::Thread => Ret::KillThread,
            Kill::Process => Ret::KillProcess,
        }
    }
    pub(crate) fn slug(self) -> &'static str {
        match self {
            Kill::Thread => "kill-thread",
            Kill::Process => "kill-process",
        }
    }
    fn needs(self) -> Needs {
        match self {
            Kill::Thread => Needs::any(),
            Kill::Process => Needs::any().feature(Feature::RetKillProcess),
        }
    }
}

/// Whether the killed syscall comes from the only thread or from a
/// second thread while the main thread waits for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    Single,
    Multi,
}

impl Threads {
    pub const ALL: [Threads; 2] = [Threads::Single, Threads::Multi];
    pub(crate) fn slug(self) -> &'static str {
        match self {
            Threads::Single => "single-thread",
            Threads::Multi => "multi-thread",
        }
    }
}

/// What the tracer tries at the killed task's PTRACE_EVENT_EXIT stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    Cont0,
    SetRegs,
    Syscall,
    Detach,
    InterruptListen,
    SigCont,
}

impl Attempt {
    pub const ALL: [Attempt; 6] = [
        Attempt::Cont0,
        Attempt::SetRegs,
        Attempt::Syscall,
        Attempt::Detach,
        Attempt::InterruptListen,
        Attempt::SigCont,
    ];
    fn slug(self) -> &'static str {
        match self {
            Attempt::Cont0 => "cont-0",
            Attempt::SetRegs => "setregs",
            Attempt::Syscall => "syscall",
            Attempt::Detach => "detach",
            Attempt::InterruptListen => "interrupt-listen",
            Attempt::SigCont => "sigcont",
        }
    }

    /// Try to get `pid` running again; returns what each request answered.
    fn apply(self, pid: Pid) -> String {
        match self {
            Attempt::Cont0 => format!("cont={}", result_name(&ptrace::cont(pid, None))),
            Attempt::SetRegs => {
                let set = ptrace::getregs(pid).and_then(|mut regs| {
                    regs.rip = escape_hatch as *const () as u64;
                    ptrace::setregs(pid, regs)
                });
                let cont = ptrace::cont(pid, None);
                format!("setregs={} cont={}", result_name(&set), result_name(&cont))
            }
            Attempt::Syscall => format!("syscall={}", result_name(&ptrace::syscall(pid, None))),
            Attempt::Detach => format!("detach={}", result_name(&ptrace::detach(pid, None))),
            Attempt::InterruptListen => {
                let interrupt = ptrace::interrupt(pid);
                let listened = listen(pid);
                let mut s = format!(
                    "interrupt={} listen={}",
                    result_name(&interrupt),
                    result_name(&listened)
                );
                if listened.is_err() {
                    s += &format!(" cont={}", result_name(&ptrace::cont(pid, None)));
                }
                s
            }
            Attempt::SigCont => {
                let sent = kill(pid, Signal::SIGCONT);
                let cont = ptrace::cont(pid, Some(Signal::SIGCONT));
                format!("sigcont={} cont={}", result_name(&sent), result_name(&cont))
            }
        }
    }
}

static EFFECTS_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Where a tracer that rewrites the instruction pointer sends the task.
pub(crate) extern "C" fn escape_hatch() -> ! {
    note_to(
        EFFECTS_FD.load(std::sync::atomic::Ordering::SeqCst),
        b"escaped-via-regs",
    );
    // SAFETY: leave at once; nothing after an escape matters.
    unsafe { libc::_exit(77) }
}

extern "C" fn killed_thread(_: *mut libc::c_void) -> *mut libc::c_void {
    killed_write();
    note_to(
        EFFECTS_FD.load(std::sync::atomic::Ordering::SeqCst),
        b"escaped-thread",
    );
    std::ptr::null_mut()
}

/// The sandboxed code: install the filter, make the killed syscall (from
/// a second thread when asked), and note anything that runs after it.
pub(crate) fn sandboxed(kill: Kill, threads: Threads, effects: &Notes) -> i32 {
    filter_kill_write(kill);
    run_killed(threads, effects)
}

/// In a subject: the filter that kills write(KILL_FD), or give up.
fn filter_kill_write(kill: Kill) {
    Filter::allow_all()
        .on_arg0(libc::SYS_write, KILL_FD as u32, kill.ret())
        .install_or_exit();
}

fn run_killed(threads: Threads, effects: &Notes) -> i32 {
    match threads {
        Threads::Single => {
            killed_write();
            effects.say("escaped");
            0
        }
        Threads::Multi => {
            let mut t: libc::pthread_t = 0;
            // SAFETY: a plain pthread running an extern "C" fn without arguments.
            let rc = unsafe {
                libc::pthread_create(
                    &mut t,
                    std::ptr::null(),
                    killed_thread,
                    std::ptr::null_mut(),
                )
            };
            require("pthread_create", rc == 0, Errno::from_raw(rc));
            // SAFETY: joining the thread created above.
            unsafe { libc::pthread_join(t, std::ptr::null_mut()) };
            effects.say("main-after-join");
            3
        }
    }
}

/// Prepare the effects pipe: KILL_FD points into it, and the escape
/// paths know where to note.
pub(crate) fn effects_pipe() -> Result<KillEffects, Stop> {
    let effects = Notes::new()?;
    // Were the pipe itself at KILL_FD, the filter would kill its notes too.
    if effects.raw_tx() == KILL_FD {
        return Err(setup::failed("a pipe apart from KILL_FD", Errno::EBUSY));
    }
    // SAFETY: dup2 onto a fixed fd number this process does not use otherwise.
    let dup = Errno::result(unsafe { libc::dup2(effects.raw_tx(), KILL_FD) });
    setup::step("dup2(KILL_FD)", dup)?;
    EFFECTS_FD.store(effects.raw_tx(), std::sync::atomic::Ordering::SeqCst);
    Ok(KillEffects(effects))
}

/// The effects pipe with KILL_FD open on it, until dropped: the scenario
/// process may run another instance after this one (see
/// `kconform_core::reuse`), which must not find the descriptor open.
pub(crate) struct KillEffects(Notes);

impl std::ops::Deref for KillEffects {
    type Target = Notes;
    fn deref(&self) -> &Notes {
        &self.0
    }
}

impl Drop for KillEffects {
    fn drop(&mut self) {
        let _ = nix::unistd::close(KILL_FD);
    }
}

/// Follow every traced task of ours until `leader` is gone: answer each
/// EXIT stop with `attempt`, suppress any SIGSYS delivery stop (the
/// escape a broken kernel would allow), resume anything else.
///
/// The text is per task, each in its own order (`main: ...; thread: ...`):
/// across threads the order is a race. A non-leader thread's exit status
/// is left out too: once the group has exited, wait reports the group's
/// exit code for every thread still unreaped, so it is a race as well.
fn follow_kill(leader: Pid, attempt: Attempt) -> String {
    let mut main = Vec::new();
    let mut thread = Vec::new();
    let mut budget = 64;
    loop {
        budget -= 1;
        if budget == 0 {
            main.push("...".to_string());
            break;
        }
        let status = match waitpid(None, Some(WaitPidFlag::__WALL)) {
            Ok(s) => s,
            Err(nix::Error::EINTR) => continue,
            Err(e) => {
                main.push(format!("waitpid={e:?}"));
                break;
            }
        };
        let Some(pid) = status.pid() else { continue };
        let log = if pid == leader {
            &mut main
        } else {
            &mut thread
        };
        match status {
            WaitStatus::PtraceEvent(_, _, ev) if event_name(ev) == "EXIT" => {
                log.push("event EXIT".to_string());
                log.push(attempt.apply(pid));
            }
            WaitStatus::Stopped(_, Signal::SIGSYS) => {
                log.push("stop SIGSYS".to_string());
                let _ = ptrace::cont(pid, None);
            }
            WaitStatus::Stopped(_, sig) if sig != Signal::SIGSTOP => {
                let _ = ptrace::cont(pid, Some(sig));
            }
            WaitStatus::Exited(..) | WaitStatus::Signaled(..) => {
                if pid == leader {
                    main.push(describe(&status));
                    break;
                }
            }
            _ => {
                let _ = ptrace::cont(pid, None);
            }
        }
    }
    if thread.is_empty() {
        format!("main: {}", main.join(", "))
    } else {
        format!("main: {}; thread: {}", main.join(", "), thread.join(", "))
    }
}

pub(crate) const TRACE_OPTIONS: Options =
    Options::PTRACE_O_TRACEEXIT.union(Options::PTRACE_O_TRACECLONE);

/// The kill action and whether a second thread makes the killed syscall.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub kill: Kill,
    pub threads: Threads,
}

impl Param for Case {
    fn slug(&self) -> String {
        format!("{}/{}", self.kill.slug(), self.threads.slug())
    }
}

/// Without a tracer: the killed syscall has no effect, nothing after it
/// runs, and the status matches the action and thread count.
pub const UNTRACED: Scenario<Case> = Scenario {
    base: "ret-kill/untraced",
    area: AREA,
    summary: "a RET_KILL'd task dies at the syscall, which has no effect",
    needs: |p| p.kill.needs(),
    run: |p, _| {
        let effects = effects_pipe()?;
        let pid = spawn(|| sandboxed(p.kill, p.threads, &effects))?;
        let end = wait_exit(pid)?;
        Ok(Observation::new(format!(
            "{end}; effects={}",
            effects.summary()
        )))
    },
};

#[derive(Clone, Copy, Debug)]
pub struct Traced {
    pub kill: Kill,
    pub threads: Threads,
    pub attempt: Attempt,
}

impl Param for Traced {
    fn slug(&self) -> String {
        format!(
            "{}/{}/{}",
            self.kill.slug(),
            self.threads.slug(),
            self.attempt.slug()
        )
    }
}

/// Traced from outside the sandbox: the tracer sees the killed task's
/// EXIT stop and its death, never a SIGSYS stop, and nothing it tries
/// there makes the task run again.
pub const TRACED_BY_PARENT: Scenario<Traced> = Scenario {
    base: "ret-kill/traced-by-parent",
    area: AREA,
    summary: "a tracer cannot bring a RET_KILL'd task back to life",
    needs: |p| p.kill.needs(),
    run: |p, _| {
        let effects = effects_pipe()?;
        let tracee = Tracee::spawn(Attach::Seize, TRACE_OPTIONS, || {
            sandboxed(p.kill, p.threads, &effects)
        })?;
        let log = follow_kill(tracee.pid, p.attempt);
        Ok(Observation::new(format!(
            "{log}; effects={}",
            effects.summary()
        )))
    },
};

/// The sandboxed task traces its own child (clone() + ptrace() inside the
/// sandbox, the escape the seed thread worries about): same rules.
pub const TRACED_BY_SANDBOXED_SELF: Scenario<Traced> = Scenario {
    base: "ret-kill/traced-by-sandboxed-self",
    area: AREA,
    summary: "a sandboxed tracer cannot revive its own RET_KILL'd child",
    needs: |p| p.kill.needs(),
    run: |p, _| {
        let effects = effects_pipe()?;
        let report = Notes::new()?;
        let sandbox = spawn(|| {
            filter_kill_write(p.kill);
            let child = or_exit_stop(
                "fork+PTRACE_SEIZE",
                Tracee::spawn(Attach::Seize, TRACE_OPTIONS, || {
                    run_killed(p.threads, &effects)
                }),
            );
            report.say(&follow_kill(child.pid, p.attempt));
            0
        })?;
        let end = wait_exit(sandbox)?;
        if end != "exit 0" {
            return Err(Stop::error(format!(
                "the sandboxed tracer did not finish: {end}"
            )));
        }
        Ok(Observation::new(format!(
            "{}; effects={}",
            report.summary(),
            effects.summary()
        )))
    },
};

/// The exit status carries the core flag where the action dumps core:
/// KILL_PROCESS always, KILL_THREAD only when it kills the last thread.
pub const CORE_FLAG: Scenario<Case> = Scenario {
    base: "ret-kill/core-dump",
    area: AREA,
    summary: "RET_KILL dumps core for the process or its last thread only",
    needs: |p| p.kill.needs(),
    run: |p, _| {
        let p = *p;
        dumping(move |effects| sandboxed(p.kill, p.threads, effects))
    },
};

/// KILL_THREAD of the last thread still alive dumps core even though the
/// thread-group leader, which exited first (exit(2), as pthread_exit
/// does), stays a zombie until the group ends: "last" counts live
/// threads (`signal->live`), not the thread count, which still includes
/// the zombie leader.
pub const CORE_AFTER_LEADER_EXIT: Scenario<()> = Scenario {
    base: "ret-kill/core-dump/kill-thread/after-leader-exit",
    area: AREA,
    summary:
        "RET_KILL_THREAD of the last live thread dumps core while the exited leader is a zombie",
    needs: |_| Needs::any(),
    run: |_, _| dumping(after_leader_exit),
};

/// In a subject: install the KILL_THREAD filter, start a thread that waits
/// for the leader to have exited and then makes the killed write, and end
/// the leader with exit(2). A thread that survives notes `escaped-thread`
/// and ends the group with 5.
fn after_leader_exit(effects: &Notes) -> i32 {
    static GONE: AtomicI32 = AtomicI32::new(-1);
    filter_kill_write(Kill::Thread);
    GONE.store(gettid().as_raw(), Ordering::SeqCst);
    // The kernel zeroes GONE and wakes its futex once the leader has left
    // (mm_release, after PF_EXITING is set).
    // SAFETY: GONE is a static, live for the rest of the process.
    unsafe { libc::syscall(libc::SYS_set_tid_address, GONE.as_ptr()) };
    let tx = effects.raw_tx();
    let spawned = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            while GONE.load(Ordering::SeqCst) != 0 {
                let v = GONE.load(Ordering::SeqCst);
                // SAFETY: futex(2) wait on a live, aligned static i32.
                unsafe {
                    libc::syscall(
                        libc::SYS_futex,
                        GONE.as_ptr(),
                        libc::FUTEX_WAIT,
                        v,
                        std::ptr::null::<libc::timespec>(),
                    )
                };
            }
            killed_write();
            note_to(tx, b"escaped-thread");
            // SAFETY: ends the whole subject from the surviving thread.
            unsafe { libc::_exit(5) }
        });
    require("thread spawn", spawned.is_ok(), "spawn failed");
    // SAFETY: exit(2) ends only this thread.
    unsafe { libc::syscall(libc::SYS_exit, 0) };
    unreachable!("exit(2) returned")
}

/// Run `body` in a subject with RLIMIT_CORE unlimited, in a scratch
/// directory where its core would land; observe how it ended, whether a
/// core file appeared, and the effects.
fn dumping(body: impl FnOnce(&Notes) -> i32) -> Outcome {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern")
        .map_err(|e| Stop::lacks(format!("cannot read core_pattern: {e}")))?;
    let pattern = pattern.trim();
    if pattern.starts_with('|') || pattern.starts_with('/') || pattern.is_empty() {
        return Err(Stop::forbidden(format!(
            "core_pattern `{pattern}` does not dump into the working directory, \
             so the core flag depends on another program"
        )));
    }
    let dir = std::env::temp_dir().join(format!("kconform-core-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let effects = effects_pipe()?;
    let pid = spawn(|| {
        let unlimited = nix::sys::resource::RLIM_INFINITY;
        setup::or_exit(
            "setrlimit(RLIMIT_CORE, RLIM_INFINITY)",
            nix::sys::resource::setrlimit(
                nix::sys::resource::Resource::RLIMIT_CORE,
                unlimited,
                unlimited,
            ),
        );
        let call = format!("chdir({})", dir.display());
        setup::or_exit(&call, std::env::set_current_dir(&dir));
        body(&effects)
    })?;
    let end = wait_exit(pid)?;
    let dumped = std::fs::read_dir(&dir)
        .map(|d| d.count() > 0)
        .unwrap_or(false);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Observation::new(format!(
        "{end}; core-file={}; effects={}",
        if dumped { "yes" } else { "no" },
        effects.summary()
    )))
}

/// Where the tracer rewrites getppid() into the denied write().
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewriteAt {
    /// At the PTRACE_EVENT_SECCOMP stop of a RET_TRACE rule.
    SeccompStop,
    /// At the syscall-entry stop of PTRACE_SYSCALL.
    SyscallEntry,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    Kill(Kill),
    Errno,
}

#[derive(Clone, Copy, Debug)]
pub struct Rewrite {
    pub at: RewriteAt,
    pub denial: Denial,
}

impl Param for Rewrite {
    fn slug(&self) -> String {
        let at = match self.at {
            RewriteAt::SeccompStop => "at-seccomp-stop",
            RewriteAt::SyscallEntry => "at-syscall-entry",
        };
        let denial = match self.denial {
            Denial::Kill(k) => k.slug(),
            Denial::Errno => "errno",
        };
        format!("{at}/{denial}")
    }
}

/// A tracer that swaps the syscall for a denied one does not get it
/// through: seccomp runs the filters again on the new syscall (4.8+).
pub const REWRITE_RECHECKED: Scenario<Rewrite> = Scenario {
    base: "ret-kill/tracer-rewrite-rechecked",
    area: AREA,
    summary: "a syscall rewritten by the tracer goes through the filter again",
    needs: |p| match p.denial {
        Denial::Kill(k) => k.needs(),
        Denial::Errno => Needs::any(),
    },
    run: rewrite_rechecked,
};

fn rewrite_rechecked(p: &Rewrite, _: &Ctx) -> Outcome {
    let effects = effects_pipe()?;
    let denied = match p.denial {
        Denial::Kill(k) => k.ret(),
        Denial::Errno => Ret::Errno(libc::EPERM as u16),
    };
    let mut filter = Filter::allow_all().on_arg0(libc::SYS_write, KILL_FD as u32, denied);
    let options = match p.at {
        RewriteAt::SeccompStop => {
            filter = filter.on(libc::SYS_getppid, Ret::Trace(7));
            Options::PTRACE_O_TRACESECCOMP | Options::PTRACE_O_TRACEEXIT
        }
        RewriteAt::SyscallEntry => Options::PTRACE_O_TRACESYSGOOD | Options::PTRACE_O_TRACEEXIT,
    };
    let tracee = Tracee::spawn(Attach::Seize, options, || {
        filter.install_or_exit();
        // A fixed point for the tracer to start from.
        setup::or_exit("raise(SIGSTOP)", nix::sys::signal::raise(Signal::SIGSTOP));
        // SAFETY: getppid takes no arguments.
        let ret = unsafe { libc::syscall(libc::SYS_getppid) };
        let errno = if ret < 0 {
            nix::errno::Errno::last_raw()
        } else {
            0
        };
        effects.say(&format!("after ret={ret} errno={errno}"));
        0
    })?;
    let mut log = Vec::new();
    let mut rewritten = false;
    loop {
        let s = tracee.wait()?;
        match s {
            WaitStatus::Stopped(pid, Signal::SIGSTOP) if !rewritten => {
                let _ = match p.at {
                    RewriteAt::SeccompStop => ptrace::cont(pid, None),
                    RewriteAt::SyscallEntry => ptrace::syscall(pid, None),
                };
            }
            WaitStatus::PtraceEvent(pid, _, ev) if event_name(ev) == "SECCOMP" && !rewritten => {
                log.push("event SECCOMP".to_string());
                log.push(rewrite_to_denied_write(pid));
                rewritten = true;
                let _ = ptrace::cont(pid, None);
            }
            WaitStatus::PtraceSyscall(pid) => {
                let regs = ptrace::getregs(pid)?;
                if !rewritten && regs.orig_rax == libc::SYS_getppid as u64 {
                    log.push("syscall-entry getppid".to_string());
                    log.push(rewrite_to_denied_write(pid));
                    rewritten = true;
                    let _ = ptrace::cont(pid, None);
                } else if !rewritten {
                    let _ = ptrace::syscall(pid, None);
                } else {
                    let _ = ptrace::cont(pid, None);
                }
            }
            WaitStatus::PtraceEvent(pid, _, ev) => {
                log.push(format!("event {}", event_name(ev)));
                let _ = ptrace::cont(pid, None);
            }
            WaitStatus::Stopped(pid, sig) => {
                log.push(format!("stop {}", sig.as_str()));
                let _ = ptrace::cont(pid, None);
            }
            other => {
                log.push(describe(&other));
                break;
            }
        }
        if log.len() > 16 {
            log.push("...".into());
            break;
        }
    }
    Ok(Observation::new(format!(
        "{}; effects={}",
        log.join(" -> "),
        effects.summary()
    )))
}

/// Turn the stopped getppid() into write(KILL_FD, "K", 1).
fn rewrite_to_denied_write(pid: Pid) -> String {
    let r = ptrace::getregs(pid).and_then(|mut regs| {
        regs.orig_rax = libc::SYS_write as u64;
        regs.rdi = KILL_FD as u64;
        regs.rsi = K.as_ptr() as u64;
        regs.rdx = 1;
        ptrace::setregs(pid, regs)
    });
    format!("rewrite getppid=>write setregs={}", result_name(&r))
}

/// The kill action and what the tracer tries at the init's EXIT stop.
#[derive(Clone, Copy, Debug)]
pub struct InitCase {
    pub kill: Kill,
    pub attempt: Attempt,
}

impl Param for InitCase {
    fn slug(&self) -> String {
        format!("{}/{}", self.kill.slug(), self.attempt.slug())
    }
}

/// A pid-namespace init (pid 1 of a new namespace, traced by its parent
/// outside it) that RET_KILL kills: the kernel protects an init from
/// signals it has not asked for (a SIGSYS it raises is ignored), but not
/// from a forced kill; it dies with SIGSYS without running again, the
/// tracer sees only its EXIT stop, and its death takes the namespace
/// down: zap_pid_ns_processes() SIGKILLs the init's child.
pub const PIDNS_INIT: Scenario<InitCase> = Scenario {
    base: "ret-kill/pidns-init",
    area: AREA,
    summary: "a traced pid-namespace init dies of RET_KILL, and its namespace with it",
    needs: |p| p.kill.needs().config("CONFIG_PID_NS"),
    run: pidns_init,
};

fn pidns_init(p: &InitCase, _: &Ctx) -> Outcome {
    enter_new_pid_namespace()?;
    let effects = effects_pipe()?;
    let notes = Notes::new()?;
    let (ready_rx, ready_tx) = nix::unistd::pipe()?;
    let options = Options::PTRACE_O_TRACEEXIT.union(Options::PTRACE_O_TRACEFORK);
    let init = Tracee::spawn(Attach::Seize, options, || {
        notes.say(&format!("pid={}", nix::unistd::getpid()));
        // SAFETY: the child only writes to a pipe and pauses until killed;
        // no PR_SET_PDEATHSIG, so only the namespace's end can kill it.
        if setup::or_exit("fork", Errno::result(unsafe { libc::fork() })) == 0 {
            let _ = nix::unistd::write(&ready_tx, b"r");
            loop {
                // SAFETY: pause(2) has no arguments.
                unsafe { libc::pause() };
            }
        }
        let mut b = [0u8; 1];
        let _ = nix::unistd::read(std::os::fd::AsFd::as_fd(&ready_rx), &mut b);
        let _ = nix::sys::signal::raise(Signal::SIGSYS);
        notes.say("raise-survived");
        sandboxed(p.kill, Threads::Single, &effects)
    })?;
    let log = follow_init(init.pid, p.attempt)?;
    Ok(Observation::new(format!(
        "{log}; notes={}; effects={}",
        notes.summary(),
        effects.summary()
    )))
}

/// Make our next child the init of a new pid namespace: with a user
/// namespace of its own, so it works unprivileged where the kernel allows
/// that, else (root) a pid namespace alone.
fn enter_new_pid_namespace() -> Result<(), Stop> {
    use nix::sched::{unshare, CloneFlags};
    let both = unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWPID);
    match both {
        Ok(()) => Ok(()),
        Err(e) if crate::kit::creds::is_root() => {
            unshare(CloneFlags::CLONE_NEWPID).map_err(|e2| {
                Stop::lacks(format!(
                    "cannot create a pid namespace: CLONE_NEWUSER|CLONE_NEWPID {e:?}, CLONE_NEWPID {e2:?}"
                ))
            })
        }
        Err(e) => Err(Stop::forbidden(format!(
            "cannot create a user and pid namespace unprivileged ({e:?}): user namespaces \
             are off for unprivileged users here"
        ))),
    }
}

/// Follow the init and its child until both are gone: answer the init's
/// EXIT stop with `attempt`, deliver signals, resume anything else. The
/// text is per task (`init: ...; child: ...`), the order across them
/// being a race; the stops that only set the child up (the init's FORK
/// stop, the child's first stop) are left out.
fn follow_init(init: Pid, attempt: Attempt) -> Result<String, Stop> {
    let (mut init_log, mut child_log) = (Vec::new(), Vec::new());
    let (mut init_done, mut child_done) = (false, false);
    let mut child = None;
    for _ in 0..64 {
        if init_done && child_done {
            break;
        }
        let status = match waitpid(None, Some(WaitPidFlag::__WALL)) {
            Ok(s) => s,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Stop::error(format!("waitpid: {e}"))),
        };
        let Some(pid) = status.pid() else { continue };
        let is_init = pid == init;
        let first = !is_init && child.is_none();
        if first {
            child = Some(pid);
        }
        let log = if is_init {
            &mut init_log
        } else {
            &mut child_log
        };
        match status {
            WaitStatus::Exited(..) | WaitStatus::Signaled(..) => {
                log.push(describe(&status));
                if is_init {
                    init_done = true;
                } else {
                    child_done = true;
                }
            }
            WaitStatus::PtraceEvent(_, _, ev) if event_name(ev) == "FORK" => {
                let _ = ptrace::cont(pid, None);
            }
            WaitStatus::PtraceEvent(_, _, ev) if event_name(ev) == "STOP" && first => {
                let _ = ptrace::cont(pid, None);
            }
            WaitStatus::PtraceEvent(_, _, ev) if event_name(ev) == "EXIT" => {
                let msg = ptrace::getevent(pid)
                    .map(|m| format!("{m:#x}"))
                    .unwrap_or_else(|e| format!("{e:?}"));
                log.push(format!("event EXIT msg={msg}"));
                if is_init {
                    log.push(attempt.apply(pid));
                } else {
                    let _ = ptrace::cont(pid, None);
                }
            }
            WaitStatus::Stopped(_, sig) => {
                log.push(format!("stop {}", sig.as_str()));
                let _ = ptrace::cont(pid, Some(sig));
                log.push(format!("cont {}", sig.as_str()));
            }
            other => {
                log.push(describe(&other));
                let _ = ptrace::cont(pid, None);
            }
        }
    }
    if !(init_done && child_done) {
        init_log.push("...".into());
    }
    Ok(format!(
        "init: {}; child: {}",
        init_log.join(", "),
        child_log.join(", ")
    ))
}

/// Random tracer action sequences against a RET_KILL'd task: whatever the
/// tracer does at its stops, it never runs again. Run on the kernel under
/// test from a fixed seed as `ret-kill/tracer-sequences/random`, and as a
/// shrinking proptest on the running kernel (suites/tests/ret_kill_model.rs).
pub const TRACER_SEQUENCES: Scenario<()> = Scenario {
    base: "ret-kill/tracer-sequences/random",
    area: AREA,
    summary: "no sequence of tracer requests at its stops makes a RET_KILL'd task run again",
    needs: |_| Needs::any().feature(Feature::RetKillProcess),
    run: tracer_sequences,
};

/// Every fixed case must leave the effects pipe without an escape and end
/// as its kill action says; the text counts the cases and names the first
/// that did not, so a conforming kernel always reads the same.
fn tracer_sequences(_: &(), _: &Ctx) -> Outcome {
    let cases = crate::models::ret_kill::fixed_cases(crate::models::ret_kill::CASES);
    let (mut bad, mut first, mut applied) = (0, None, 0);
    for case in &cases {
        let run = crate::models::ret_kill::run(case)?;
        applied += run.applied;
        if let Some(why) = crate::models::ret_kill::verdict(case, &run) {
            bad += 1;
            first.get_or_insert_with(|| {
                format!("; first: {} -> {why}", crate::models::ret_kill::name(case))
            });
        }
        kconform_core::setup::case_done();
    }
    Ok(Observation::new(format!(
        "cases={} revived-or-wrong-end={bad}{}",
        cases.len(),
        first.unwrap_or_default()
    ))
    .detail("requests-applied", applied))
}

pub const AREA: Area = Area {
    name: "ret-kill",
    summary: "a task killed by SECCOMP_RET_KILL_* never runs again, whatever a tracer does",
};

pub fn instances() -> Vec<kconform_core::Instance> {
    let mut all = Vec::new();
    let mut cases = Vec::new();
    let mut traced = Vec::new();
    for kill in Kill::ALL {
        for threads in Threads::ALL {
            cases.push(Case { kill, threads });
            for attempt in Attempt::ALL {
                traced.push(Traced {
                    kill,
                    threads,
                    attempt,
                });
            }
        }
    }
    all.extend(UNTRACED.expand(cases.clone()));
    all.extend(TRACED_BY_PARENT.expand(traced.clone()));
    all.extend(TRACED_BY_SANDBOXED_SELF.expand(traced));
    all.extend(CORE_FLAG.expand(cases));
    all.extend(CORE_AFTER_LEADER_EXIT.expand([()]));
    let mut rewrites = Vec::new();
    for at in [RewriteAt::SeccompStop, RewriteAt::SyscallEntry] {
        for denial in [
            Denial::Kill(Kill::Thread),
            Denial::Kill(Kill::Process),
            Denial::Errno,
        ] {
            rewrites.push(Rewrite { at, denial });
        }
    }
    all.extend(REWRITE_RECHECKED.expand(rewrites));
    let mut inits = Vec::new();
    for kill in Kill::ALL {
        // The other attempts are no different for an init (traced-by-parent
        // has them); namespaces are slow to set up and tear down under TCG.
        for attempt in [Attempt::Cont0, Attempt::SetRegs] {
            inits.push(InitCase { kill, attempt });
        }
    }
    all.extend(PIDNS_INIT.expand(inits));
    all.extend(TRACER_SEQUENCES.expand([()]).into_iter().map(|i| i.long()));
    all
}
