//! SECCOMP_RET_TRACE (BRIEF item 5; issue 6).
//!
//! A RET_TRACE rule hands the syscall to a tracer that asked for it with
//! PTRACE_O_TRACESECCOMP: the tracee stops at PTRACE_EVENT_SECCOMP with
//! the rule's RET_DATA as the event message, and the tracer may let the
//! syscall run, skip it (orig_rax = -1, rax the result), rewrite it, or
//! leave. Without such a tracer the syscall fails with ENOSYS and does
//! not run. Since 4.8 (93e35efb8de4) seccomp runs after the syscall-entry
//! stop, and a syscall the tracer changed at the seccomp stop goes through
//! the filters again (a RET_TRACE on that second pass allows it). The
//! "rewritten into a RET_KILL" case lives in ret_kill.rs.
//!
//! The traced syscall is `write(A, "A\n", 2)` into the effects pipe (see
//! kit::effects); the subject notes what it returned (`ret=2`,
//! `ret=ENOSYS`), and `effects=` lists the writes that really ran, so a
//! skipped or denied syscall shows `effects=none`. Tracer-side texts are
//! the stops in order, joined by ` -> `, ending with the subject's exit.

use kconform_core::{setup, Area, Ctx, Needs, Observation, Outcome, Param, Scenario, Stop};
use nix::errno::Errno;
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{kill, raise, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::kit::effects::{result_text, Effects, LABELS};
use crate::kit::seccomp::{Filter, Ret};
use crate::kit::task::{describe, event_name, or_exit_stop, spawn, wait_exit, Gate, Notes};
use crate::kit::trace::{errno_name, Attach, SigInfo, Tracee};

/// Effects labels: the traced write goes to A; rules name the others.
const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const D: usize = 3;
const E: usize = 4;

/// RET_DATA of the RET_TRACE rule on write(A).
const DATA: u16 = 0x7;

/// The subject: install the filter, optionally stop so the tracer can
/// start from a known point, make the traced write, note its result.
fn traced_write(filter: &Filter, stop_first: bool, effects: &Effects, notes: &Notes) -> i32 {
    filter.install_or_exit();
    if stop_first {
        setup::or_exit("raise(SIGSTOP)", raise(Signal::SIGSTOP));
    }
    let ret = effects.write(A);
    // Only a redirect to getppid() can return our parent's pid (it is
    // never 2, the write's result: pid 2 is kthreadd).
    let ppid = nix::unistd::getppid().as_raw() as i64;
    let text = if ret == ppid {
        "ppid".to_string()
    } else {
        result_text(ret)
    };
    notes.say(&format!("ret={text}"));
    0
}

/// Every stop after the tracer's decision, until the subject is gone: a
/// further seccomp stop with its message, a signal-delivery stop with its
/// siginfo (SIGSYS suppressed, so the subject can say what its syscall
/// returned), the end.
fn follow_rest(tracee: &Tracee, log: &mut Vec<String>) -> Result<(), Stop> {
    for _ in 0..16 {
        let s = tracee.wait()?;
        match s {
            WaitStatus::PtraceEvent(pid, _, ev) if event_name(ev) == "SECCOMP" => {
                log.push(format!("event SECCOMP msg={:#x}", event_msg(pid)));
                let _ = ptrace::cont(pid, None);
            }
            WaitStatus::Stopped(pid, sig) => {
                let si = tracee
                    .siginfo()
                    .map(|si| si.to_string())
                    .unwrap_or_else(|e| format!("{} ({e})", sig.as_str()));
                log.push(format!("stop {si}"));
                let pass = (sig != Signal::SIGSYS).then_some(sig);
                if pass.is_none() {
                    log.push("suppress".into());
                }
                let _ = ptrace::cont(pid, pass);
            }
            WaitStatus::Exited(..) | WaitStatus::Signaled(..) => {
                log.push(describe(&s));
                return Ok(());
            }
            other => {
                log.push(describe(&other));
                let _ = ptrace::cont(tracee.pid, None);
            }
        }
    }
    log.push("...".into());
    Ok(())
}

fn event_msg(pid: Pid) -> i64 {
    ptrace::getevent(pid).unwrap_or(-1) as i64
}

/// Wait for the first seccomp stop; anything else first is an error.
fn seccomp_stop(tracee: &Tracee) -> Result<Pid, Stop> {
    match tracee.wait()? {
        WaitStatus::PtraceEvent(pid, _, ev) if event_name(ev) == "SECCOMP" => Ok(pid),
        other => Err(Stop::error(format!(
            "expected the seccomp stop, got {}",
            describe(&other)
        ))),
    }
}

// --- without a tracer ----------------------------------------------------------

/// Who is (not) there to take the RET_TRACE.
#[derive(Clone, Copy, Debug)]
pub enum Nobody {
    /// No tracer at all.
    Untraced,
    /// A tracer that did not set PTRACE_O_TRACESECCOMP.
    TracedWithoutOption,
}

impl Param for Nobody {
    fn slug(&self) -> String {
        match self {
            Nobody::Untraced => "untraced".into(),
            Nobody::TracedWithoutOption => "traced-without-traceseccomp".into(),
        }
    }
}

/// With nobody asking for seccomp stops, RET_TRACE is ENOSYS and the
/// syscall does not run.
pub const NO_TRACER: Scenario<Nobody> = Scenario {
    base: "ret-trace/no-tracer",
    area: AREA,
    summary: "RET_TRACE without a PTRACE_O_TRACESECCOMP tracer fails with ENOSYS, not run",
    needs: |_| Needs::any(),
    run: no_tracer,
};

fn no_tracer(p: &Nobody, _: &Ctx) -> Outcome {
    let effects = Effects::new(1)?;
    let notes = Notes::new()?;
    let filter =
        Filter::allow_all().on_arg0(libc::SYS_write, effects.fd(A) as u32, Ret::Trace(DATA));
    let body = || traced_write(&filter, false, &effects, &notes);
    let end = match p {
        Nobody::Untraced => wait_exit(spawn(body)?)?,
        Nobody::TracedWithoutOption => {
            Tracee::spawn(Attach::Seize, Options::empty(), body)?.run_to_exit()?
        }
    };
    Ok(Observation::new(format!(
        "{end}; notes={}; effects={}",
        notes.summary(),
        effects.summary()
    )))
}

// --- what the tracer does at the seccomp stop ----------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// PTRACE_CONT, registers untouched: the syscall runs.
    Allow,
    /// rax set to 4242 but the syscall left in place: it runs and its
    /// own result replaces the value.
    SetRaxOnly,
    /// orig_rax = -1 and nothing else: skipped, rax still holds the
    /// -ENOSYS the entry code put there.
    Skip,
    /// orig_rax = -1, rax = 4242: skipped, returns 4242.
    SkipFakeValue,
    /// orig_rax = -1, rax = -EACCES: skipped, fails with EACCES.
    SkipFakeErrno,
    /// orig_rax = getppid: the other syscall runs instead.
    RedirectNr,
    /// PTRACE_DETACH at the stop: the syscall goes on untraced.
    Detach,
    /// SIGKILL while stopped: the syscall must not run.
    Kill,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::Allow,
        Action::SetRaxOnly,
        Action::Skip,
        Action::SkipFakeValue,
        Action::SkipFakeErrno,
        Action::RedirectNr,
        Action::Detach,
        Action::Kill,
    ];

    /// Do it to the subject stopped at its seccomp stop; the text says
    /// what was done and whether the requests worked.
    fn apply(self, pid: Pid) -> String {
        let edit = |f: &dyn Fn(&mut libc::user_regs_struct)| {
            let r = ptrace::getregs(pid).and_then(|mut regs| {
                f(&mut regs);
                ptrace::setregs(pid, regs)
            });
            let c = ptrace::cont(pid, None);
            match (r, c) {
                (Ok(()), Ok(())) => String::new(),
                (r, c) => format!(
                    " (setregs={} cont={})",
                    r.err().map(errno_name).unwrap_or("ok".into()),
                    c.err().map(errno_name).unwrap_or("ok".into())
                ),
            }
        };
        let what = self.slug();
        let how = match self {
            Action::Allow => ptrace::cont(pid, None)
                .err()
                .map(|e| format!(" (cont={})", errno_name(e)))
                .unwrap_or_default(),
            Action::SetRaxOnly => edit(&|r| r.rax = 4242),
            Action::Skip => edit(&|r| r.orig_rax = u64::MAX),
            Action::SkipFakeValue => edit(&|r| {
                r.orig_rax = u64::MAX;
                r.rax = 4242;
            }),
            Action::SkipFakeErrno => edit(&|r| {
                r.orig_rax = u64::MAX;
                r.rax = -(libc::EACCES as i64) as u64;
            }),
            Action::RedirectNr => edit(&|r| r.orig_rax = libc::SYS_getppid as u64),
            Action::Detach => ptrace::detach(pid, None)
                .err()
                .map(|e| format!(" (detach={})", errno_name(e)))
                .unwrap_or_default(),
            Action::Kill => kill(pid, Signal::SIGKILL)
                .err()
                .map(|e| format!(" (kill={})", errno_name(e)))
                .unwrap_or_default(),
        };
        format!("{what}{how}")
    }

    fn slug(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::SetRaxOnly => "set-rax-only",
            Action::Skip => "skip",
            Action::SkipFakeValue => "skip-fake-value",
            Action::SkipFakeErrno => "skip-fake-errno",
            Action::RedirectNr => "redirect-nr",
            Action::Detach => "detach",
            Action::Kill => "sigkill",
        }
    }
}

