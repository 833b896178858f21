//! SA_IMMUTABLE visibility (BRIEF item 1; seed 000).
//!
//! A signal the kernel forces on a task (SIGSYS from SECCOMP_RET_TRAP, a
//! SIGSEGV from a fault, a SIGTRAP from int3) must reach a ptrace tracer
//! as a signal-delivery stop with its siginfo, whatever the task did with
//! the signal (default, ignored, handled, blocked), and the tracer may
//! suppress or re-inject it. 5.16-rc1 marked such signals SA_IMMUTABLE
//! and hid them from tracers (gdb and rr stopped seeing them); 5.16-rc2
//! narrowed SA_IMMUTABLE to signals that must kill. Only those may make
//! the handler immune to sigaction().

use std::arch::asm;

use kconform_core::{setup, Area, Ctx, Needs, Observation, Outcome, Param, Scenario, Stop};
use nix::errno::Errno;
use nix::sys::ptrace::Options;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

use crate::kit::access::set_dumpable;
use crate::kit::seccomp::{raw_syscall, Filter, Ret};
use crate::kit::sig::{handler_name, is_blocked, try_install_handler, Disposition};
use crate::kit::task::{describe, is_final, or_exit_stop, spawn, wait_exit, Notes};
use crate::kit::trace::{Attach, Tracee};

/// RET_DATA of the trapping filter: the tracer must read it back as si_errno.
const TRAP_DATA: u16 = 0x42;

/// How the kernel comes to force a signal on the subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// SECCOMP_RET_TRAP on getppid(): SIGSYS, si_code SYS_SECCOMP.
    Trap,
    /// A load from an unmapped address: SIGSEGV, SEGV_MAPERR.
    Segv,
    /// The int3 instruction: SIGTRAP, SI_KERNEL.
    Int3,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Trap, Source::Segv, Source::Int3];

    pub fn signal(self) -> Signal {
        match self {
            Source::Trap => Signal::SIGSYS,
            Source::Segv => Signal::SIGSEGV,
            Source::Int3 => Signal::SIGTRAP,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Source::Trap => "ret-trap",
            Source::Segv => "sigsegv",
            Source::Int3 => "int3",
        }
    }

    /// The kernel call: make the kernel force the signal, then note
    /// that the subject ran on (and, for the trap, what getppid returned).
    fn fire(self, notes: &Notes) {
        match self {
            Source::Trap => {
                Filter::allow_all()
                    .on(libc::SYS_getppid, Ret::Trap(TRAP_DATA))
                    .install_or_exit();
                let ret = raw_syscall(libc::SYS_getppid, 0);
                notes.say(&format!("after ret={ret}"));
            }
            Source::Segv => {
                // SAFETY: deliberately faults; 0x10 is never mapped (mmap_min_addr).
                unsafe { asm!("mov {0}, qword ptr [{1}]", out(reg) _, in(reg) 0x10usize) };
                notes.say("after");
            }
            Source::Int3 => {
                // SAFETY: int3 traps and returns after the instruction.
                unsafe { asm!("int3") };
                notes.say("after");
            }
        }
    }
}

/// What the tracer does at the signal-delivery stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// PTRACE_CONT with signal 0.
    Suppress,
    /// PTRACE_CONT with the signal.
    Reinject,
}

