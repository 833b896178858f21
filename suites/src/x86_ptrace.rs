//! x86 registers, debug registers and signal frames as a tracer and
//! sigreturn see them (the bug catalogue's part E, and the x86 entry
//! fixes around it).
//!
//! A tracer reads and writes a stopped tracee's machine state through
//! PTRACE_PEEKUSER/POKEUSER (`struct user`: registers, segment bases,
//! debug registers), PTRACE_GETREGS/SETREGS, the FXSAVE regsets (the
//! i386 PTRACE_SETFPXREGS, the native PTRACE_SETFPREGS) and the XSAVE
//! regset (NT_X86_XSTATE); a signal handler's frame carries an XSAVE
//! image that rt_sigreturn restores. Each scenario stops a subject at a
//! known point, makes the tracer's call, lets the subject run on, and
//! reports what the call returned and what the subject then saw in its
//! own registers. Where the CPU lacks the state (no XSAVE under QEMU's
//! `qemu64` CPU model, no protection keys), the instance is skipped as
//! kernel-lacks, saying which CPUID bit is missing.

use std::time::{Duration, Instant};

use kconform_core::{setup, Area, Ctx, Needs, Observation, Outcome, Param, Scenario, Stop};
use nix::errno::Errno;
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{kill, raise, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::kit::compat::{i386, int80, int80_4, probe_int80};
use crate::kit::effects::result_text;
use crate::kit::procfs::wait_for_state;
use crate::kit::task::{describe, give_up, is_final, note_to, require, spawn, Notes};
use crate::kit::trace::{result_name, Attach, Tracee};
use crate::kit::x86::{
    cpuid, debugreg_offset, getregset, low_mem, ospke, put_u32, put_u64, rdpkru, reg, setregset,
    u64_at, xcr0, xmm_fate, xmm_pattern, xmm_round_trip, xsave, Xmm, DR6_BS, NT_X86_XSTATE,
};

pub const AREA: Area = Area {
    name: "x86-ptrace",
    summary: "x86 registers, debug registers and signal frames as a tracer and sigreturn see them",
};

/// Nothing beyond a kernel that can trace its children.
fn plain(_: &impl Param) -> Needs {
    Needs::default()
}

fn ia32(_: &impl Param) -> Needs {
    Needs::default().config("CONFIG_IA32_EMULATION")
}

const NO_XSAVE: &str = "the CPU has no XSAVE (CPUID.1:ECX.OSXSAVE clear; QEMU's qemu64 model \
                        has none), so there is no NT_X86_XSTATE regset or XSAVE signal frame";

// --- helpers -------------------------------------------------------------------

/// A seized subject that has stopped itself with SIGSTOP (a
/// signal-delivery stop), ready for the tracer's calls.
fn stopped(body: impl FnOnce() -> i32) -> Result<Tracee, Stop> {
    let tracee = Tracee::spawn(Attach::Seize, Options::empty(), body)?;
    match tracee.wait()? {
        WaitStatus::Stopped(_, Signal::SIGSTOP) => Ok(tracee),
        other => Err(Stop::error(format!(
            "subject did not stop itself: {}",
            describe(&other)
        ))),
    }
}

/// A subject body that only stops itself, then exits 0.
fn stop_self() -> i32 {
    setup::or_exit("raise(SIGSTOP)", raise(Signal::SIGSTOP));
    0
}

/// Let the subject go on (its SIGSTOP suppressed) to its end.
fn finish(tracee: &Tracee) -> Result<String, Stop> {
    setup::step("PTRACE_CONT", tracee.cont(None))?;
    tracee.run_to_exit()
}

fn peek(pid: Pid, off: usize) -> Result<u64, Errno> {
    ptrace::read_user(pid, off as ptrace::AddressType).map(|v| v as u64)
}

fn poke(pid: Pid, off: usize, v: u64) -> Result<(), Errno> {
    ptrace::write_user(pid, off as ptrace::AddressType, v as libc::c_long)
}

/// Whether `int 0x80` works here: probed in a child, since without
/// IA32 emulation the instruction faults.
fn require_int80() -> Result<(), Stop> {
    let notes = Notes::new()?;
    let pid = spawn(|| if int80_works(&notes) { 0 } else { 125 })?;
    let end = crate::kit::task::wait_exit(pid)?;
    if end == "exit 0" {
        Ok(())
    } else {
        Err(no_int80())
    }
}

/// In a subject: whether `int 0x80` works. If not, `status` says so
/// (a note that [`said_no_int80`] finds) and the subject gives up.
fn int80_works(status: &Notes) -> bool {
    let works = probe_int80(status.raw_tx()).is_ok();
    if !works {
        status.say("int80-broken");
    }
    works
}

/// Whether a subject's notes say it found no `int 0x80` (its probe's
/// `int80-faulted`, or [`int80_works`]' `int80-broken`).
fn said_no_int80(notes: &[String]) -> bool {
    notes.iter().any(|n| n.starts_with("int80"))
}

fn no_int80() -> Stop {
    Stop::lacks(
        "int 0x80 from a 64-bit task does not work: IA32 emulation is not built in \
         (CONFIG_IA32_EMULATION) or is off (ia32_emulation=false)",
    )
}

// --- NT_X86_XSTATE -------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// The image as GETREGSET gave it, xmm0 changed: the write goes in.
    Valid,
    /// xcomp_bv set (bit 63, the compacted format, and the features):
    /// the uapi image is the standard format, so the write is refused.
    BogusXcompBv,
}

