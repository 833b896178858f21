//! The tracer's side of [`crate::ret_kill::TRACER_SEQUENCES`]: a case is a kill
//! action, a thread count and a list of requests. At every stop of a
//! killed task from its PTRACE_EVENT_EXIT on, the tracer takes requests
//! from the list until one resumes the task (or the list runs out, when
//! it sends PTRACE_CONT); stops before the kill and those of a task the
//! filter did not kill are just resumed.

use proptest::collection::vec;
use proptest::prelude::*;

use kconform_core::Stop;
use nix::sys::ptrace;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::kit::task::event_name;
use crate::kit::trace::{listen, result_name, Attach, Tracee};
use crate::ret_kill::{effects_pipe, escape_hatch, sandboxed, Kill, Threads, TRACE_OPTIONS};

/// How many cases the guest scenario runs (each is a fork, maybe a
/// thread, and a handful of requests).
pub const CASES: usize = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Cont(Option<Signal>),
    Syscall(Option<Signal>),
    Detach(Option<Signal>),
    /// GETREGS, rip to the escape hatch, SETREGS.
    SetRegs,
    /// POKEUSER rip to the escape hatch.
    PokeRip,
    /// POKEUSER orig_rax to getpid.
    PokeOrigRax,
    Interrupt,
    Listen,
    /// kill() to the task.
    Kill(Signal),
}

impl Request {
    fn slug(self) -> String {
        let sig = |s: Option<Signal>| s.map(|s| s.as_str().to_lowercase()).unwrap_or("0".into());
        match self {
            Request::Cont(s) => format!("cont({})", sig(s)),
            Request::Syscall(s) => format!("syscall({})", sig(s)),
            Request::Detach(s) => format!("detach({})", sig(s)),
            Request::SetRegs => "setregs".into(),
            Request::PokeRip => "poke-rip".into(),
            Request::PokeOrigRax => "poke-orig-rax".into(),
            Request::Interrupt => "interrupt".into(),
            Request::Listen => "listen".into(),
            Request::Kill(s) => format!("kill({})", s.as_str().to_lowercase()),
        }
    }

    /// Make the request of stopped `pid`: its text and whether it
    /// resumed the task.
    fn apply(self, pid: Pid) -> (String, bool) {
        let (r, resumes) = match self {
            Request::Cont(s) => (ptrace::cont(pid, s), true),
            Request::Syscall(s) => (ptrace::syscall(pid, s), true),
            Request::Detach(s) => (ptrace::detach(pid, s), true),
            Request::SetRegs => (
                ptrace::getregs(pid).and_then(|mut regs| {
                    regs.rip = escape_hatch as *const () as u64;
                    ptrace::setregs(pid, regs)
                }),
                false,
            ),
            Request::PokeRip => (
                poke(
                    pid,
                    std::mem::offset_of!(libc::user_regs_struct, rip),
                    escape_hatch as *const () as i64,
                ),
                false,
            ),
            Request::PokeOrigRax => (
                poke(
                    pid,
                    std::mem::offset_of!(libc::user_regs_struct, orig_rax),
                    libc::SYS_getpid,
                ),
                false,
            ),
            Request::Interrupt => (ptrace::interrupt(pid), false),
            Request::Listen => (listen(pid), true),
            Request::Kill(s) => (kill(pid, s), false),
        };
        let text = format!("{}={}", self.slug(), result_name(&r));
        (text, resumes && r.is_ok())
    }
}

fn poke(pid: Pid, offset: usize, value: i64) -> Result<(), nix::errno::Errno> {
    ptrace::write_user(pid, offset as ptrace::AddressType, value as libc::c_long)
}

fn request() -> impl Strategy<Value = Request> {
    let sig = prop_oneof![
        Just(None),
        Just(Some(Signal::SIGCONT)),
        Just(Some(Signal::SIGSYS)),
        Just(Some(Signal::SIGUSR1)),
        Just(Some(Signal::SIGSTOP)),
        Just(Some(Signal::SIGKILL)),
    ];
    let sent = prop_oneof![
        Just(Signal::SIGCONT),
        Just(Signal::SIGKILL),
        Just(Signal::SIGSTOP),
        Just(Signal::SIGUSR1),
    ];
    prop_oneof![
        2 => sig.clone().prop_map(Request::Cont),
        1 => sig.clone().prop_map(Request::Syscall),
        1 => sig.prop_map(Request::Detach),
        2 => Just(Request::SetRegs),
        2 => Just(Request::PokeRip),
        1 => Just(Request::PokeOrigRax),
        2 => Just(Request::Interrupt),
        2 => Just(Request::Listen),
        2 => sent.prop_map(Request::Kill),
    ]
}

#[derive(Clone, Debug)]
pub struct Case {
    pub kill: Kill,
    pub threads: Threads,
    pub requests: Vec<Request>,
}

pub fn cases() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(Kill::Thread), Just(Kill::Process)],
        prop_oneof![Just(Threads::Single), Just(Threads::Multi)],
        vec(request(), 1..10),
    )
        .prop_map(|(kill, threads, requests)| Case {
            kill,
            threads,
            requests,
        })
}