impl Action {
    pub const ALL: [Action; 2] = [Action::Suppress, Action::Reinject];
    fn slug(self) -> &'static str {
        match self {
            Action::Suppress => "suppress",
            Action::Reinject => "reinject",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Traced {
    pub source: Source,
    pub disposition: Disposition,
    pub attach: Attach,
    pub action: Action,
}

impl Param for Traced {
    fn slug(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.source.slug(),
            self.disposition.slug(),
            self.attach.slug(),
            self.action.slug()
        )
    }
}

/// Wait for the first stop; if it is the forced signal's delivery stop,
/// resume with `deliver` (named `label`), then follow the subject to its
/// end. The text is every stop and the end, joined by ` -> `.
fn answer_first_stop(
    tracee: &Tracee,
    sig: Signal,
    label: &str,
    deliver: Option<Signal>,
) -> Result<String, Stop> {
    let first = tracee.wait()?;
    let seen = describe_stop(tracee, &first);
    if is_final(&first) {
        return Ok(seen);
    }
    if matches!(first, WaitStatus::Stopped(_, s) if s == sig) {
        tracee.cont(deliver)?;
        Ok(format!("{seen} -> {label} -> {}", tracee.run_to_exit()?))
    } else {
        tracee.cont(None)?;
        Ok(format!("{seen} -> {}", tracee.run_to_exit()?))
    }
}

/// The first stop with its siginfo, as the tracer sees it.
fn describe_stop(tracee: &Tracee, s: &WaitStatus) -> String {
    match s {
        WaitStatus::Stopped(..) => match tracee.siginfo() {
            Ok(si) => format!("stop {si}"),
            Err(e) => format!("{} (GETSIGINFO {e})", describe(s)),
        },
        other => describe(other),
    }
}

/// A forced signal reaches the tracer as a signal-delivery stop carrying
/// the right siginfo, whatever the disposition, and the tracer decides
/// its fate.
pub const TRACER_SEES_FORCED_SIGNAL: Scenario<Traced> = Scenario {
    base: "sa-immutable/traced",
    area: AREA,
    summary: "a forced signal is a signal-delivery stop the tracer can suppress or re-inject",
    needs: |_| Needs::any(),
    run: tracer_sees_forced_signal,
};

fn tracer_sees_forced_signal(p: &Traced, _: &Ctx) -> Outcome {
    let notes = Notes::new()?;
    let sig = p.source.signal();
    let tracee = Tracee::spawn(p.attach, Options::empty(), || {
        p.disposition.apply_or_exit(sig, notes.raw_tx());
        p.source.fire(&notes);
        0
    })?;

    let deliver = match p.action {
        Action::Suppress => None,
        Action::Reinject => Some(sig),
    };
    let seen = answer_first_stop(&tracee, sig, p.action.slug(), deliver)?;
    Ok(Observation::new(format!(
        "{seen}; notes={}",
        notes.summary()
    )))
}

/// A forced signal's source and the disposition the subject set up.
#[derive(Clone, Copy, Debug)]
pub struct Forced {
    pub source: Source,
    pub disposition: Disposition,
}

impl Param for Forced {
    fn slug(&self) -> String {
        format!("{}/{}", self.source.slug(), self.disposition.slug())
    }
}

/// The baseline without a tracer: an ignored or blocked forced signal is
/// not ignored (the kernel resets it to SIG_DFL and kills), a handler runs.
pub const UNTRACED_BASELINE: Scenario<Forced> = Scenario {
    base: "sa-immutable/untraced",
    area: AREA,
    summary: "without a tracer, an ignored or blocked forced signal kills and a handler runs",
    needs: |_| Needs::any(),
    run: untraced_baseline,
};

fn untraced_baseline(p: &Forced, _: &Ctx) -> Outcome {
    let notes = Notes::new()?;
    let pid = spawn(|| {
        p.disposition
            .apply_or_exit(p.source.signal(), notes.raw_tx());
        p.source.fire(&notes);
        0
    })?;
    let end = wait_exit(pid)?;
    Ok(Observation::new(format!(
        "{end}; notes={}",
        notes.summary()
    )))
}

/// After a forced, non-fatal signal the tracer suppressed, the subject
/// finds what the kernel did to its disposition (an ignored or blocked
/// signal is reset to SIG_DFL and unblocked) and can still change it:
/// only a signal that must kill makes the handler immutable. (5.16-rc1
/// made every such handler immutable.)
pub const SIGACTION_AFTER_FORCED: Scenario<Forced> = Scenario {
    base: "sa-immutable/sigaction-after-forced",
    area: AREA,
    summary: "after a suppressed forced signal the handler is reset but still changeable",
    needs: |_| Needs::any(),
    run: sigaction_after_forced,
};

fn sigaction_after_forced(p: &Forced, _: &Ctx) -> Outcome {
    let notes = Notes::new()?;
    let sig = p.source.signal();
    let tracee = Tracee::spawn(Attach::Traceme, Options::empty(), || {
        p.disposition.apply_or_exit(sig, notes.raw_tx());
        p.source.fire(&notes);
        let handler = handler_name(sig);
        let blocked = if is_blocked(sig) { "yes" } else { "no" };
        let change = try_install_handler(sig, notes.raw_tx());
        notes.say(&format!(
            "handler={handler} blocked={blocked} sigaction={change}"
        ));
        0
    })?;
    let seen = answer_first_stop(&tracee, sig, "suppress", None)?;
    Ok(Observation::new(format!(
        "{seen}; notes={}",
        notes.summary()
    )))
}

/// How the task sharing our signal handlers is killed.
#[derive(Clone, Copy, Debug)]
pub enum Kill {
    Process,
    Thread,
}

impl Param for Kill {
    fn slug(&self) -> String {
        match self {
            Kill::Process => "kill-process".into(),
            Kill::Thread => "kill-thread".into(),
        }
    }
}

/// When RET_KILL forces SIGSYS, the kernel resets the handler to SIG_DFL
/// and marks it SA_IMMUTABLE so nothing can catch the fatal signal. A
/// process that shares the handler table (CLONE_SIGHAND) sees that and
/// its sigaction(SIGSYS) is refused with EINVAL. Before 5.16 the kernel
/// exited the task directly and left the handler alone.
pub const SIGACTION_AFTER_KILL: Scenario<Kill> = Scenario {
    base: "sa-immutable/shared-handlers-after-ret-kill",
    area: AREA,
    summary: "a RET_KILL'd task's SIGSYS handler becomes SIG_DFL and immutable for sharers",
    needs: |_| Needs::any(),
    run: sigaction_after_kill,
};

struct KillArgs {
    prog: libc::sock_fprog,
}

extern "C" fn killed_sharer(arg: *mut libc::c_void) -> libc::c_int {
    // Runs on its own stack in our address space: raw syscalls only.
    // SAFETY: arg is the KillArgs the parent keeps alive until we are reaped.
    let args = unsafe { &*(arg as *const KillArgs) };
    // Setup failures are reported without allocating (setup::failed_raw).
    // SAFETY: prctl with integer arguments.
    let nnp = Errno::result(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) });
    setup::or_exit_raw("prctl(PR_SET_NO_NEW_PRIVS)", nnp);
    // SAFETY: the program outlives the call; the kernel only reads it.
    let filtered = Errno::result(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            crate::kit::seccomp::SECCOMP_SET_MODE_FILTER,
            0,
            &args.prog as *const libc::sock_fprog,
        )
    });
    setup::or_exit_raw("seccomp(SET_MODE_FILTER)", filtered);
    // SAFETY: getppid takes no arguments.
    unsafe { libc::syscall(libc::SYS_getppid) };
    0
}