impl Param for Header {
    fn slug(&self) -> String {
        match self {
            Header::Valid => "valid-header-written",
            Header::BogusXcompBv => "bogus-xcomp-bv-refused",
        }
        .into()
    }
}

/// What the tracer writes into xmm0.
const XMM0_WRITTEN: [u8; 16] = [0x5a; 16];

/// PTRACE_SETREGSET(NT_X86_XSTATE) of a (bogus) image with xmm0 changed.
pub const XSTATE_HEADER: Scenario<Header> = Scenario {
    base: "x86-ptrace/setregset-xstate",
    area: AREA,
    summary:
        "SETREGSET(NT_X86_XSTATE) takes a standard-format image and refuses a nonzero xcomp_bv",
    needs: plain,
    run: xstate_header,
};

fn xstate_header(p: &Header, _: &Ctx) -> Outcome {
    if xcr0().is_none() {
        return Err(Stop::lacks(NO_XSAVE));
    }
    let notes = Notes::new()?;
    let load = xmm_pattern();
    let tracee = stopped(|| {
        let after = xmm_round_trip(&load);
        let fate = if after[0] == load[0] {
            "xmm0=kept"
        } else if after[0] == XMM0_WRITTEN {
            "xmm0=written"
        } else {
            "xmm0=other"
        };
        notes.say(fate);
        0
    })?;
    // The kernel's xstate_regs_get() shows the round trip's kill() stop.
    let mut image = setup::step(
        "PTRACE_GETREGSET(NT_X86_XSTATE)",
        getregset(tracee.pid, NT_X86_XSTATE, 1 << 16),
    )?;
    image[xsave::XMM0..xsave::XMM0 + 16].copy_from_slice(&XMM0_WRITTEN);
    if *p == Header::BogusXcompBv {
        let features = u64_at(&image, xsave::XSTATE_BV);
        put_u64(&mut image, xsave::XCOMP_BV, 1 << 63 | features);
    }
    let set = setregset(tracee.pid, NT_X86_XSTATE, &image);
    let end = finish(&tracee)?;
    Ok(Observation::new(format!(
        "SETREGSET={}; {end}; {}",
        result_name(&set),
        notes.summary()
    ))
    .detail("image_bytes", image.len()))
}

/// PKRU written through NT_X86_XSTATE reaches the tracee.
pub const XSTATE_PKRU: Scenario<()> = Scenario {
    base: "x86-ptrace/setregset-xstate/pkru-written",
    area: AREA,
    summary: "a PKRU value written with SETREGSET(NT_X86_XSTATE) is what the tracee reads back",
    needs: plain,
    run: xstate_pkru,
};

/// The access-disable and write-disable bits of protection key 1: no
/// page of the subject carries that key, so flipping them is harmless.
const PKEY1_BITS: u32 = 0b1100;