impl Param for Action {
    fn slug(&self) -> String {
        Action::slug(*self).into()
    }
}

/// The tracer decides at the seccomp stop: the syscall runs, is skipped
/// with a made-up result, becomes another syscall, goes on untraced, or
/// dies with the task.
pub const TRACER_ACTION: Scenario<Action> = Scenario {
    base: "ret-trace/tracer-action",
    area: AREA,
    summary: "what a tracer does at the seccomp stop decides whether and how the syscall runs",
    needs: |_| Needs::any(),
    run: tracer_action,
};

fn tracer_action(p: &Action, _: &Ctx) -> Outcome {
    let effects = Effects::new(1)?;
    let notes = Notes::new()?;
    let filter =
        Filter::allow_all().on_arg0(libc::SYS_write, effects.fd(A) as u32, Ret::Trace(DATA));
    let tracee = Tracee::spawn(Attach::Seize, Options::PTRACE_O_TRACESECCOMP, || {
        traced_write(&filter, false, &effects, &notes)
    })?;
    let pid = seccomp_stop(&tracee)?;
    let mut log = vec!["event SECCOMP".to_string(), p.apply(pid)];
    if *p == Action::Detach {
        // No longer ours to trace, still ours to reap.
        log.push(wait_exit(pid)?);
    } else {
        follow_rest(&tracee, &mut log)?;
    }
    Ok(Observation::new(format!(
        "{}; notes={}; effects={}",
        log.join(" -> "),
        notes.summary(),
        effects.summary()
    )))
}