fn sigaction_after_kill(p: &Kill, _: &Ctx) -> Outcome {
    let notes = Notes::new()?;
    let pid = spawn(|| {
        let ret = match p {
            Kill::Process => Ret::KillProcess,
            Kill::Thread => Ret::KillThread,
        };
        let program = Filter::allow_all().on(libc::SYS_getppid, ret).program();
        let args = KillArgs {
            prog: libc::sock_fprog {
                len: program.len() as u16,
                filter: program.as_ptr() as *mut libc::sock_filter,
            },
        };
        Disposition::Handled.apply_or_exit(Signal::SIGSYS, notes.raw_tx());
        // Without a dump to write, the kernel's coredump path never runs;
        // before 5.16 it would also have killed every task sharing the mm.
        setup::or_exit("prctl(PR_SET_DUMPABLE, 0)", set_dumpable(0));
        let mut stack = vec![0u8; 64 * 1024];
        // SAFETY: CLONE_VM|CLONE_SIGHAND child on its own stack; it only
        // makes raw syscalls and we wait for it before `stack` and `args` go.
        let child = unsafe {
            libc::clone(
                killed_sharer,
                stack.as_mut_ptr().add(stack.len()) as *mut libc::c_void,
                libc::CLONE_VM | libc::CLONE_SIGHAND | libc::SIGCHLD,
                &args as *const KillArgs as *mut libc::c_void,
            )
        };
        let child = setup::or_exit("clone(CLONE_VM | CLONE_SIGHAND)", Errno::result(child));
        let end = or_exit_stop("waitpid", wait_exit(nix::unistd::Pid::from_raw(child)));
        let handler = handler_name(Signal::SIGSYS);
        let change = try_install_handler(Signal::SIGSYS, notes.raw_tx());
        notes.say(&format!(
            "sharer {end}; handler={handler} sigaction={change}"
        ));
        drop(stack);
        0
    })?;
    let end = wait_exit(pid)?;
    if end != "exit 0" {
        return Err(Stop::error(format!("subject did not finish: {end}")));
    }
    Ok(Observation::new(notes.summary()))
}

pub const AREA: Area = Area {
    name: "sa-immutable",
    summary: "forced signals stay visible to ptrace tracers (the 5.16-rc1 SA_IMMUTABLE regression)",
};

pub fn instances() -> Vec<kconform_core::Instance> {
    let mut all = Vec::new();
    let mut traced = Vec::new();
    let mut untraced = Vec::new();
    for source in Source::ALL {
        for disposition in Disposition::ALL {
            untraced.push(Forced {
                source,
                disposition,
            });
            for attach in Attach::ALL {
                for action in Action::ALL {
                    traced.push(Traced {
                        source,
                        disposition,
                        attach,
                        action,
                    });
                }
            }
        }
    }
    all.extend(TRACER_SEES_FORCED_SIGNAL.expand(traced));
    all.extend(UNTRACED_BASELINE.expand(untraced));
    let resumable = [Source::Trap, Source::Int3];
    all.extend(
        SIGACTION_AFTER_FORCED.expand(resumable.iter().flat_map(|&source| {
            Disposition::ALL.map(|disposition| Forced {
                source,
                disposition,
            })
        })),
    );
    all.extend(SIGACTION_AFTER_KILL.expand([Kill::Process, Kill::Thread]));
    all
}
