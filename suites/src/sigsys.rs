//! SECCOMP_RET_TRAP and the SIGSYS handler (BRIEF item 5; issue 6).
//!
//! RET_TRAP skips the syscall, rolls the registers back to what the task
//! passed (rax = the syscall number again) and forces a thread-directed
//! SIGSYS with si_code SYS_SECCOMP, si_syscall, si_arch, si_errno =
//! RET_DATA and si_call_addr = the instruction after `syscall`. A handler
//! can read all of that and the saved registers, emulate the syscall (set
//! rax in the ucontext) or restart it another way (rewind rip onto the
//! `syscall` instruction with new arguments, or make another call). A
//! trap while SIGSYS is blocked or ignored is forced: the handler is
//! reset to SIG_DFL and the task dies with SIGSYS. A filter that traps
//! seccomp() or rt_sigaction() keeps the task from adding filters or
//! changing handlers through those calls.
//!
//! Handlers here only touch atomics, write(2) a note into a pipe and make
//! raw syscalls (async-signal-safe). Observations are the subject's end,
//! then `notes=` (what the handler and the code after the trap saw, in
//! order), and where a write is trapped, `effects=` (which writes really
//! ran, see kit::effects).

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU8, Ordering::SeqCst};

use kconform_core::{setup, Area, Needs, Observation, Outcome, Param, Scenario};
use nix::errno::Errno;
use nix::sys::signal::{
    pthread_sigmask, raise, sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal,
};

use crate::kit::effects::{result_text, Effects, LABELS};
use crate::kit::seccomp::{seccomp, Filter, Ret, AUDIT_ARCH_X86_64};
use crate::kit::task::{spawn, wait_exit, NoteBuf, Notes};
use crate::kit::trace::{result_name, SigInfo};

type Handler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// Where handlers write their notes (set before the subject is forked).
static NOTES: AtomicI32 = AtomicI32::new(-1);

/// Effects labels: the trapped write goes to A, a restart to B.
const A: usize = 0;
const B: usize = 1;
static FD_A: AtomicI32 = AtomicI32::new(-1);
static FD_B: AtomicI32 = AtomicI32::new(-1);

fn note(s: &str) {
    crate::kit::task::note_to(NOTES.load(SeqCst), s.as_bytes());
}

/// The siginfo handed to an SA_SIGINFO handler, read as bytes (the
/// _sigsys fields have no libc accessor).
///
/// # Safety
/// `info` is the second argument the kernel passed to an SA_SIGINFO handler.
unsafe fn siginfo(info: *mut libc::siginfo_t) -> SigInfo {
    // SAFETY: the kernel's siginfo is 128 valid bytes (caller's promise).
    SigInfo::decode(unsafe { &*(info as *const [u8; 128]) })
}

/// The saved general registers the handler returns into.
///
/// # Safety
/// `ctx` is the third argument the kernel passed to an SA_SIGINFO handler
/// (the ucontext_t on the signal frame), and the result must not outlive
/// the handler.
unsafe fn gregs<'a>(ctx: *mut libc::c_void) -> &'a mut [libc::greg_t; 23] {
    // SAFETY: a valid, exclusively ours ucontext_t (caller's promise).
    unsafe { &mut (*(ctx as *mut libc::ucontext_t)).uc_mcontext.gregs }
}

fn reg(name: libc::c_int) -> usize {
    name as usize
}

/// `handler syscall=N data=0xD`: what every handler notes first.
fn note_trap(n: &mut NoteBuf, si: &SigInfo) {
    n.str("handler syscall=")
        .num(si.syscall as i64)
        .str(" data=")
        .hex(si.errno as u64);
}

fn install(sig: Signal, handler: Handler, flags: SaFlags, mask: SigSet) -> nix::Result<()> {
    let act = SigAction::new(
        SigHandler::SigAction(handler),
        SaFlags::SA_SIGINFO | flags,
        mask,
    );
    // SAFETY: this module's handlers only read their arguments, use
    // atomics, write(2) notes and make raw syscalls.
    unsafe { sigaction(sig, &act) }.map(drop)
}

/// Fork the subject with handler notes going to a fresh pipe; the
/// subject's end, then `notes=` and the notes in order.
fn subject(body: impl FnOnce(&Notes) -> i32) -> Result<String, kconform_core::Stop> {
    let notes = Notes::new()?;
    NOTES.store(notes.raw_tx(), SeqCst);
    let pid = spawn(|| body(&notes))?;
    let end = wait_exit(pid)?;
    Ok(format!("{end}; notes={}", notes.summary()))
}