fn xstate_pkru(_: &(), _: &Ctx) -> Outcome {
    let Some(xcr0) = xcr0() else {
        return Err(Stop::lacks(NO_XSAVE));
    };
    if !ospke() || xcr0 & (1 << 9) == 0 {
        return Err(Stop::lacks(
            "the CPU has no protection keys (CPUID.7.0:ECX.OSPKE clear or XCR0.PKRU off; \
             QEMU's qemu64 model and many AMD hosts have none)",
        ));
    }
    let notes = Notes::new()?;
    let tracee = stopped(|| {
        let before = rdpkru();
        setup::or_exit("raise(SIGSTOP)", raise(Signal::SIGSTOP));
        let after = rdpkru();
        notes.say(if after == before ^ PKEY1_BITS {
            "pkru=written"
        } else if after == before {
            "pkru=kept"
        } else {
            "pkru=other"
        });
        0
    })?;
    let mut image = setup::step(
        "PTRACE_GETREGSET(NT_X86_XSTATE)",
        getregset(tracee.pid, NT_X86_XSTATE, 1 << 16),
    )?;
    // The standard-format offset of PKRU (state component 9).
    let off = cpuid(0xd, 9).1 as usize;
    require_room(&image, off + 4)?;
    // The subject's PKRU is the one it inherited from here.
    put_u32(&mut image, off, rdpkru() ^ PKEY1_BITS);
    let features = u64_at(&image, xsave::XSTATE_BV);
    put_u64(&mut image, xsave::XSTATE_BV, features | 1 << 9);
    let set = setregset(tracee.pid, NT_X86_XSTATE, &image);
    let end = finish(&tracee)?;
    Ok(Observation::new(format!(
        "SETREGSET={}; {end}; {}",
        result_name(&set),
        notes.summary()
    )))
}

fn require_room(image: &[u8], len: usize) -> Result<(), Stop> {
    if image.len() < len {
        return Err(Stop::error(format!(
            "NT_X86_XSTATE image has {} bytes, PKRU needs {len}",
            image.len()
        )));
    }
    Ok(())
}

// --- the FXSAVE area -----------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FxWrite {
    /// The i386 PTRACE_GETFPXREGS/SETFPXREGS through `int 0x80`: a
    /// 32-bit tracer, which has no xmm8-15.
    Int80Setfpxregs,
    /// The native PTRACE_GETFPREGS/SETFPREGS: all sixteen.
    Setfpregs,
}

impl Param for FxWrite {
    fn slug(&self) -> String {
        match self {
            FxWrite::Int80Setfpxregs => "int80-setfpxregs",
            FxWrite::Setfpregs => "setfpregs",
        }
        .into()
    }
}

/// The FXSAVE area read and written back unchanged: what happens to the
/// sixteen xmm registers.
pub const FXSAVE_WRITE: Scenario<FxWrite> = Scenario {
    base: "x86-ptrace/fxsave-written-back",
    area: AREA,
    summary: "an FXSAVE area written back unchanged keeps xmm0-15; a 32-bit tracer's clears exactly xmm8-15",
    needs: |p| match p {
        FxWrite::Int80Setfpxregs => ia32(p),
        FxWrite::Setfpregs => plain(p),
    },
    run: fxsave_write,
};

fn fxsave_write(p: &FxWrite, _: &Ctx) -> Outcome {
    if *p == FxWrite::Int80Setfpxregs {
        require_int80()?;
    }
    let notes = Notes::new()?;
    let load = xmm_pattern();
    let tracee = stopped(|| {
        let after: Xmm = xmm_round_trip(&load);
        notes.say(&format!("xmm0-15={}", xmm_fate(&load, &after)));
        0
    })?;
    let pid = tracee.pid.as_raw();
    let calls = match p {
        FxWrite::Int80Setfpxregs => {
            let buf = setup::step("mmap(MAP_32BIT)", low_mem(4096))?;
            let at = buf.as_ptr() as u64;
            let (get_fpx, set_fpx) = (i386::PTRACE_GETFPXREGS, i386::PTRACE_SETFPXREGS);
            let get = int80_4(i386::PTRACE, get_fpx.into(), pid as u64, 0, at);
            let set = int80_4(i386::PTRACE, set_fpx.into(), pid as u64, 0, at);
            format!("GETFPXREGS={} SETFPXREGS={}", zero_ok(get), zero_ok(set))
        }
        FxWrite::Setfpregs => {
            let mut buf = [0u8; 512];
            let get = raw_ptrace(libc::PTRACE_GETFPREGS, pid, buf.as_mut_ptr());
            let set = raw_ptrace(libc::PTRACE_SETFPREGS, pid, buf.as_mut_ptr());
            format!("GETFPREGS={} SETFPREGS={}", zero_ok(get), zero_ok(set))
        }
    };
    let end = finish(&tracee)?;
    Ok(Observation::new(format!(
        "{calls}; {end}; {}",
        notes.summary()
    )))
}

/// A syscall's result as `ok` (0) or its errno name.
fn zero_ok(ret: i64) -> String {
    if ret == 0 {
        "ok".into()
    } else {
        result_text(ret)
    }
}