// --- RET_DATA as the tracer reads it ------------------------------------------

#[derive(Clone, Copy, Debug)]
pub enum Data {
    /// One RET_TRACE rule with this RET_DATA.
    One(u16),
    /// Two filters both RET_TRACE the write, with data 0x1 (older) and
    /// 0x2 (newer): equal actions, so the newest filter's data wins
    /// (seccomp_run_filters walks newest first and keeps the first of
    /// equals).
    Stacked,
}

impl Param for Data {
    fn slug(&self) -> String {
        match self {
            Data::One(d) => format!("data-{d:#x}"),
            Data::Stacked => "stacked-newest-wins".into(),
        }
    }
}

/// The tracer reads the rule's RET_DATA as the event message, and
/// PTRACE_GET_SYSCALL_INFO describes a seccomp stop with the syscall, its
/// arguments and the same data; rax holds -ENOSYS until the syscall runs.
pub const EVENT_MSG: Scenario<Data> = Scenario {
    base: "ret-trace/event-msg",
    area: AREA,
    summary: "the seccomp stop carries RET_DATA in PTRACE_GETEVENTMSG and GET_SYSCALL_INFO",
    needs: |_| Needs::any(),
    run: event_msg_scenario,
};

fn event_msg_scenario(p: &Data, _: &Ctx) -> Outcome {
    let effects = Effects::new(1)?;
    let notes = Notes::new()?;
    let fd = effects.fd(A) as u32;
    let filters = match *p {
        Data::One(d) => vec![Filter::allow_all().on_arg0(libc::SYS_write, fd, Ret::Trace(d))],
        Data::Stacked => vec![
            Filter::allow_all().on_arg0(libc::SYS_write, fd, Ret::Trace(0x1)),
            Filter::allow_all().on_arg0(libc::SYS_write, fd, Ret::Trace(0x2)),
        ],
    };
    let tracee = Tracee::spawn(Attach::Seize, Options::PTRACE_O_TRACESECCOMP, || {
        let (last, older) = filters.split_last().expect("one filter at least");
        for f in older {
            f.install_or_exit();
        }
        traced_write(last, false, &effects, &notes)
    })?;
    let pid = seccomp_stop(&tracee)?;
    let mut log = vec![format!(
        "event SECCOMP msg={:#x} info={} regs={}",
        event_msg(pid),
        syscall_info_text(pid, &effects),
        regs_text(pid, &effects)
    )];
    ptrace::cont(pid, None)?;
    follow_rest(&tracee, &mut log)?;
    Ok(Observation::new(format!(
        "{}; notes={}; effects={}",
        log.join(" -> "),
        notes.summary(),
        effects.summary()
    )))
}