/// In a subject: [`install`] `handler` for `sig`, or give up (see
/// [`kconform_core::setup`]).
fn handle(sig: Signal, handler: Handler, flags: SaFlags, mask: SigSet) {
    let call = format!("sigaction({})", sig.as_str());
    setup::or_exit(&call, install(sig, handler, flags, mask));
}

fn getppid_raw() -> i64 {
    crate::kit::seccomp::raw_syscall(libc::SYS_getppid, 0)
}

// --- the siginfo and ucontext a handler is given -------------------------------

/// Six distinct arguments, so the handler can tell they are all as passed.
const ARGS: [u64; 6] = [
    0x11,
    0x2222,
    0x33_3333,
    0x4444_4444,
    0x55_5555_5555,
    0x6666_6666_6666,
];

/// The syscall a filter traps, and the RET_DATA it traps it with.
#[derive(Clone, Copy, Debug)]
pub struct Info {
    /// getppid, or a number no kernel has (the filter runs before the
    /// syscall table is looked at).
    pub nr: i64,
    pub data: u16,
}

impl Param for Info {
    fn slug(&self) -> String {
        let nr = match self.nr {
            libc::SYS_getppid => "getppid".to_string(),
            n => format!("nr-{n}"),
        };
        format!("{nr}/data-{:#x}", self.data)
    }
}

extern "C" fn reporting_handler(
    _: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    // SAFETY: our own arguments, as the kernel passed them.
    let (si, g) = unsafe { (siginfo(info), gregs(ctx)) };
    let mut n = NoteBuf::default();
    n.str(if si.signo == libc::SIGSYS {
        "handler SIGSYS"
    } else {
        "handler other-signal"
    });
    n.str(if si.code == 1 {
        " code=SYS_SECCOMP"
    } else {
        " code=other"
    });
    n.str(" errno=").hex(si.errno as u64);
    n.str(" syscall=").num(si.syscall as i64);
    n.str(if si.arch == AUDIT_ARCH_X86_64 {
        " arch=x86_64"
    } else {
        " arch=other"
    });
    let at_rip = si.addr == g[reg(libc::REG_RIP)] as u64;
    n.str(if at_rip {
        " call_addr=rip"
    } else {
        " call_addr=other"
    });
    if at_rip {
        // SAFETY: rip is in our own mapped code, just past the
        // instruction that trapped.
        let insn = unsafe { std::ptr::read_unaligned((si.addr - 2) as *const [u8; 2]) };
        n.str(if insn == [0x0f, 0x05] {
            " insn=syscall"
        } else {
            " insn=other"
        });
    }
    n.str(if g[reg(libc::REG_RAX)] == si.syscall as i64 {
        " rax=nr"
    } else {
        " rax=other"
    });
    let regs = [
        libc::REG_RDI,
        libc::REG_RSI,
        libc::REG_RDX,
        libc::REG_R10,
        libc::REG_R8,
        libc::REG_R9,
    ];
    let kept = regs.iter().zip(ARGS).all(|(&r, a)| g[reg(r)] as u64 == a);
    n.str(if kept {
        " args=as-passed"
    } else {
        " args=changed"
    });
    n.send(NOTES.load(SeqCst));
}

/// A SIGSYS handler reads what the kernel says about the trapped call:
/// SYS_SECCOMP, the number, x86_64, RET_DATA in si_errno (all 16 bits,
/// unlike RET_ERRNO's cap at 4095), si_call_addr equal to the saved rip
/// just past the `syscall` instruction, and the registers rolled back.
pub const SIGINFO: Scenario<Info> = Scenario {
    base: "sigsys/siginfo",
    area: AREA,
    summary: "a SIGSYS handler sees SYS_SECCOMP, the syscall, arch, RET_DATA and call address",
    needs: |_| Needs::any(),
    run: |p, _| {
        let text = subject(|notes| {
            handle(
                Signal::SIGSYS,
                reporting_handler,
                SaFlags::empty(),
                SigSet::empty(),
            );
            Filter::allow_all()
                .on(p.nr, Ret::Trap(p.data))
                .install_or_exit();
            let [a0, a1, a2, a3, a4, a5] = ARGS;
            // SAFETY: a trapped syscall: the kernel never runs it.
            unsafe { libc::syscall(p.nr, a0, a1, a2, a3, a4, a5) };
            notes.say("after");
            0
        })?;
        Ok(Observation::new(text))
    },
};