/// `n` cases from a fixed seed: the same on every run and kernel.
pub fn fixed_cases(n: usize) -> Vec<Case> {
    crate::kit::model::seeded_cases(cases(), n)
}

/// `kill-process/multi-thread [setregs, cont(0)]`.
pub fn name(case: &Case) -> String {
    let requests: Vec<String> = case.requests.iter().map(|r| r.slug()).collect();
    format!(
        "{}/{} [{}]",
        case.kill.slug(),
        case.threads.slug(),
        requests.join(", ")
    )
}

/// What one case did on the kernel.
#[derive(Clone, Debug)]
pub struct Run {
    /// Every killed-task stop and the answers to the requests made there.
    pub log: Vec<String>,
    /// How the leader ended, as [`describe`](crate::kit::task::describe) says.
    pub end: String,
    /// The notes of code that ran after the killed syscall.
    pub effects: Vec<String>,
    /// A `kill(SIGKILL)` request was made.
    pub sigkill_sent: bool,
    /// How many requests were made.
    pub applied: usize,
}

/// Run `case` in a fresh subject traced by the caller.
pub fn run(case: &Case) -> Result<Run, Stop> {
    let effects = effects_pipe()?;
    let (kill, threads) = (case.kill, case.threads);
    let tracee = Tracee::spawn(Attach::Seize, TRACE_OPTIONS, || {
        sandboxed(kill, threads, &effects)
    })?;
    let leader = tracee.pid;
    let mut requests = case.requests.iter().copied();
    let mut exiting: Vec<Pid> = Vec::new();
    let mut log = Vec::new();
    let (mut sigkill_sent, mut applied) = (false, 0);
    let mut end = None;
    for _ in 0..64 {
        let status = match waitpid(None, Some(WaitPidFlag::__WALL)) {
            Ok(s) => s,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Stop::error(format!("waitpid: {e}"))),
        };
        let Some(pid) = status.pid() else { continue };
        if matches!(status, WaitStatus::Exited(..) | WaitStatus::Signaled(..)) {
            if pid == leader {
                end = Some(crate::kit::task::describe(&status));
                break;
            }
            continue;
        }
        if matches!(status, WaitStatus::PtraceEvent(_, _, ev) if event_name(ev) == "EXIT")
            && !exiting.contains(&pid)
        {
            exiting.push(pid);
        }
        // The filter kills every thread (KILL_PROCESS), the only one,
        // or the second thread that makes the call (KILL_THREAD).
        let killed = kill == Kill::Process || threads == Threads::Single || pid != leader;
        if !(killed && exiting.contains(&pid)) {
            let _ = ptrace::cont(pid, None);
            continue;
        }
        let who = if pid == leader { "main" } else { "thread" };
        log.push(format!("{who} {}", crate::kit::task::describe(&status)));
        let mut resumed = false;
        for r in requests.by_ref() {
            applied += 1;
            sigkill_sent |= r == Request::Kill(Signal::SIGKILL);
            let (text, resumes) = r.apply(pid);
            log.push(text);
            if resumes {
                resumed = true;
                break;
            }
        }
        if !resumed {
            log.push(format!("cont={}", result_name(&ptrace::cont(pid, None))));
        }
    }
    Ok(Run {
        log,
        end: end.unwrap_or_else(|| "no end within 64 stops".into()),
        effects: effects.take(),
        sigkill_sent,
        applied,
    })
}

/// None if the case went as it must: nothing ran after the killed
/// syscall, and the leader ended as the action says (killed by SIGSYS,
/// or exit 3 after joining when KILL_THREAD took only the second
/// thread). A tracer that sends SIGKILL may end the process with it
/// instead: before 6.1 a SIGKILL to a task dying alone became its
/// status (see ptrace-signals/sigkill-at-event-exit), and with
/// KILL_THREAD it kills the surviving leader.
pub fn verdict(case: &Case, run: &Run) -> Option<String> {
    let trail = || format!("{} -> {}", run.log.join(", "), run.end);
    let escaped: Vec<&String> = run
        .effects
        .iter()
        .filter(|e| e.starts_with("escaped"))
        .collect();
    if !escaped.is_empty() {
        return Some(format!("ran again ({escaped:?}): {}", trail()));
    }
    let survivor = case.kill == Kill::Thread && case.threads == Threads::Multi;
    let expected = if survivor { "exit 3" } else { "killed SIGSYS" };
    let sigkill_end = run.sigkill_sent && run.end == "killed SIGKILL";
    if run.end != expected && !sigkill_end {
        return Some(format!(
            "ended `{}`, not `{expected}`: {}",
            run.end,
            trail()
        ));
    }
    if survivor && !sigkill_end && run.effects != ["main-after-join"] {
        return Some(format!("effects {:?}: {}", run.effects, trail()));
    }
    None
}

/// Run and judge one case.
pub fn check(case: &Case) -> Result<Option<String>, Stop> {
    let run = run(case)?;
    Ok(verdict(case, &run))
}