fn syscall_name(nr: u64) -> String {
    match nr as i64 {
        libc::SYS_write => "write".into(),
        libc::SYS_getppid => "getppid".into(),
        -1 => "-1".into(),
        n => n.to_string(),
    }
}

/// PTRACE_GET_SYSCALL_INFO, as `seccomp(write,A,ret_data=0x7,arch=x86_64)`,
/// `entry(write,A)`, `exit(2)`.
fn syscall_info_text(pid: Pid, effects: &Effects) -> String {
    let info = match ptrace::syscall_info(pid) {
        Ok(i) => i,
        Err(e) => return errno_name(e),
    };
    let arch = crate::kit::trace::arch_name(info.arch);
    // SAFETY: the union member read is the one `op` says the kernel filled.
    unsafe {
        match info.op {
            libc::PTRACE_SYSCALL_INFO_SECCOMP => {
                let s = info.u.seccomp;
                format!(
                    "seccomp({},{},ret_data={:#x},arch={arch})",
                    syscall_name(s.nr),
                    effects.name(s.args[0]),
                    s.ret_data
                )
            }
            libc::PTRACE_SYSCALL_INFO_ENTRY => {
                let s = info.u.entry;
                format!("entry({},{})", syscall_name(s.nr), effects.name(s.args[0]))
            }
            libc::PTRACE_SYSCALL_INFO_EXIT => format!("exit({})", result_text(info.u.exit.sval)),
            op => format!("op-{op}"),
        }
    }
}

fn regs_text(pid: Pid, effects: &Effects) -> String {
    match ptrace::getregs(pid) {
        Ok(r) => format!(
            "orig_rax={} rax={} rdi={}",
            syscall_name(r.orig_rax),
            result_text(r.rax as i64),
            effects.name(r.rdi)
        ),
        Err(e) => errno_name(e),
    }
}

// --- the order of stops under PTRACE_SYSCALL -----------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// RET_TRACE, the tracer lets it run (PTRACE_SYSCALL on).
    TraceAllow,
    /// RET_TRACE, the tracer skips it at the seccomp stop.
    TraceSkip,
    /// RET_TRACE, the tracer resumes the seccomp stop with PTRACE_CONT.
    TraceCont,
    /// RET_TRACE, but the tracer did not ask for seccomp stops.
    TraceWithoutOption,
    /// RET_ERRNO: no seccomp stop, the entry stop still comes first.
    Errno,
    /// RET_TRAP: the SIGSYS comes after the exit stop.
    Trap,
}

impl Param for Order {
    fn slug(&self) -> String {
        match self {
            Order::TraceAllow => "ret-trace-allow",
            Order::TraceSkip => "ret-trace-skip",
            Order::TraceCont => "ret-trace-cont",
            Order::TraceWithoutOption => "ret-trace-without-traceseccomp",
            Order::Errno => "ret-errno",
            Order::Trap => "ret-trap",
        }
        .into()
    }
}