fn raw_ptrace(req: libc::c_uint, pid: i32, data: *mut u8) -> i64 {
    // SAFETY: the requests used here read or write a 512-byte area at data.
    let rc = unsafe {
        libc::ptrace(
            req,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            data as *mut libc::c_void,
        )
    };
    if rc < 0 {
        -(Errno::last_raw() as i64)
    } else {
        rc
    }
}

// --- debug registers -----------------------------------------------------------

/// A kernel address: the first of the upper canonical half.
const KERNEL_ADDR: u64 = 0xffff_8000_0000_0000;

/// A breakpoint on a kernel address is refused and changes nothing.
pub const DEBUGREG_KERNEL: Scenario<()> = Scenario {
    base: "x86-ptrace/debugreg/kernel-address-refused",
    area: AREA,
    summary: "POKEUSER of a kernel address into an enabled DR0 fails with EINVAL and DR0 keeps its address",
    needs: plain,
    run: debugreg_kernel,
};

fn debugreg_kernel(_: &(), _: &Ctx) -> Outcome {
    let tracee = stopped(stop_self)?;
    let pid = tracee.pid;
    setup::step("POKEUSER(DR0, 0x1)", poke(pid, debugreg_offset(0), 1))?;
    // L0: the breakpoint at address 1 is enabled (an execute breakpoint
    // nothing runs into).
    setup::step("POKEUSER(DR7, 0x1)", poke(pid, debugreg_offset(7), 1))?;
    let set = poke(pid, debugreg_offset(0), KERNEL_ADDR);
    let dr0 = setup::step("PEEKUSER(DR0)", peek(pid, debugreg_offset(0)))?;
    let end = finish(&tracee)?;
    Ok(Observation::new(format!(
        "POKEUSER DR0={KERNEL_ADDR:#x}: {}; DR0 reads {dr0:#x}; {end}",
        result_name(&set)
    )))
}

/// A disabled breakpoint's address can still be changed.
pub const DEBUGREG_DISABLED: Scenario<()> = Scenario {
    base: "x86-ptrace/debugreg/update-while-disabled",
    area: AREA,
    summary: "a second POKEUSER of DR0 while DR7 leaves it disabled takes effect and reads back",
    needs: plain,
    run: debugreg_disabled,
};

fn debugreg_disabled(_: &(), _: &Ctx) -> Outcome {
    let tracee = stopped(stop_self)?;
    let pid = tracee.pid;
    let first = poke(pid, debugreg_offset(0), 1);
    let second = poke(pid, debugreg_offset(0), 2);
    let dr0 = setup::step("PEEKUSER(DR0)", peek(pid, debugreg_offset(0)))?;
    let end = finish(&tracee)?;
    Ok(Observation::new(format!(
        "POKEUSER DR0=0x1: {}, DR0=0x2: {}; DR0 reads {dr0:#x}; {end}",
        result_name(&first),
        result_name(&second)
    )))
}

// --- single-stepping -----------------------------------------------------------

/// After PTRACE_SINGLESTEP, DR6 as the tracer reads it says "single step".
pub const SINGLESTEP_DR6: Scenario<()> = Scenario {
    base: "x86-ptrace/singlestep/dr6-reports-step",
    area: AREA,
    summary: "after a PTRACE_SINGLESTEP trap, PEEKUSER(DR6) has DR_STEP (BS) set",
    needs: plain,
    run: singlestep_dr6,
};

fn singlestep_dr6(_: &(), _: &Ctx) -> Outcome {
    let tracee = stopped(stop_self)?;
    setup::step("PTRACE_SINGLESTEP", ptrace::step(tracee.pid, None))?;
    let s = tracee.wait()?;
    let mut log = describe(&s);
    if let WaitStatus::Stopped(_, Signal::SIGTRAP) = s {
        let si = setup::step("PTRACE_GETSIGINFO", tracee.siginfo())?;
        let dr6 = setup::step("PEEKUSER(DR6)", peek(tracee.pid, debugreg_offset(6)))?;
        log = format!("stop {si} DR6.BS={}", if dr6 & DR6_BS != 0 { 1 } else { 0 });
    }
    let end = finish(&tracee)?;
    Ok(Observation::new(format!("singlestep -> {log} -> {end}")))
}

/// Stepping over a `syscall` instruction stops right after it.
pub const SINGLESTEP_SYSCALL: Scenario<()> = Scenario {
    base: "x86-ptrace/singlestep/over-syscall-stops-after-it",
    area: AREA,
    summary: "PTRACE_SINGLESTEP over a syscall instruction reports the step at syscall exit, at the next instruction",
    needs: plain,
    run: singlestep_syscall,
};

