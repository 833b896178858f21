//! Filters, NO_NEW_PRIVS and tracers across fork, clone, vfork, execve and
//! setuid exec (BRIEF item 5).
//!
//! The kernel's rules: copy_process() gives every new task, process or
//! thread, its creator's filter (a reference to the same tree, so filters
//! added later by either side stay its own) and its no_new_privs bit, and
//! execve() keeps both, so an exec'd program runs under them (seccomp(2),
//! prctl(2) PR_SET_NO_NEW_PRIVS). A tracer with PTRACE_O_TRACEFORK,
//! TRACEVFORK or TRACECLONE is told of the new task (PTRACE_EVENT_FORK,
//! VFORK or CLONE, the new pid in the event message) and traces it from
//! birth: it starts in a SIGSTOP signal-delivery stop, or a
//! PTRACE_EVENT_STOP when the tracer seized (ptrace(2)); without the
//! options the new task is not traced. With TRACEEXEC the tracee stops at
//! PTRACE_EVENT_EXEC before the new program runs; without it a task that
//! was not seized gets a SIGTRAP after the exec. A setuid program exec'd
//! under no_new_privs, or under a tracer without CAP_SYS_PTRACE, runs
//! with the caller's uid; filters stay on in every case.
//!
//! What a task inherited is seen from inside it, by the same words the
//! `__probe state` mode prints for an exec'd program
//! ([`crate::probe::state_line`]): the filters handed down deny
//! getppid() with EUCLEAN and, a second one, getsid() with EMEDIUMTYPE,
//! so `getppid=EUCLEAN` says the first filter acts on the task. Tracer
//! observations are per task (`main: ...; new: ...`), each in its own
//! order: which of two tasks stops first is a race.

use std::path::Path;

use kconform_core::{
    setup, Area, Ctx, Feature, Instance, Needs, Observation, Outcome, Param, Scenario, Stop,
};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{pipe2, Pid};

use crate::kit::access::{
    self, capture, exec_probe, ProbeCopy, YAMA_ADMITS_ROOT, YAMA_ADMITS_UNPRIVILEGED, YAMA_SCOPE,
};
use crate::kit::creds::{self, NOBODY};
use crate::kit::seccomp::{Filter, Ret};
use crate::kit::task::{self, describe, event_name, note_to, spawn, wait_exit, Notes};
use crate::kit::trace::{Attach, Tracee};
use crate::probe::{pick, state_line};

pub const AREA: Area = Area {
    name: "inherit",
    summary: "filters, NO_NEW_PRIVS and tracers across fork, clone, vfork, execve and setuid exec",
};

pub fn instances() -> Vec<Instance> {
    let mut all = Vec::new();
    // A filter installed by root without no_new_privs goes down the same
    // paths as one with it: it is checked once here, for the no_new_privs
    // bit it must not gain (and across an exec in SETUID_EXEC).
    let filtered = [
        (How::Fork, Install::Nnp),
        (How::Fork, Install::RootWithoutNnp),
        (How::Vfork, Install::Nnp),
        (How::Thread, Install::Nnp),
        (How::Exec, Install::Nnp),
    ]
    .map(|(how, install)| Filtered { how, install });
    all.extend(FILTER.expand(filtered));
    all.extend(EXEC_FROM_THREAD.expand([Install::Nnp]));
    all.extend(LATER_FILTER.expand(Later::ALL));
    all.extend(TRACER.expand(Traced::all()));
    all.extend(SETUID_EXEC.expand(Setuid::ALL));
    all
}

// ---------------------------------------------------------------------------
// The filters handed down

const DENY_A: i32 = libc::EUCLEAN;
const DENY_B: i32 = libc::EMEDIUMTYPE;

/// The first filter: getppid() fails with EUCLEAN.
fn filter_a() -> Filter {
    Filter::allow_all().on(libc::SYS_getppid, Ret::Errno(DENY_A as u16))
}

/// A second filter, added later: getsid() fails with EMEDIUMTYPE.
fn filter_b() -> Filter {
    Filter::allow_all().on(libc::SYS_getsid, Ret::Errno(DENY_B as u16))
}