/// Under PTRACE_SYSCALL the syscall-entry stop comes first, then the
/// seccomp stop, then the syscall-exit stop (4.8+; before 93e35efb8de4
/// seccomp ran before the entry stop). A skipped syscall still has its
/// exit stop; PTRACE_CONT at the seccomp stop drops it.
pub const STOP_ORDER: Scenario<Order> = Scenario {
    base: "ret-trace/stop-order",
    area: AREA,
    summary: "syscall-entry, then seccomp, then syscall-exit stop under PTRACE_SYSCALL",
    needs: |_| Needs::any(),
    run: stop_order,
};

fn stop_order(p: &Order, _: &Ctx) -> Outcome {
    let effects = Effects::new(1)?;
    let notes = Notes::new()?;
    let ret = match p {
        Order::Errno => Ret::Errno(libc::EACCES as u16),
        Order::Trap => Ret::Trap(DATA),
        _ => Ret::Trace(DATA),
    };
    let filter = Filter::allow_all().on_arg0(libc::SYS_write, effects.fd(A) as u32, ret);
    let mut options = Options::PTRACE_O_TRACESYSGOOD;
    if *p != Order::TraceWithoutOption {
        options |= Options::PTRACE_O_TRACESECCOMP;
    }
    let tracee = Tracee::spawn(Attach::Seize, options, || {
        traced_write(&filter, true, &effects, &notes)
    })?;
    let fd_a = effects.fd(A) as u64;
    let mut log: Vec<String> = Vec::new();
    // Until the traced write's entry stop: step over everything else.
    // Then: log every stop; after its exit stop, run freely.
    let mut recording = false;
    let mut done = false;
    for _ in 0..64 {
        let s = tracee.wait()?;
        let resume_syscall = |pid| ptrace::syscall(pid, None);
        match s {
            WaitStatus::Stopped(pid, Signal::SIGSTOP) if !recording => {
                resume_syscall(pid)?;
            }
            WaitStatus::PtraceSyscall(pid) => {
                let info = ptrace::syscall_info(pid)?;
                if !recording && !is_entry_of_write_to(&info, fd_a) {
                    resume_syscall(pid)?;
                    continue;
                }
                recording = true;
                log.push(format!("syscall-{}", syscall_info_text(pid, &effects)));
                if info.op == libc::PTRACE_SYSCALL_INFO_EXIT {
                    done = true;
                    ptrace::cont(pid, None)?;
                } else {
                    resume_syscall(pid)?;
                }
            }
            WaitStatus::PtraceEvent(pid, _, ev) if event_name(ev) == "SECCOMP" => {
                log.push("event SECCOMP".into());
                match p {
                    Order::TraceSkip => {
                        let mut regs = ptrace::getregs(pid)?;
                        regs.orig_rax = u64::MAX;
                        ptrace::setregs(pid, regs)?;
                        log.push("skip".into());
                        resume_syscall(pid)?;
                    }
                    Order::TraceCont => {
                        log.push("cont".into());
                        ptrace::cont(pid, None)?;
                    }
                    _ if done => ptrace::cont(pid, None)?,
                    _ => resume_syscall(pid)?,
                }
            }
            WaitStatus::Stopped(pid, sig) => {
                let si = SigInfo::of(pid).map(|si| si.to_string());
                log.push(format!(
                    "stop {}",
                    si.unwrap_or_else(|e| format!("{sig} ({e})"))
                ));
                // A SIGSYS is suppressed so the subject reports its result.
                let pass = (sig != Signal::SIGSYS).then_some(sig);
                if pass.is_none() {
                    log.push("suppress".into());
                }
                if done {
                    ptrace::cont(pid, pass)?;
                } else {
                    ptrace::syscall(pid, pass)?;
                }
            }
            WaitStatus::Exited(..) | WaitStatus::Signaled(..) => {
                log.push(describe(&s));
                return Ok(Observation::new(format!(
                    "{}; notes={}; effects={}",
                    log.join(" -> "),
                    notes.summary(),
                    effects.summary()
                )));
            }
            other => {
                log.push(describe(&other));
                ptrace::cont(tracee.pid, None)?;
            }
        }
    }
    Err(Stop::error(format!(
        "no end after 64 stops: {}",
        log.join(" -> ")
    )))
}