fn singlestep_syscall(_: &(), _: &Ctx) -> Outcome {
    let tracee = Tracee::spawn(Attach::Seize, Options::empty(), || {
        // SAFETY: int3 (the tracer's stop), getpid, then two nops.
        unsafe {
            std::arch::asm!(
                "int3",
                "syscall",
                "nop",
                "nop",
                inlateout("rax") libc::SYS_getpid => _,
                out("rcx") _,
                out("r11") _,
                options(nostack),
            );
        }
        0
    })?;
    match tracee.wait()? {
        WaitStatus::Stopped(_, Signal::SIGTRAP) => {}
        other => {
            return Err(Stop::error(format!(
                "subject did not stop at its int3: {}",
                describe(&other)
            )))
        }
    }
    // At the int3 stop rip is the syscall instruction's address.
    let at = setup::step("PTRACE_GETREGS", ptrace::getregs(tracee.pid))?.rip;
    setup::step("PTRACE_SINGLESTEP", ptrace::step(tracee.pid, None))?;
    let s = tracee.wait()?;
    let mut log = describe(&s);
    if let WaitStatus::Stopped(_, Signal::SIGTRAP) = s {
        let si = setup::step("PTRACE_GETSIGINFO", tracee.siginfo())?;
        let rip = setup::step("PTRACE_GETREGS", ptrace::getregs(tracee.pid))?.rip;
        log = format!("stop {si} at syscall{:+}", rip.wrapping_sub(at) as i64);
    }
    let end = finish(&tracee)?;
    Ok(Observation::new(format!(
        "int3 -> singlestep over syscall -> {log} -> {end}"
    )))
}

// --- segment bases -------------------------------------------------------------

/// The base the subject's TLS descriptor gets.
const TLS_BASE: u32 = 0x5a5a_0000;

/// PEEKUSER of gs_base when GS holds a TLS selector.
pub const GS_BASE_TLS: Scenario<()> = Scenario {
    base: "x86-ptrace/peekuser/gs-base-of-tls-selector",
    area: AREA,
    summary:
        "PEEKUSER(gs_base) of a tracee whose GS holds a TLS selector reads that descriptor's base",
    needs: ia32,
    run: gs_base_tls,
};

fn gs_base_tls(_: &(), _: &Ctx) -> Outcome {
    let notes = Notes::new()?;
    let status = Notes::new()?;
    let tracee = Tracee::spawn(Attach::Seize, Options::empty(), || {
        if !int80_works(&status) {
            return 125;
        }
        let desc = setup::or_exit("mmap(MAP_32BIT)", low_mem(4096));
        // struct user_desc: entry_number (-1: any free TLS slot),
        // base_addr, limit (4 GiB in pages), then seg_32bit |
        // limit_in_pages | useable.
        put_u32(desc, 0, u32::MAX);
        put_u32(desc, 4, TLS_BASE);
        put_u32(desc, 8, 0xfffff);
        put_u32(desc, 12, 0x1 | 0x10 | 0x40);
        let ret = int80(i386::SET_THREAD_AREA, desc.as_ptr() as u64, 0, 0);
        require(
            "set_thread_area(int 0x80)",
            ret == 0,
            format_args!("returned {}", result_text(ret)),
        );
        let entry = u32::from_le_bytes(desc[0..4].try_into().unwrap());
        let sel = (entry << 3 | 3) as u16;
        note_to(notes.raw_tx(), format!("{sel}").as_bytes());
        // SAFETY: loads GS, which nothing in this process uses.
        unsafe { std::arch::asm!("mov gs, {0:x}", in(reg) sel, options(nostack)) };
        setup::or_exit("raise(SIGSTOP)", raise(Signal::SIGSTOP));
        0
    })?;
    let s = tracee.wait()?;
    if !matches!(s, WaitStatus::Stopped(_, Signal::SIGSTOP)) {
        if said_no_int80(&status.take()) {
            return Err(no_int80());
        }
        return Err(Stop::error(format!(
            "subject did not stop itself: {}",
            describe(&s)
        )));
    }
    let sel: u64 = notes
        .take()
        .first()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Stop::error("subject did not say its selector"))?;
    let gs = setup::step("PEEKUSER(gs)", peek(tracee.pid, reg::GS))?;
    let base = setup::step("PEEKUSER(gs_base)", peek(tracee.pid, reg::GS_BASE))?;
    let end = finish(&tracee)?;
    let gs_text = if gs == sel {
        "tls-selector".to_string()
    } else {
        format!("{gs:#x}")
    };
    Ok(
        Observation::new(format!("gs={gs_text} gs_base={base:#x}; {end}"))
            .detail("selector", format!("{sel:#x}")),
    )
}