// --- emulating the syscall -----------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emulate {
    /// The handler returns without touching the registers: the "result"
    /// is the syscall number the rollback left in rax.
    Untouched,
    /// rax = 4242 in the ucontext.
    Value,
    /// rax = -EPERM in the ucontext.
    Errno,
}

impl Param for Emulate {
    fn slug(&self) -> String {
        match self {
            Emulate::Untouched => "untouched",
            Emulate::Value => "value",
            Emulate::Errno => "errno",
        }
        .into()
    }
}

/// What the emulating handler puts in rax; i64::MIN means "leave it".
static EMULATED_RAX: AtomicI64 = AtomicI64::new(i64::MIN);

extern "C" fn emulating_handler(
    _: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    let mut n = NoteBuf::default();
    // SAFETY: our own argument, as the kernel passed it.
    note_trap(&mut n, &unsafe { siginfo(info) });
    n.send(NOTES.load(SeqCst));
    let v = EMULATED_RAX.load(SeqCst);
    if v != i64::MIN {
        // SAFETY: our own argument, as the kernel passed it.
        let g = unsafe { gregs(ctx) };
        g[reg(libc::REG_RAX)] = v;
    }
}

/// A handler emulates the trapped syscall by setting rax in the saved
/// context: the caller sees that value (or errno) as the result, and the
/// syscall itself never ran.
pub const EMULATE: Scenario<Emulate> = Scenario {
    base: "sigsys/emulate",
    area: AREA,
    summary: "a SIGSYS handler that sets rax in the ucontext decides the syscall's result",
    needs: |_| Needs::any(),
    run: |p, _| {
        let effects = Effects::new(1)?;
        EMULATED_RAX.store(
            match p {
                Emulate::Untouched => i64::MIN,
                Emulate::Value => 4242,
                Emulate::Errno => -(libc::EPERM as i64),
            },
            SeqCst,
        );
        trapped_write(&effects, emulating_handler)
    },
};

/// A subject with `handler` for SIGSYS whose write to A traps (RET_TRAP):
/// what the write returned, and what reached the effects pipe.
fn trapped_write(effects: &Effects, handler: Handler) -> Outcome {
    let text = subject(|notes| {
        let trap = Filter::allow_all().on_arg0(libc::SYS_write, effects.fd(A) as u32, Ret::Trap(1));
        handle(Signal::SIGSYS, handler, SaFlags::empty(), SigSet::empty());
        trap.install_or_exit();
        let ret = effects.write(A);
        notes.say(&format!("ret={}", result_text(ret)));
        0
    })?;
    Ok(Observation::new(format!(
        "{text}; effects={}",
        effects.summary()
    )))
}

// --- restarting it another way -------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// rip -= 2 (back onto `syscall`) with the fd and buffer pointed at
    /// B: the re-executed write is allowed.
    RewindNewArgs,
    /// rip -= 2 with the arguments unchanged first: it traps again; the
    /// second time the handler changes them.
    RewindSameArgsFirst,
    /// The handler makes the call itself through writev(2), which the
    /// filter does not trap, and returns its result in rax.
    OtherSyscall,
}

impl Restart {
    fn code(self) -> u8 {
        self as u8
    }
}

impl Param for Restart {
    fn slug(&self) -> String {
        match self {
            Restart::RewindNewArgs => "rewind-with-new-args",
            Restart::RewindSameArgsFirst => "rewind-same-args-traps-again",
            Restart::OtherSyscall => "writev-from-handler",
        }
        .into()
    }
}

static RESTART: AtomicU8 = AtomicU8::new(0);
static TRAPS: AtomicU32 = AtomicU32::new(0);