fn is_entry_of_write_to(info: &libc::ptrace_syscall_info, fd: u64) -> bool {
    // SAFETY: the entry member is read only when op says the kernel filled it.
    info.op == libc::PTRACE_SYSCALL_INFO_ENTRY
        && unsafe { info.u.entry.nr == libc::SYS_write as u64 && info.u.entry.args[0] == fd }
}

// --- the filter runs again on what the tracer made of the syscall --------------

/// Which rule the rewritten write now meets.
#[derive(Clone, Copy, Debug)]
pub enum Recheck {
    /// No rule: allowed.
    Allow,
    /// RET_ERRNO(EACCES).
    Errno,
    /// Another RET_TRACE (data 0x2): allowed without a second stop.
    Trace,
    /// RET_TRAP (data 0x3): SIGSYS.
    Trap,
}

impl Recheck {
    fn target(self) -> usize {
        match self {
            Recheck::Allow => B,
            Recheck::Errno => C,
            Recheck::Trace => D,
            Recheck::Trap => E,
        }
    }
}

impl Param for Recheck {
    fn slug(&self) -> String {
        match self {
            Recheck::Allow => "to-allowed",
            Recheck::Errno => "to-ret-errno",
            Recheck::Trace => "to-ret-trace",
            Recheck::Trap => "to-ret-trap",
        }
        .into()
    }
}

/// The tracer changes only an argument (the fd) at the seccomp stop, so
/// the syscall number stays the same: the filters must still run again
/// on the reloaded arguments (__seccomp_filter(..., NULL, true)) and
/// apply the rule the new arguments meet. A RET_TRACE on that second pass
/// means "allow" (recheck_after_trace), never a second stop.
pub const RECHECK_REWRITTEN_ARGS: Scenario<Recheck> = Scenario {
    base: "ret-trace/recheck-rewritten-args",
    area: AREA,
    summary: "a syscall whose arguments the tracer rewrote meets the filter again",
    needs: |_| Needs::any(),
    run: recheck_rewritten_args,
};

fn recheck_rewritten_args(p: &Recheck, _: &Ctx) -> Outcome {
    let effects = Effects::new(5)?;
    let notes = Notes::new()?;
    let fd = |i: usize| effects.fd(i) as u32;
    let filter = Filter::allow_all()
        .on_arg0(libc::SYS_write, fd(A), Ret::Trace(0x1))
        .on_arg0(libc::SYS_write, fd(C), Ret::Errno(libc::EACCES as u16))
        .on_arg0(libc::SYS_write, fd(D), Ret::Trace(0x2))
        .on_arg0(libc::SYS_write, fd(E), Ret::Trap(0x3));
    let tracee = Tracee::spawn(Attach::Seize, Options::PTRACE_O_TRACESECCOMP, || {
        traced_write(&filter, false, &effects, &notes)
    })?;
    let pid = seccomp_stop(&tracee)?;
    let target = p.target();
    let rewrite = ptrace::getregs(pid).and_then(|mut regs| {
        regs.rdi = effects.fd(target) as u64;
        regs.rsi = LABELS[target].as_ptr() as u64;
        ptrace::setregs(pid, regs)
    });
    let mut log = vec![
        format!("event SECCOMP msg={:#x}", event_msg(pid)),
        format!(
            "rewrite A=>{}{}",
            crate::kit::effects::letter(target),
            rewrite
                .err()
                .map(|e| format!(" ({})", errno_name(e)))
                .unwrap_or_default()
        ),
    ];
    ptrace::cont(pid, None)?;
    follow_rest(&tracee, &mut log)?;
    Ok(Observation::new(format!(
        "{}; notes={}; effects={}",
        log.join(" -> "),
        notes.summary(),
        effects.summary()
    )))
}

// --- the tracer dies during the stop -------------------------------------------

#[derive(Clone, Copy, Debug)]
pub struct Dies {
    pub exitkill: bool,
}