/// How the filter goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Install {
    /// PR_SET_NO_NEW_PRIVS first, as any task may.
    Nnp,
    /// By root (CAP_SYS_ADMIN) without no_new_privs.
    RootWithoutNnp,
}

impl Param for Install {
    fn slug(&self) -> String {
        match self {
            Install::Nnp => "nnp",
            Install::RootWithoutNnp => "root-without-nnp",
        }
        .into()
    }
}

impl Install {
    fn needs(self) -> Needs {
        let needs = match self {
            Install::Nnp => Needs::any(),
            Install::RootWithoutNnp => Needs::root(),
        };
        needs.feature(Feature::SeccompFiltersInStatus)
    }

    /// In a subject: put `filter` on this thread, or give up (see
    /// [`kconform_core::setup`]).
    fn apply(self, filter: &Filter) {
        match self {
            Install::Nnp => filter.install_or_exit(),
            Install::RootWithoutNnp => {
                setup::or_exit("seccomp(SET_MODE_FILTER)", filter.install_flags(0));
            }
        }
    }
}

/// What a task shows of the filters and no_new_privs it runs under.
const INHERITED: [&str; 5] = ["nnp", "seccomp", "filters", "getppid", "getsid"];

/// Write the calling task's state line to stdout in one write(2).
fn say_state() {
    note_to(1, state_line().as_bytes());
}

// ---------------------------------------------------------------------------
// Filters and no_new_privs across task creation and exec

/// How the filtered task makes the task that reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    Fork,
    /// clone(CLONE_VM | CLONE_VFORK): the child runs on the parent's memory.
    Vfork,
    /// pthread_create(): clone(CLONE_THREAD | CLONE_VM | ...).
    Thread,
    /// The filtered task execs the probe itself.
    Exec,
}