extern "C" fn restarting_handler(_: libc::c_int, _: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let traps = TRAPS.fetch_add(1, SeqCst) + 1;
    let mut n = NoteBuf::default();
    n.str("handler trap=").num(traps as i64);
    n.send(NOTES.load(SeqCst));
    // SAFETY: our own argument, as the kernel passed it.
    let g = unsafe { gregs(ctx) };
    let to_b = |g: &mut [libc::greg_t; 23]| {
        g[reg(libc::REG_RDI)] = FD_B.load(SeqCst) as i64;
        g[reg(libc::REG_RSI)] = LABELS[B].as_ptr() as i64;
    };
    match RESTART.load(SeqCst) {
        x if x == Restart::RewindNewArgs.code() => {
            g[reg(libc::REG_RIP)] -= 2;
            to_b(g);
        }
        x if x == Restart::RewindSameArgsFirst.code() => {
            g[reg(libc::REG_RIP)] -= 2;
            if traps >= 2 {
                to_b(g);
            }
        }
        _ => {
            let iov = libc::iovec {
                iov_base: LABELS[A].as_ptr() as *mut libc::c_void,
                iov_len: 2,
            };
            // SAFETY: writev(2) of a static buffer.
            let rc = unsafe { libc::writev(FD_A.load(SeqCst), &iov, 1) };
            g[reg(libc::REG_RAX)] = if rc < 0 {
                -(Errno::last_raw() as i64)
            } else {
                rc as i64
            };
        }
    }
}

/// A handler restarts the trapped syscall differently: rewinding rip onto
/// the `syscall` instruction works because the rollback left rax = the
/// number, and the filter judges the re-executed call anew; or it makes
/// an allowed call itself.
pub const RESTART_SCENARIO: Scenario<Restart> = Scenario {
    base: "sigsys/restart",
    area: AREA,
    summary: "a SIGSYS handler restarts the trapped syscall with other arguments or another call",
    needs: |_| Needs::any(),
    run: |p, _| {
        let effects = Effects::new(2)?;
        FD_A.store(effects.fd(A), SeqCst);
        FD_B.store(effects.fd(B), SeqCst);
        RESTART.store(p.code(), SeqCst);
        trapped_write(&effects, restarting_handler)
    },
};

// --- a second trap while SIGSYS is (or is not) blocked -------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Second {
    /// Inside the SIGSYS handler (SIGSYS blocked there by default).
    InsideHandler,
    /// Inside a SIGSYS handler installed with SA_NODEFER.
    InsideNodeferHandler,
    /// Inside a SIGUSR1 handler whose sa_mask blocks SIGSYS.
    InsideOtherHandlerMaskingSigsys,
    /// After an SA_RESETHAND handler ran once.
    AfterResethandHandler,
}

impl Param for Second {
    fn slug(&self) -> String {
        match self {
            Second::InsideHandler => "inside-handler",
            Second::InsideNodeferHandler => "inside-nodefer-handler",
            Second::InsideOtherHandlerMaskingSigsys => "inside-other-handler-masking-sigsys",
            Second::AfterResethandHandler => "after-resethand-handler",
        }
        .into()
    }
}

static DEPTH: AtomicU32 = AtomicU32::new(0);
static NEST: AtomicU8 = AtomicU8::new(0);

extern "C" fn nesting_handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let depth = DEPTH.fetch_add(1, SeqCst) + 1;
    let mut n = NoteBuf::default();
    n.str("handler depth=").num(depth as i64);
    n.send(NOTES.load(SeqCst));
    if depth == 1 && NEST.load(SeqCst) == 1 {
        getppid_raw();
        note("nested-returned");
    }
    DEPTH.fetch_sub(1, SeqCst);
}

extern "C" fn usr1_handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    note("handler SIGUSR1");
    getppid_raw();
    note("usr1-returned");
}

/// A trap while SIGSYS is blocked (in its own handler, or by another
/// handler's sa_mask) cannot be held pending: force_sig_info unblocks it,
/// resets the handler to SIG_DFL, and the task dies. With SA_NODEFER the
/// nested trap runs the handler again; after SA_RESETHAND the second trap
/// meets SIG_DFL.
pub const SECOND_TRAP: Scenario<Second> = Scenario {
    base: "sigsys/second-trap",
    area: AREA,
    summary: "a trap while SIGSYS is blocked kills; a deliverable one runs the handler",
    needs: |_| Needs::any(),
    run: |p, _| {
        let text = subject(|notes| {
            let flags = match p {
                Second::InsideNodeferHandler => SaFlags::SA_NODEFER,
                Second::AfterResethandHandler => SaFlags::SA_RESETHAND,
                _ => SaFlags::empty(),
            };
            let nest = matches!(p, Second::InsideHandler | Second::InsideNodeferHandler);
            NEST.store(nest as u8, SeqCst);
            let mut sys_only = SigSet::empty();
            sys_only.add(Signal::SIGSYS);
            handle(Signal::SIGSYS, nesting_handler, flags, SigSet::empty());
            handle(Signal::SIGUSR1, usr1_handler, SaFlags::empty(), sys_only);
            Filter::allow_all()
                .on(libc::SYS_getppid, Ret::Trap(2))
                .install_or_exit();
            match p {
                Second::InsideOtherHandlerMaskingSigsys => {
                    let _ = raise(Signal::SIGUSR1);
                }
                Second::AfterResethandHandler => {
                    getppid_raw();
                    notes.say("after-first");
                    getppid_raw();
                }
                _ => {
                    getppid_raw();
                }
            }
            notes.say("after");
            0
        })?;
        Ok(Observation::new(text))
    },
};