impl Param for Dies {
    fn slug(&self) -> String {
        if self.exitkill {
            "with-exitkill".into()
        } else {
            "without-exitkill".into()
        }
    }
}

/// The tracer exits while the subject sits in its seccomp stop. With
/// PTRACE_O_EXITKILL the subject gets SIGKILL: fatal_signal_pending()
/// skips the syscall and it dies. Without it the subject is detached and
/// woken; its registers are unchanged, the filter runs again, and a
/// RET_TRACE on that second pass allows it: the syscall runs.
pub const TRACER_DIES: Scenario<Dies> = Scenario {
    base: "ret-trace/tracer-dies-at-stop",
    area: AREA,
    summary: "a tracer that dies at the seccomp stop: EXITKILL kills, otherwise the syscall runs",
    needs: |_| Needs::any(),
    run: tracer_dies,
};

fn tracer_dies(p: &Dies, _: &Ctx) -> Outcome {
    let effects = Effects::new(1)?;
    let notes = Notes::new()?;
    let tracer_notes = Notes::new()?;
    let filter =
        Filter::allow_all().on_arg0(libc::SYS_write, effects.fd(A) as u32, Ret::Trace(DATA));
    // The subject outlives its tracer (its parent), so it must come back
    // to us to be reaped.
    // SAFETY: prctl with integer arguments, on this instance's own process.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })?;
    let gate = Gate::new()?;
    let options = if p.exitkill {
        Options::PTRACE_O_TRACESECCOMP | Options::PTRACE_O_EXITKILL
    } else {
        Options::PTRACE_O_TRACESECCOMP
    };
    let tracer = spawn(|| {
        let subject = spawn(|| {
            // Not killed with the tracer by spawn's parent-death signal:
            // what the kernel does when the tracer dies is the question.
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0) };
            gate.wait();
            traced_write(&filter, false, &effects, &notes)
        });
        let subject = or_exit_stop("fork", subject);
        let seized = ptrace::seize(subject, options);
        // Open whatever happened, so the subject never waits for good.
        gate.open();
        setup::or_exit("PTRACE_SEIZE", seized);
        let first = match or_exit_stop("waitpid", crate::kit::task::wait(subject)) {
            WaitStatus::PtraceEvent(_, _, ev) => format!("event {}", event_name(ev)),
            other => describe(&other),
        };
        tracer_notes.say(&first);
        // Leave without resuming it.
        0
    })?;
    let tracer_end = wait_exit(tracer)?;
    // The orphan is ours now; wait for whichever child is left.
    let subject_end = loop {
        match waitpid(None, Some(WaitPidFlag::__WALL)) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Stop::error(format!("waiting for the orphan: {e}"))),
            Ok(s @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => break describe(&s),
            Ok(_) => continue,
        }
    };
    Ok(Observation::new(format!(
        "tracer: {} -> {tracer_end}; subject: {subject_end}; notes={}; effects={}",
        tracer_notes.summary(),
        notes.summary(),
        effects.summary()
    )))
}

pub const AREA: Area = Area {
    name: "ret-trace",
    summary: "SECCOMP_RET_TRACE: no tracer, tracer actions, stop order, the filter re-checked",
};

pub fn instances() -> Vec<kconform_core::Instance> {
    let mut all = Vec::new();
    all.extend(NO_TRACER.expand([Nobody::Untraced, Nobody::TracedWithoutOption]));
    all.extend(TRACER_ACTION.expand(Action::ALL));
    all.extend(EVENT_MSG.expand([Data::One(0), Data::One(0xffff), Data::Stacked]));
    all.extend(STOP_ORDER.expand([
        Order::TraceAllow,
        Order::TraceSkip,
        Order::TraceCont,
        Order::TraceWithoutOption,
        Order::Errno,
        Order::Trap,
    ]));
    all.extend(RECHECK_REWRITTEN_ARGS.expand([
        Recheck::Allow,
        Recheck::Errno,
        Recheck::Trace,
        Recheck::Trap,
    ]));
    all.extend(TRACER_DIES.expand([Dies { exitkill: true }, Dies { exitkill: false }]));
    all
}