// --- syscall restart -----------------------------------------------------------

std::arch::global_asm!(
    ".pushsection .text.kconform_x86_int3_stub, \"ax\"",
    ".globl kconform_x86_int3_stub",
    "kconform_x86_int3_stub:",
    "int3",
    "ud2",
    ".popsection",
);

extern "C" {
    /// `int3; ud2`: where a tracer sends the subject for an excursion,
    /// as gdb's `call func()` does.
    fn kconform_x86_int3_stub();
}

/// How long the subject's i386 nanosleep asks for in the first round.
/// The tracer must interrupt the sleep while it sleeps; on a loaded host
/// (TCG guests beside other work) the sleep can be over before the tracer
/// gets there, which would catch the subject anywhere but in nanosleep.
/// Such a round is void, and the next sleeps twice as long.
const SLEEP: Duration = Duration::from_millis(300);
/// 0.3, 0.6, 1.2, 2.4 and 4.8 s.
const SLEEP_ROUNDS: u32 = 5;
/// -ERESTART_RESTARTBLOCK as the interrupted syscall leaves it in ax.
const ERESTART_RESTARTBLOCK: i64 = -516;

/// An i386 nanosleep interrupted by a 64-bit tracer that runs code in
/// the tracee and restores its registers restarts as i386 restart_syscall.
pub const RESTART_AFTER_EXCURSION: Scenario<()> = Scenario {
    base: "x86-ptrace/restart-syscall/int80-nanosleep-after-excursion",
    area: AREA,
    summary: "an int 0x80 nanosleep interrupted, sent on an excursion and restored by a 64-bit tracer restarts as i386 restart_syscall",
    // i386 nanosleep takes a 32-bit time_t: without the compat time32
    // calls (tinyconfig drops them) it answers ENOSYS and never sleeps.
    needs: |p| ia32(p).config("CONFIG_COMPAT_32BIT_TIME"),
    run: restart_after_excursion,
};

fn restart_after_excursion(_: &(), _: &Ctx) -> Outcome {
    let mut sleep = SLEEP;
    for _ in 0..SLEEP_ROUNDS {
        if let Some(seen) = excursion_from_sleep(sleep)? {
            return Ok(seen);
        }
        sleep *= 2;
    }
    Err(Stop::error(format!(
        "the subject's nanosleep was over before PTRACE_INTERRUPT in each of \
         {SLEEP_ROUNDS} rounds (the last slept {:.1} s): the host is too busy \
         for the tracer to catch it",
        (sleep / 2).as_secs_f64()
    )))
}

/// One round: the subject sleeps `sleep` in an i386 nanosleep; the tracer
/// interrupts it, sends it on an excursion and restores its registers.
/// None if the sleep was over before the interrupt was certainly in.
fn excursion_from_sleep(sleep: Duration) -> Result<Option<Observation>, Stop> {
    let notes = Notes::new()?;
    let status = Notes::new()?;
    let tracee = Tracee::spawn(Attach::Seize, Options::empty(), || {
        if !int80_works(&status) {
            return 125;
        }
        let mem = setup::or_exit("mmap(MAP_32BIT)", low_mem(4096));
        // The i386 timespec at offset 8: were the restart to run
        // another syscall with these arguments, madvise() would refuse
        // the unaligned address.
        put_u32(mem, 8, sleep.as_secs() as u32);
        put_u32(mem, 12, sleep.subsec_nanos());
        // Said before the sleep starts, so the sleep ends no earlier than
        // this time plus `sleep`.
        let now = setup::or_exit("clock_gettime(CLOCK_MONOTONIC)", monotonic());
        status.say(&format!("sleeping {}", now.as_nanos()));
        let t0 = Instant::now();
        let ret = int80(i386::NANOSLEEP, mem.as_ptr() as u64 + 8, 0, 0);
        let slept = if t0.elapsed() >= sleep {
            "full"
        } else {
            "short"
        };
        notes.say(&format!("ret={} slept={slept}", result_text(ret)));
        0
    })?;
    let pid = tracee.pid;
    let Some(wakes) = wait_until_sleeping(pid, &status, sleep)? else {
        return void_round(&tracee);
    };
    setup::step("PTRACE_INTERRUPT", ptrace::interrupt(pid))?;
    // Asleep (state S after its word) and the sleep not yet over when the
    // interrupt returned: it was set on a task inside nanosleep.
    if setup::step("clock_gettime(CLOCK_MONOTONIC)", monotonic())? >= wakes {
        return void_round(&tracee);
    }
    let s = tracee.wait()?;
    if !matches!(s, WaitStatus::PtraceEvent(..)) {
        return Err(Stop::error(format!(
            "PTRACE_INTERRUPT did not stop the subject: {}",
            describe(&s)
        )));
    }
    let saved = setup::step("PTRACE_GETREGS", ptrace::getregs(pid))?;
    let interrupted = format!(
        "{} orig_ax={} ax={}",
        describe(&s),
        saved.orig_rax as i64,
        if saved.rax as i64 == ERESTART_RESTARTBLOCK {
            "ERESTART_RESTARTBLOCK".to_string()
        } else {
            (saved.rax as i64).to_string()
        }
    );
    // The excursion: run the stub, with orig_ax -1 so that nothing is
    // restarted on the way out.
    let mut excursion = saved;
    excursion.rip = kconform_x86_int3_stub as *const () as u64;
    excursion.orig_rax = u64::MAX;
    setup::step("PTRACE_SETREGS", ptrace::setregs(pid, excursion))?;
    setup::step("PTRACE_CONT", tracee.cont(None))?;
    let s = tracee.wait()?;
    let stub = describe(&s);
    if !matches!(s, WaitStatus::Stopped(_, Signal::SIGTRAP)) {
        let _ = kill(pid, Signal::SIGKILL);
        return Ok(Some(Observation::new(format!(
            "{interrupted} -> excursion: {stub}; {}",
            notes.summary()
        ))));
    }
    setup::step("PTRACE_SETREGS", ptrace::setregs(pid, saved))?;
    let end = finish(&tracee)?;
    Ok(Some(Observation::new(format!(
        "{interrupted} -> excursion: {stub} -> registers restored -> {end}; {}",
        notes.summary()
    ))))
}