// --- a filter that traps seccomp() itself --------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeccompCall {
    /// seccomp(SECCOMP_SET_MODE_FILTER) with a second filter.
    SetModeFilter,
    /// seccomp(SECCOMP_GET_ACTION_AVAIL): a harmless query, same syscall.
    GetActionAvail,
    /// prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER): another syscall number.
    PrctlSetSeccomp,
}

impl Param for SeccompCall {
    fn slug(&self) -> String {
        match self {
            SeccompCall::SetModeFilter => "seccomp-set-mode-filter",
            SeccompCall::GetActionAvail => "seccomp-get-action-avail",
            SeccompCall::PrctlSetSeccomp => "prctl-set-seccomp",
        }
        .into()
    }
}

/// A handler for traps a sandbox refuses: notes the call and its first
/// argument, and makes a trapped seccomp()/rt_sigaction() fail with EPERM.
extern "C" fn refusing_handler(_: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: our own arguments, as the kernel passed them.
    let (si, g) = unsafe { (siginfo(info), gregs(ctx)) };
    let mut n = NoteBuf::default();
    note_trap(&mut n, &si);
    let arg0 = g[reg(libc::REG_RDI)];
    let refused = match si.syscall as i64 {
        libc::SYS_seccomp => {
            n.str(" op=").str(match arg0 as u32 {
                crate::kit::seccomp::SECCOMP_SET_MODE_FILTER => "SET_MODE_FILTER",
                SECCOMP_GET_ACTION_AVAIL => "GET_ACTION_AVAIL",
                _ => "other",
            });
            true
        }
        libc::SYS_rt_sigaction => {
            n.str(" signal=").str(
                Signal::try_from(arg0 as i32)
                    .map(|s| s.as_str())
                    .unwrap_or("other"),
            );
            true
        }
        _ => false,
    };
    if refused {
        g[reg(libc::REG_RAX)] = -(libc::EPERM as i64);
    }
    n.send(NOTES.load(SeqCst));
}

const SECCOMP_GET_ACTION_AVAIL: u32 = 2;

/// A filter that traps seccomp() stops the task from stacking filters
/// through seccomp(): the handler sees the operation in arg0 and the
/// filter is not installed. prctl(PR_SET_SECCOMP) is another syscall the
/// filter does not name, and installs it.
pub const TRAP_SECCOMP: Scenario<SeccompCall> = Scenario {
    base: "sigsys/trap-seccomp",
    area: AREA,
    summary: "a filter trapping seccomp() keeps seccomp() from adding a filter; prctl() is not it",
    needs: |_| Needs::any(),
    run: |p, _| {
        let text = subject(|notes| {
            handle(
                Signal::SIGSYS,
                refusing_handler,
                SaFlags::empty(),
                SigSet::empty(),
            );
            Filter::allow_all()
                .on(libc::SYS_seccomp, Ret::Trap(5))
                .install_or_exit();
            let second = Filter::allow_all().on(libc::SYS_getppid, Ret::Errno(libc::ESRCH as u16));
            let said = match p {
                SeccompCall::SetModeFilter => {
                    format!("seccomp={}", result_name(&second.install_flags(0)))
                }
                SeccompCall::GetActionAvail => {
                    let action = Ret::Log.value();
                    // SAFETY: GET_ACTION_AVAIL reads one u32 that outlives the call.
                    let r = unsafe {
                        seccomp(
                            SECCOMP_GET_ACTION_AVAIL,
                            0,
                            &action as *const u32 as *mut libc::c_void,
                        )
                    };
                    format!("seccomp={}", result_name(&r))
                }
                SeccompCall::PrctlSetSeccomp => {
                    let prog = second.program();
                    let fprog = libc::sock_fprog {
                        len: prog.len() as u16,
                        filter: prog.as_ptr() as *mut libc::sock_filter,
                    };
                    // SAFETY: fprog and its program outlive the call.
                    let r = Errno::result(unsafe {
                        libc::prctl(
                            libc::PR_SET_SECCOMP,
                            libc::SECCOMP_MODE_FILTER,
                            &fprog as *const libc::sock_fprog,
                        )
                    });
                    format!("prctl={}", result_name(&r))
                }
            };
            notes.say(&said);
            let second_there = getppid_raw() == -(libc::ESRCH as i64);
            notes.say(if second_there {
                "second-filter=installed"
            } else {
                "second-filter=absent"
            });
            0
        })?;
        Ok(Observation::new(text))
    },
};