impl How {
    fn slug(self) -> &'static str {
        match self {
            How::Fork => "fork",
            How::Vfork => "vfork",
            How::Thread => "thread",
            How::Exec => "exec",
        }
    }

    /// In the filtered task: make the new task (or exec) and have it
    /// print its state line; returns the exit code.
    fn report_from_new_task(self, probe: &Path) -> i32 {
        let waited = |call: &str, pid: Result<Pid, Stop>| {
            let pid = task::or_exit_stop(call, pid);
            match task::or_exit_stop("waitpid", wait_exit(pid)).as_str() {
                "exit 0" => 0,
                _ => 123,
            }
        };
        match self {
            How::Fork => waited(
                "fork",
                spawn(|| {
                    say_state();
                    0
                }),
            ),
            How::Vfork => waited(
                "vfork",
                task::vfork(|| {
                    say_state();
                    0
                }),
            ),
            How::Thread => match std::thread::spawn(say_state).join() {
                Ok(()) => 0,
                Err(_) => 124,
            },
            How::Exec => exec_probe(probe, "state"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Filtered {
    how: How,
    install: Install,
}

impl Param for Filtered {
    fn slug(&self) -> String {
        format!("{}/{}", self.how.slug(), self.install.slug())
    }
}

/// The new task (or the exec'd program) runs under its creator's filter
/// and no_new_privs: the filter denies getppid() there too, and
/// no_new_privs is set exactly when the creator had set it.
const FILTER: Scenario<Filtered> = Scenario {
    base: "inherit/filter",
    area: AREA,
    summary: "a filter and no_new_privs pass to forked, vforked, cloned and exec'd tasks",
    needs: |p| p.install.needs(),
    run: |p, ctx| {
        let (out, end) = capture(|| {
            p.install.apply(&filter_a());
            p.how.report_from_new_task(&ctx.probe_exe)
        })?;
        finished(&end, &out)?;
        Ok(Observation::new(pick(&out, &INHERITED)))
    },
};

/// A thread that added a filter of its own execs: the program runs under
/// the thread's filters (both), not the leader's (one), though it takes
/// over the leader's pid.
const EXEC_FROM_THREAD: Scenario<Install> = Scenario {
    base: "inherit/exec-from-thread",
    area: AREA,
    summary: "a program exec'd by a thread runs under that thread's filters",
    needs: |install| install.needs(),
    run: |install, ctx| {
        let install = *install;
        let (out, end) = capture(|| {
            install.apply(&filter_a());
            let probe = ctx.probe_exe.clone();
            let thread = std::thread::spawn(move || {
                install.apply(&filter_b());
                exec_probe(&probe, "state")
            });
            // The exec ends this thread too: only a panic comes back.
            let _ = thread.join();
            122
        })?;
        finished(&end, &out)?;
        Ok(Observation::new(pick(&out, &INHERITED)))
    },
};

/// Who adds a second filter once the two tasks exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Later {
    /// The forked child.
    Child,
    /// The parent, after the fork.
    Parent,
    /// A second thread.
    Thread,
}

impl Later {
    const ALL: [Later; 3] = [Later::Child, Later::Parent, Later::Thread];
}

impl Param for Later {
    fn slug(&self) -> String {
        match self {
            Later::Child => "by-child",
            Later::Parent => "by-parent",
            Later::Thread => "by-thread",
        }
        .into()
    }
}

/// A filter added after a fork or a clone applies to the task that added
/// it (and its future children) only: the other keeps the one filter
/// they shared.
const LATER_FILTER: Scenario<Later> = Scenario {
    base: "inherit/later-filter-stays-put",
    area: AREA,
    summary: "a filter added after fork/clone reaches neither the parent nor the sibling thread",
    needs: |_| Needs::any().feature(Feature::SeccompFiltersInStatus),
    run: |later, _| {
        let later = *later;
        let (out, end) = capture(|| {
            filter_a().install_or_exit();
            let labelled = |who: &str| {
                let line = format!("{who}: {}", pick(&state_line(), &LATER_WORDS));
                note_to(1, line.as_bytes());
            };
            match later {
                Later::Child => {
                    let child = spawn(|| {
                        filter_b().install_or_exit();
                        labelled("child");
                        0
                    });
                    if !ended_well(child) {
                        return 122;
                    }
                    labelled("parent");
                }
                Later::Parent => {
                    let gate = task::or_exit_stop("pipe2", task::Gate::new());
                    let child = spawn(|| {
                        gate.wait();
                        labelled("child");
                        0
                    });
                    filter_b().install_or_exit();
                    labelled("parent");
                    gate.open();
                    if !ended_well(child) {
                        return 122;
                    }
                }
                Later::Thread => {
                    let thread = std::thread::spawn(move || {
                        filter_b().install_or_exit();
                        labelled("thread");
                    });
                    // Like a child that did not exit 0: the thread panicked.
                    if thread.join().is_err() {
                        return 122;
                    }
                    labelled("leader");
                }
            }
            0
        })?;
        finished(&end, &out)?;
        Ok(Observation::new(out.lines().collect::<Vec<_>>().join("; ")))
    },
};

const LATER_WORDS: [&str; 3] = ["filters", "getppid", "getsid"];

/// In a subject: whether the child it forked (or gives up on) exited 0.
fn ended_well(child: Result<Pid, Stop>) -> bool {
    let child = task::or_exit_stop("fork", child);
    task::or_exit_stop("waitpid", wait_exit(child)) == "exit 0"
}

/// The capture subject exited 0 and printed something, or the setup broke.
fn finished(end: &str, out: &str) -> Result<(), Stop> {
    if end != "exit 0" || out.is_empty() {
        return Err(Stop::error(format!(
            "the subject ended with {end}, having printed `{out}`"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The tracer across fork, vfork, clone and exec

/// Whether the tracer asked to follow new tasks and execs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    /// TRACEFORK | TRACEVFORK | TRACEVFORKDONE | TRACECLONE | TRACEEXEC.
    Options,
    /// None of them.
    None,
}

const FOLLOW_OPTIONS: Options = Options::PTRACE_O_TRACEFORK
    .union(Options::PTRACE_O_TRACEVFORK)
    .union(Options::PTRACE_O_TRACEVFORKDONE)
    .union(Options::PTRACE_O_TRACECLONE)
    .union(Options::PTRACE_O_TRACEEXEC);

/// What the traced task does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Makes {
    Fork,
    Vfork,
    Thread,
    Exec,
}

#[derive(Clone, Copy, Debug)]
pub struct Traced {
    makes: Makes,
    attach: Attach,
    follow: Follow,
}

impl Traced {
    /// With the options: every kind of creation, seized (the event each
    /// kind gets differs), and a fork under PTRACE_TRACEME too: the new
    /// task's first stop depends on the attach style, not on the kind
    /// (ptrace_init_task()); an exec stops at the same event either way.
    /// Without: kernel_clone() asks for no event whatever the kind of
    /// task, so a fork shows the new task untraced; exec under both
    /// styles, as only a task that was not seized gets the legacy SIGTRAP.
    fn all() -> Vec<Traced> {
        let mut v = Vec::new();
        for makes in [Makes::Fork, Makes::Vfork, Makes::Thread, Makes::Exec] {
            v.push(Traced {
                makes,
                attach: Attach::Seize,
                follow: Follow::Options,
            });
        }
        v.push(Traced {
            makes: Makes::Fork,
            attach: Attach::Traceme,
            follow: Follow::Options,
        });
        v.push(Traced {
            makes: Makes::Fork,
            attach: Attach::Seize,
            follow: Follow::None,
        });
        for attach in [Attach::Seize, Attach::Traceme] {
            v.push(Traced {
                makes: Makes::Exec,
                attach,
                follow: Follow::None,
            });
        }
        v
    }
}

impl Param for Traced {
    fn slug(&self) -> String {
        let makes = match self.makes {
            Makes::Fork => "fork",
            Makes::Vfork => "vfork",
            Makes::Thread => "thread",
            Makes::Exec => "exec",
        };
        let follow = match self.follow {
            Follow::Options => "with-options",
            Follow::None => "without-options",
        };
        format!("{makes}/{}/{follow}", self.attach.slug())
    }
}

/// A tracer with the follow options is told of each new task and traces
/// it from its first instruction; without them the new task runs
/// untraced. An exec stops at PTRACE_EVENT_EXEC before the new program
/// has run (or, for a task not seized and without TRACEEXEC, at a SIGTRAP
/// after it).
const TRACER: Scenario<Traced> = Scenario {
    base: "inherit/tracer",
    area: AREA,
    summary: "TRACEFORK/VFORK/CLONE/EXEC: new tasks are traced from birth, execs stop first",
    needs: |_| Needs::any().sysctl(YAMA_SCOPE, YAMA_ADMITS_UNPRIVILEGED),
    run: tracer_across,
};

fn tracer_across(p: &Traced, ctx: &Ctx) -> Outcome {
    access::yama_lets_caller_in()?;
    let options = match p.follow {
        Follow::Options => FOLLOW_OPTIONS,
        Follow::None => Options::empty(),
    };
    let tracer = nix::unistd::getpid();
    let notes = Notes::new()?;
    let (out_rx, out_tx) = pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
    let makes = p.makes;
    let probe = ctx.probe_exe.clone();
    let tracee = Tracee::spawn(p.attach, options, || {
        let note_tracer = || {
            let traced = crate::kit::procfs::task_status(
                nix::unistd::getpid(),
                nix::unistd::gettid(),
                "TracerPid",
            );
            let who = match traced.as_deref() {
                Some("0") => "none",
                Some(t) if t == tracer.to_string() => "ours",
                _ => "other",
            };
            notes.say(&format!("tracer={who}"));
        };
        // The child's exit would queue SIGCHLD here, and a traced task
        // stops for every signal, ignored ones included: blocked, it
        // leaves no stop whose place among the others would be a race.
        let mut chld = nix::sys::signal::SigSet::empty();
        chld.add(Signal::SIGCHLD);
        setup::or_exit("sigprocmask(SIG_BLOCK, SIGCHLD)", chld.thread_block());
        let made = match makes {
            Makes::Fork => spawn(|| {
                note_tracer();
                0
            }),
            Makes::Vfork => task::vfork(|| {
                note_tracer();
                0
            }),
            Makes::Thread => {
                return match std::thread::scope(|s| s.spawn(note_tracer).join()) {
                    Ok(()) => 0,
                    Err(_) => 124,
                }
            }
            Makes::Exec => {
                setup::or_exit("dup2(stdout)", nix::unistd::dup2_stdout(&out_tx));
                exec_probe(&probe, "ids")
            }
        };
        if ended_well(made) {
            0
        } else {
            123
        }
    })?;
    drop(out_tx);
    let (main, new) = follow_tracee(tracee.pid, |_| {
        // At the exec stop, has the new program written anything yet?
        let mut b = [0u8; 64];
        match nix::unistd::read(&out_rx, &mut b) {
            Ok(n) if n > 0 => "output=some",
            _ => "output=none",
        }
    })?;
    let mut text = format!("main: {main}");
    let new_note = notes.summary();
    match (new.is_empty(), makes) {
        (_, Makes::Exec) => {
            let mut rest = Vec::new();
            let mut b = [0u8; 256];
            while let Ok(n @ 1..) = nix::unistd::read(&out_rx, &mut b) {
                rest.extend_from_slice(&b[..n]);
            }
            let ran = String::from_utf8_lossy(&rest).contains("euid=");
            text += &format!("; program ran={}", if ran { "yes" } else { "no" });
        }
        (true, _) => text += &format!("; new: untraced, {new_note}"),
        (false, _) => text += &format!("; new: {}, {new_note}", new.join(" -> ")),
    }
    Ok(Observation::new(text))
}

/// Follow the traced task `main` and every task it makes until `main`
/// has exited: resume each stop, suppress the new tasks' first SIGSTOP
/// and the legacy post-exec SIGTRAP, pass other signals on. Returns the
/// stops of `main` and of the (one) new task, each as `a -> b -> end`;
/// `at_exec` adds a word at `main`'s exec stop.
fn follow_tracee(
    main: Pid,
    at_exec: impl Fn(Pid) -> &'static str,
) -> Result<(String, Vec<String>), Stop> {
    let (mut main_log, mut new_log): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let (mut told, mut new_pid) = (None::<i64>, None::<Pid>);
    let mut main_done = false;
    for _ in 0..32 {
        let new_done = match new_log.last() {
            None => true,
            Some(l) => l.starts_with("exit") || l.starts_with("killed"),
        };
        if main_done && new_done {
            break;
        }
        let s = match waitpid(None, Some(WaitPidFlag::__WALL)) {
            Ok(s) => s,
            Err(Errno::EINTR) => continue,
            Err(Errno::ECHILD) => break,
            Err(e) => return Err(Stop::error(format!("waitpid: {e}"))),
        };
        let Some(pid) = s.pid() else { continue };
        let is_main = pid == main;
        if !is_main {
            new_pid.get_or_insert(pid);
        }
        let mut entry = describe(&s);
        let resume = match s {
            WaitStatus::PtraceEvent(_, _, ev) => {
                let msg = ptrace::getevent(pid).unwrap_or(-1);
                match event_name(ev) {
                    "FORK" | "VFORK" | "CLONE" => {
                        told = Some(msg);
                        entry += " msg=new-task";
                    }
                    "EXEC" => {
                        entry += if msg == i64::from(main.as_raw()) {
                            " msg=own-pid"
                        } else {
                            " msg=other"
                        };
                        let extra = at_exec(pid);
                        if !extra.is_empty() {
                            entry += " ";
                            entry += extra;
                        }
                    }
                    _ => {}
                }
                Some(None)
            }
            WaitStatus::Stopped(_, Signal::SIGSTOP) if !is_main => Some(None),
            WaitStatus::Stopped(_, Signal::SIGTRAP) if is_main => Some(None),
            WaitStatus::Stopped(_, sig) => Some(Some(sig)),
            WaitStatus::Exited(..) | WaitStatus::Signaled(..) => None,
            _ => Some(None),
        };
        if let Some(sig) = resume {
            let _ = ptrace::cont(pid, sig);
        }
        if is_main {
            main_log.push(entry);
            main_done = task::is_final(&s);
        } else {
            new_log.push(entry);
        }
    }
    // The event message names the task that then stopped as new.
    let named_right = told.map(|t| Some(t) == new_pid.map(|p| i64::from(p.as_raw())));
    let main_text = main_log.join(" -> ").replace(
        "msg=new-task",
        if named_right == Some(false) {
            "msg=other"
        } else {
            "msg=new-task"
        },
    );
    Ok((main_text, new_log))
}

// ---------------------------------------------------------------------------
// Setuid exec

/// What the unprivileged task runs under when it execs a setuid-root
/// copy of the probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setuid {
    /// A filter it installed itself (so with no_new_privs).
    FilterNnp,
    /// A filter root installed without no_new_privs before dropping to
    /// NOBODY.
    FilterByRoot,
    /// Seized by an unprivileged tracer (its own uid) with TRACEEXEC.
    TracedUnprivileged,
    /// Seized by root with TRACEEXEC.
    TracedByRoot,
}

impl Setuid {
    const ALL: [Setuid; 4] = [
        Setuid::FilterNnp,
        Setuid::FilterByRoot,
        Setuid::TracedUnprivileged,
        Setuid::TracedByRoot,
    ];
}

impl Param for Setuid {
    fn slug(&self) -> String {
        match self {
            Setuid::FilterNnp => "filter-nnp",
            Setuid::FilterByRoot => "filter-by-root",
            Setuid::TracedUnprivileged => "traced-unprivileged",
            Setuid::TracedByRoot => "traced-by-root",
        }
        .into()
    }
}

const SETUID_WORDS: [&str; 5] = ["euid", "nnp", "seccomp", "getppid", "secure"];

/// A setuid-root program exec'd by NOBODY gets euid 0, unless
/// no_new_privs is set or a tracer without CAP_SYS_PTRACE follows it;
/// a filter stays on either way, and so does the tracer.
const SETUID_EXEC: Scenario<Setuid> = Scenario {
    base: "inherit/setuid-exec",
    area: AREA,
    summary: "no_new_privs and an unprivileged tracer stop a setuid exec's euid 0; filters stay",
    needs: |case| match case {
        Setuid::TracedUnprivileged => Needs::root().sysctl(YAMA_SCOPE, YAMA_ADMITS_UNPRIVILEGED),
        Setuid::TracedByRoot => Needs::root().sysctl(YAMA_SCOPE, YAMA_ADMITS_ROOT),
        _ => Needs::root(),
    },
    run: setuid_exec,
};

fn setuid_exec(case: &Setuid, ctx: &Ctx) -> Outcome {
    match case {
        Setuid::TracedUnprivileged => access::yama_lets_unprivileged_in()?,
        Setuid::TracedByRoot => access::yama_lets_root_in()?,
        _ => {}
    }
    let copy = ProbeCopy::setuid_root(ctx)?;
    let exe = copy.exe.clone();
    let run_as_nobody = |before_drop: &dyn Fn(), after_drop: &dyn Fn()| {
        capture(|| {
            before_drop();
            creds::drop_or_exit(NOBODY);
            after_drop();
            exec_probe(&exe, "state")
        })
    };
    let nothing = || {};
    let (out, end) = match case {
        Setuid::FilterNnp => run_as_nobody(&nothing, &|| Install::Nnp.apply(&filter_a()))?,
        Setuid::FilterByRoot => {
            run_as_nobody(&|| Install::RootWithoutNnp.apply(&filter_a()), &nothing)?
        }
        Setuid::TracedUnprivileged => return access::as_uid(NOBODY, || traced_setuid_exec(&exe)),
        Setuid::TracedByRoot => return traced_setuid_exec(&exe),
    };
    finished(&end, &out)?;
    Ok(Observation::new(pick(&out, &SETUID_WORDS)))
}

/// Seize a subject that drops to NOBODY and execs `exe`; follow it to
/// its end: `tracer: event EXEC ... -> exit 0; euid=... ...`.
fn traced_setuid_exec(exe: &Path) -> Outcome {
    let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
    let tracee = Tracee::spawn(Attach::Seize, Options::PTRACE_O_TRACEEXEC, || {
        creds::drop_or_exit(NOBODY);
        setup::or_exit("dup2(stdout)", nix::unistd::dup2_stdout(&tx));
        exec_probe(exe, "state")
    })?;
    drop(tx);
    let (log, _) = follow_tracee(tracee.pid, |_| "")?;
    let out = access::read_all(rx);
    if out.is_empty() {
        return Err(Stop::error(format!(
            "the traced program printed nothing: {log}"
        )));
    }
    Ok(Observation::new(format!(
        "tracer: {log}; {}",
        pick(out.trim_end(), &SETUID_WORDS)
    )))
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
        assert!(ids.iter().all(|i| i.starts_with("inherit/")));
        assert!(ids.len() <= 40, "{} instances", ids.len());
    }
}