/// CLOCK_MONOTONIC, which the subject and the tracer share.
fn monotonic() -> nix::Result<Duration> {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map(Duration::from)
}

/// A round that caught the subject too late: it is killed and reaped, and
/// nothing of it is judged.
fn void_round(tracee: &Tracee) -> Result<Option<Observation>, Stop> {
    let _ = kill(tracee.pid, Signal::SIGKILL);
    while !is_final(&tracee.wait()?) {}
    Ok(None)
}

/// When the subject's sleep ends at the earliest, once it has said it is
/// about to sleep and /proc shows it asleep (state S); None if that time
/// came first. An error if it never said so, or gave up (no int 0x80).
fn wait_until_sleeping(
    pid: Pid,
    status: &Notes,
    sleep: Duration,
) -> Result<Option<Duration>, Stop> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let notes = status.take();
        if said_no_int80(&notes) {
            return Err(no_int80());
        }
        if let Some(said) = notes.iter().find_map(|n| n.strip_prefix("sleeping ")) {
            let said: u64 = said
                .parse()
                .map_err(|_| Stop::error(format!("unreadable note `sleeping {said}`")))?;
            let wakes = Duration::from_nanos(said) + sleep;
            loop {
                let now = setup::step("clock_gettime(CLOCK_MONOTONIC)", monotonic())?;
                if now >= wakes {
                    return Ok(None);
                }
                if wait_for_state(pid, "S", Duration::from_millis(1).min(wakes - now)) {
                    return Ok(Some(wakes));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Err(Stop::error("subject never said it was about to sleep"))
}

// --- rt_sigreturn --------------------------------------------------------------

/// The crafted frame's two pages (the second PROT_NONE), for the handler.
static CRAFT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Where the crafted XSAVE image's YMM state crosses into the
/// inaccessible page: past the claimed size and MAGIC2, inside YMM.
const CRAFT_PAGE_AT: usize = 640;
/// The xstate size the crafted frame claims: the legacy area and the
/// header, nothing more.
const SHORT_SIZE: u32 = 576;

/// A SIGUSR1 handler that points its frame's fpstate at a copy of it
/// that claims a short xstate size and runs into an inaccessible page
/// within the AVX state, then returns (rt_sigreturn).
extern "C" fn point_at_short_frame(
    _: libc::c_int,
    _: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    let uc = ctx as *mut libc::ucontext_t;
    let base = CRAFT.load(std::sync::atomic::Ordering::SeqCst) + 4096 - CRAFT_PAGE_AT;
    // SAFETY: the frame's fpstate is a full XSAVE image; base is 64-byte
    // aligned with SHORT_SIZE + 4 accessible bytes before the PROT_NONE page.
    unsafe {
        let fp = (*uc).uc_mcontext.fpregs as *const u8;
        let dst = base as *mut u8;
        std::ptr::copy_nonoverlapping(fp, dst, SHORT_SIZE as usize);
        // _fpx_sw_bytes.xstate_size, then MAGIC2 right after that size.
        (dst.add(xsave::SW_RESERVED + 16) as *mut u32).write_unaligned(SHORT_SIZE);
        (dst.add(SHORT_SIZE as usize) as *mut u32).write_unaligned(xsave::MAGIC2);
        // xstate_bv: x87, SSE and AVX present, so XRSTOR reads the YMM area.
        let bv = dst.add(xsave::XSTATE_BV) as *mut u64;
        bv.write_unaligned(bv.read_unaligned() | 0b111);
        (*uc).uc_mcontext.fpregs = dst as *mut libc::_libc_fpstate;
    }
}

/// rt_sigreturn with an xstate size shorter than what XRSTOR reads.
pub const SIGRETURN_SHORT: Scenario<()> = Scenario {
    base: "x86-ptrace/sigreturn/short-xstate-size-faults",
    area: AREA,
    summary: "rt_sigreturn of a frame whose claimed xstate size ends before an unreadable AVX area fails with SIGSEGV",
    needs: plain,
    run: sigreturn_short,
};

fn sigreturn_short(_: &(), _: &Ctx) -> Outcome {
    let Some(xcr0) = xcr0() else {
        return Err(Stop::lacks(NO_XSAVE));
    };
    if xcr0 & 0b100 == 0 {
        return Err(Stop::lacks("the CPU has no AVX state (XCR0 bit 2 clear)"));
    }
    let notes = Notes::new()?;
    let pid = spawn(|| {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit with a valid struct: no core file.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) };
        // SAFETY: two fresh anonymous pages, the second made inaccessible.
        let pages = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if pages == libc::MAP_FAILED {
            give_up("mmap(8192)", Errno::last());
        }
        // SAFETY: the second page of the mapping above.
        let rc =
            unsafe { libc::mprotect((pages as usize + 4096) as *mut _, 4096, libc::PROT_NONE) };
        setup::or_exit("mprotect(PROT_NONE)", Errno::result(rc));
        CRAFT.store(pages as usize, std::sync::atomic::Ordering::SeqCst);
        let act = nix::sys::signal::SigAction::new(
            nix::sys::signal::SigHandler::SigAction(point_at_short_frame),
            nix::sys::signal::SaFlags::SA_SIGINFO,
            nix::sys::signal::SigSet::empty(),
        );
        // SAFETY: the handler only copies memory and edits its own frame.
        setup::or_exit("sigaction(SIGUSR1)", unsafe {
            nix::sys::signal::sigaction(Signal::SIGUSR1, &act)
        });
        setup::or_exit("raise(SIGUSR1)", raise(Signal::SIGUSR1));
        notes.say("sigreturn-returned");
        0
    })?;
    // A kernel that loops on the fault never lets the subject go: give
    // it a few seconds, then say so (SIGKILL cannot end that loop).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(s) => {
                return Ok(Observation::new(format!(
                    "{}; notes={}",
                    describe(&s),
                    notes.summary()
                )));
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(Stop::error(format!("waitpid: {e}"))),
        }
        if Instant::now() >= deadline {
            let _ = kill(pid, Signal::SIGKILL);
            return Ok(Observation::new(format!(
                "still in rt_sigreturn after 5 s; notes={}",
                notes.summary()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn instances() -> Vec<kconform_core::Instance> {
    let mut all = Vec::new();
    all.extend(XSTATE_HEADER.expand([Header::Valid, Header::BogusXcompBv]));
    all.extend(XSTATE_PKRU.expand([()]));
    all.extend(FXSAVE_WRITE.expand([FxWrite::Setfpregs, FxWrite::Int80Setfpxregs]));
    all.extend(DEBUGREG_KERNEL.expand([()]));
    all.extend(DEBUGREG_DISABLED.expand([()]));
    all.extend(SINGLESTEP_DR6.expand([()]));
    all.extend(SINGLESTEP_SYSCALL.expand([()]));
    all.extend(GS_BASE_TLS.expand([()]));
    // The restarted nanosleep sleeps out its 300 ms (longer on a busy
    // host: see SLEEP).
    all.extend(
        RESTART_AFTER_EXCURSION
            .expand([()])
            .into_iter()
            .map(kconform_core::Instance::long),
    );
    all.extend(SIGRETURN_SHORT.expand([()]));
    all
}