// --- a filter that traps rt_sigaction() or rt_sigreturn() ----------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigactionCall {
    /// SIGSYS -> SIG_IGN, with the refusing handler installed.
    IgnoreSigsys,
    /// A SIGUSR1 handler, then raise(SIGUSR1).
    HandleSigusr1,
    /// Install the SIGSYS handler only after the filter: too late.
    SigsysHandlerAfterFilter,
}

impl Param for SigactionCall {
    fn slug(&self) -> String {
        match self {
            SigactionCall::IgnoreSigsys => "ignore-sigsys",
            SigactionCall::HandleSigusr1 => "handle-sigusr1",
            SigactionCall::SigsysHandlerAfterFilter => "sigsys-handler-after-filter",
        }
        .into()
    }
}

/// A filter that traps rt_sigaction() leaves every disposition as it
/// was: the SIGSYS handler installed before stays (and keeps catching
/// traps), a new SIGUSR1 handler never arrives (the raise kills), and a
/// task without a SIGSYS handler cannot install one: that very call traps
/// into SIG_DFL.
pub const TRAP_SIGACTION: Scenario<SigactionCall> = Scenario {
    base: "sigsys/trap-rt-sigaction",
    area: AREA,
    summary: "a filter trapping rt_sigaction() freezes the task's signal handlers",
    needs: |_| Needs::any(),
    run: |p, _| {
        let text = subject(|notes| {
            if *p != SigactionCall::SigsysHandlerAfterFilter {
                handle(
                    Signal::SIGSYS,
                    refusing_handler,
                    SaFlags::empty(),
                    SigSet::empty(),
                );
            }
            Filter::allow_all()
                .on(libc::SYS_rt_sigaction, Ret::Trap(9))
                .on(libc::SYS_getppid, Ret::Trap(2))
                .install_or_exit();
            match p {
                SigactionCall::IgnoreSigsys => {
                    let act = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
                    // SAFETY: SIG_IGN is no handler code.
                    let r = unsafe { sigaction(Signal::SIGSYS, &act) };
                    notes.say(&format!("sigaction={}", result_name(&r)));
                    getppid_raw();
                }
                SigactionCall::HandleSigusr1 => {
                    let r = install(
                        Signal::SIGUSR1,
                        usr1_handler,
                        SaFlags::empty(),
                        SigSet::empty(),
                    );
                    notes.say(&format!("sigaction={}", result_name(&r)));
                    let _ = raise(Signal::SIGUSR1);
                }
                SigactionCall::SigsysHandlerAfterFilter => {
                    let r = install(
                        Signal::SIGSYS,
                        refusing_handler,
                        SaFlags::empty(),
                        SigSet::empty(),
                    );
                    notes.say(&format!("sigaction={}", result_name(&r)));
                }
            }
            notes.say("after");
            0
        })?;
        Ok(Observation::new(text))
    },
};

/// A filter that traps rt_sigreturn(): the handler runs, but returning
/// from it is a trapped syscall made with SIGSYS still blocked (the
/// handler's mask is only lifted by the sigreturn itself), so the task
/// dies with SIGSYS.
pub const TRAP_SIGRETURN: Scenario<()> = Scenario {
    base: "sigsys/trap-rt-sigreturn",
    area: AREA,
    summary: "a filter trapping rt_sigreturn() kills the task as its SIGSYS handler returns",
    needs: |_| Needs::any(),
    run: |_, _| {
        let text = subject(|notes| {
            handle(
                Signal::SIGSYS,
                refusing_handler,
                SaFlags::empty(),
                SigSet::empty(),
            );
            Filter::allow_all()
                .on(libc::SYS_rt_sigreturn, Ret::Trap(15))
                .on(libc::SYS_getppid, Ret::Trap(2))
                .install_or_exit();
            getppid_raw();
            notes.say("after");
            0
        })?;
        Ok(Observation::new(text))
    },
};

// --- which thread gets it ------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thread {
    /// Both threads have SIGSYS unblocked.
    Unblocked,
    /// Only the trapping thread blocks SIGSYS; the main thread does not.
    BlockedInTrapper,
}

impl Param for Thread {
    fn slug(&self) -> String {
        match self {
            Thread::Unblocked => "unblocked",
            Thread::BlockedInTrapper => "blocked-in-trapping-thread",
        }
        .into()
    }
}

static TRAPPER_TID: AtomicI32 = AtomicI32::new(0);

extern "C" fn thread_handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let tid = nix::unistd::gettid().as_raw();
    note(if tid == TRAPPER_TID.load(SeqCst) {
        "handler in=trapping-thread"
    } else {
        "handler in=other-thread"
    });
}

/// The SIGSYS goes to the thread that made the trapped call, never to
/// another thread of the process: the handler runs there, and if that
/// thread blocks SIGSYS the process dies even though another thread
/// would have taken it.
pub const THREAD: Scenario<Thread> = Scenario {
    base: "sigsys/thread",
    area: AREA,
    summary: "RET_TRAP's SIGSYS is for the trapping thread only",
    needs: |_| Needs::any(),
    run: |p, _| {
        let text = subject(|notes| {
            handle(
                Signal::SIGSYS,
                thread_handler,
                SaFlags::empty(),
                SigSet::empty(),
            );
            Filter::allow_all()
                .on(libc::SYS_getppid, Ret::Trap(2))
                .install_or_exit();
            let blocked = *p == Thread::BlockedInTrapper;
            let trapper = std::thread::spawn(move || {
                if blocked {
                    let mut set = SigSet::empty();
                    set.add(Signal::SIGSYS);
                    let blocked = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
                    setup::or_exit("pthread_sigmask(SIG_BLOCK, SIGSYS)", blocked);
                }
                TRAPPER_TID.store(nix::unistd::gettid().as_raw(), SeqCst);
                getppid_raw();
                note("trapping-thread-after");
            });
            let _ = trapper.join();
            notes.say("main-after");
            0
        })?;
        Ok(Observation::new(text))
    },
};

pub const AREA: Area = Area {
    name: "sigsys",
    summary: "SECCOMP_RET_TRAP: SIGSYS handlers, their siginfo, restart and emulation",
};

pub fn instances() -> Vec<kconform_core::Instance> {
    let mut all = Vec::new();
    all.extend(SIGINFO.expand([
        Info {
            nr: libc::SYS_getppid,
            data: 0,
        },
        Info {
            nr: libc::SYS_getppid,
            data: 0xffff,
        },
        Info {
            nr: 1000,
            data: 0x42,
        },
    ]));
    all.extend(EMULATE.expand([Emulate::Untouched, Emulate::Value, Emulate::Errno]));
    all.extend(RESTART_SCENARIO.expand([
        Restart::RewindNewArgs,
        Restart::RewindSameArgsFirst,
        Restart::OtherSyscall,
    ]));
    all.extend(SECOND_TRAP.expand([
        Second::InsideHandler,
        Second::InsideNodeferHandler,
        Second::InsideOtherHandlerMaskingSigsys,
        Second::AfterResethandHandler,
    ]));
    all.extend(TRAP_SECCOMP.expand([
        SeccompCall::SetModeFilter,
        SeccompCall::GetActionAvail,
        SeccompCall::PrctlSetSeccomp,
    ]));
    all.extend(TRAP_SIGACTION.expand([
        SigactionCall::IgnoreSigsys,
        SigactionCall::HandleSigusr1,
        SigactionCall::SigsysHandlerAfterFilter,
    ]));
    all.extend(TRAP_SIGRETURN.expand([()]));
    all.extend(THREAD.expand([Thread::Unblocked, Thread::BlockedInTrapper]));
    all
}
