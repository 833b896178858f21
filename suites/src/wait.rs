//! wait4(2), waitid(2) and the exit statuses they report, with the rules
//! ptrace adds to them.
//!
//! What the calls answer for arguments at the edges (a pid of INT_MIN, a
//! WNOHANG call with nothing to report, a siginfo pointer that runs off the
//! end of user space) and which of its tasks a tracer may wait for without
//! asking for __WALL. Observations are the calls' answers (`wait4=ESRCH`,
//! `waitid=0`, the errno name), what they wrote into the caller's buffers
//! (`rusage=untouched`: every byte still the 0xaa the scenario filled it
//! with), and for a traced task the stop it reported, in the words of the
//! ptrace-signals area (`event STOP SIGTRAP`).

use kconform_core::{
    setup, Area, Ctx, Instance, Needs, Observation, Outcome, Param, Scenario, Stop,
};
use nix::errno::Errno;
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::kit::task::{self, describe, event_name, signame, Gate};
use crate::kit::trace::{errno_name, Attach, Tracee};
use crate::kit::waits;

pub const AREA: Area = Area {
    name: "wait",
    summary: "wait4/waitid and exit statuses, and the ptrace-visible rules around them",
};

pub fn instances() -> Vec<Instance> {
    let mut all = Vec::new();
    all.extend(WAIT4_PID.expand([PidArg::IntMin, PidArg::UnusedPgid, PidArg::AnyChild]));
    all.extend(WAITID_RUSAGE.expand([Reported::Nothing, Reported::ChildExited]));
    all.extend(WAITID_INFOP.expand([()]));
    all.extend(TRACED_THREAD.expand([WaitFlags::None, WaitFlags::Wall, WaitFlags::Wclone]));
    all
}

/// Block the calling thread until a signal ends it.
fn park() -> ! {
    loop {
        // SAFETY: pause(2) has no arguments.
        unsafe { libc::pause() };
    }
}

/// A child that stays alive until the gate opens, then exits 0.
fn live_child(go: &Gate) -> Result<Pid, Stop> {
    task::spawn(|| {
        go.wait();
        0
    })
}

// ---------------------------------------------------------------------------
// wait4() and its pid argument.

/// The pid argument of wait4(pid, &status, WNOHANG, NULL), with a child
/// alive that has nothing to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidArg {
    /// INT_MIN: -pid does not exist.
    IntMin,
    /// A process group (-0x3ffffff0) above any pid_max: no member.
    UnusedPgid,
    /// -1: any child.
    AnyChild,
}

impl Param for PidArg {
    fn slug(&self) -> String {
        match self {
            PidArg::IntMin => "int-min",
            PidArg::UnusedPgid => "unused-pgid",
            PidArg::AnyChild => "any-child",
        }
        .into()
    }
}

/// A negative pid asks for a child in process group -pid; INT_MIN has no
/// negation, so wait4() refuses it with ESRCH (dd83c161fbcc, CVE-2018-10087;
/// before, the kernel computed -INT_MIN, undefined behaviour that came out
/// as INT_MIN, found no such group and answered ECHILD). A group with no
/// member answers ECHILD, and -1 with a live child and WNOHANG answers 0.
pub const WAIT4_PID: Scenario<PidArg> = Scenario {
    base: "wait/wait4/pid",
    area: AREA,
    summary: "wait4() refuses a pid of INT_MIN with ESRCH; other pids name a group or any child",
    needs: |_| Needs::default(),
    run: wait4_pid,
};

fn wait4_pid(p: &PidArg, _: &Ctx) -> Outcome {
    let go = Gate::new()?;
    let child = live_child(&go)?;
    let pid = match p {
        PidArg::IntMin => i32::MIN,
        PidArg::UnusedPgid => -0x3fff_fff0,
        PidArg::AnyChild => -1,
    };
    let mut status = 0;
    // SAFETY: wait4 writes one int into status; no rusage.
    let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, std::ptr::null_mut()) };
    let answer = match Errno::result(rc) {
        Ok(0) => "0".to_string(),
        Ok(p) if p == child.as_raw() => "child".to_string(),
        Ok(p) => format!("pid {p}"),
        Err(e) => errno_name(e),
    };
    go.open();
    let end = task::wait_exit(child)?;
    Ok(Observation::new(format!("wait4={answer}; child {end}")))
}

// ---------------------------------------------------------------------------
// waitid() with WNOHANG and a rusage buffer.

/// What the one child has to report when waitid(P_ALL, WEXITED | WNOHANG)
/// is called with a rusage buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reported {
    /// It is alive: nothing.
    Nothing,
    /// It has exited: it is reaped.
    ChildExited,
}

impl Param for Reported {
    fn slug(&self) -> String {
        match self {
            Reported::Nothing => "nothing-to-report",
            Reported::ChildExited => "child-exited",
        }
        .into()
    }
}

/// waitid(2) fills the rusage buffer only for a child it reaps; with
/// WNOHANG and nothing to report it returns 0, zeroes si_signo and si_pid
/// and leaves the rusage alone. 4.13 (ce72a16fa705) copied its
/// uninitialised kernel rusage out whenever the call succeeded, leaking
/// kernel stack (6c85501f2fab, CVE-2017-14954). The raw syscall is used:
/// glibc's waitid() has no rusage argument.
pub const WAITID_RUSAGE: Scenario<Reported> = Scenario {
    base: "wait/waitid/wnohang-rusage",
    area: AREA,
    summary: "waitid(WNOHANG) writes the rusage buffer only for a child it reaps",
    needs: |_| Needs::default(),
    run: waitid_rusage,
};

fn waitid_rusage(p: &Reported, _: &Ctx) -> Outcome {
    let go = Gate::new()?;
    let child = live_child(&go)?;
    if *p == Reported::ChildExited {
        go.open();
        // Wait for the exit without reaping it.
        setup::step(
            "waitid(WEXITED | WNOWAIT)",
            waits::waitid_pid(child, libc::WEXITED | libc::WNOWAIT),
        )?;
    }
    let mut si = [0xaau8; 128];
    let mut ru = [0xaau8; std::mem::size_of::<libc::rusage>()];
    // SAFETY: waitid writes one siginfo_t into si and one rusage into ru.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_waitid,
            libc::P_ALL,
            0,
            si.as_mut_ptr(),
            libc::WEXITED | libc::WNOHANG,
            ru.as_mut_ptr(),
        )
    };
    let i32_at = |o: usize| i32::from_ne_bytes(si[o..o + 4].try_into().unwrap());
    let text = match Errno::result(rc) {
        Err(e) => format!("waitid={}", errno_name(e)),
        Ok(_) => {
            let signo = match i32_at(0) {
                0 => "0".to_string(),
                s => signame(s),
            };
            // si_pid is the first field of the union, at byte 16.
            let from = match i32_at(16) {
                0 => "0",
                p if p == child.as_raw() => "child",
                _ => "other",
            };
            let rusage = if ru.iter().all(|b| *b == 0xaa) {
                "untouched"
            } else {
                "written"
            };
            format!("waitid=0 si_signo={signo} si_pid={from} rusage={rusage}")
        }
    };
    go.open();
    let end = match waits::waitpid_raw(child.as_raw(), 0) {
        Ok((_, st)) => waits::status_text(st),
        Err(Errno::ECHILD) => "reaped".to_string(),
        Err(e) => return Err(Stop::error(format!("waitpid: {e}"))),
    };
    Ok(Observation::new(format!("{text}; child {end}")))
}

// ---------------------------------------------------------------------------
// waitid() and a siginfo pointer that runs off the end of user space.

/// The first page below the end of user space, mapped: its start and the
/// end of user space. With 5-level paging user space ends at 2^56,
/// otherwise at 2^47 (both less the guard page the kernel never maps).
fn map_top_page() -> Result<(*mut u8, u64), Stop> {
    const PAGE: u64 = 4096;
    for end in [(1u64 << 56) - PAGE, (1u64 << 47) - PAGE] {
        let want = end - PAGE;
        // SAFETY: a fresh anonymous page at an address nothing uses
        // (MAP_FIXED_NOREPLACE refuses to replace a mapping).
        let got = unsafe {
            libc::mmap(
                want as *mut libc::c_void,
                PAGE as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if got == libc::MAP_FAILED {
            continue;
        }
        if got as u64 == want {
            return Ok((got as *mut u8, end));
        }
        // A kernel without MAP_FIXED_NOREPLACE took it as a hint.
        // SAFETY: unmapping the page mmap just returned.
        unsafe { libc::munmap(got, PAGE as usize) };
    }
    Err(setup::failed(
        "mmap(top page of user space, MAP_FIXED_NOREPLACE)",
        "neither below 2^47 nor below 2^56",
    ))
}

/// waitid(2) refuses a siginfo pointer whose object runs past the end of
/// user space: a pointer 8 bytes below it (the siginfo would run into the
/// guard page above) fails with EFAULT, and the zombie child is reaped all
/// the same. How much of the head lands in the last 8 mapped bytes first
/// depends on how the kernel checks the range (6.1's access_ok() writes
/// nothing; kernels that mask user pointers instead write si_signo and
/// si_errno, then fault): it goes to the details, not the observation.
/// 4.13 (4c48abe91be0) wrote without any check (96ca579a1ecc,
/// CVE-2017-5123), which with a kernel address let anyone write into the
/// kernel; only this harmless user pointer is used, and with it that bug
/// looks the same as a masking kernel.
pub const WAITID_INFOP: Scenario<()> = Scenario {
    base: "wait/waitid/infop-past-end-of-user-space",
    area: AREA,
    summary:
        "waitid() refuses a siginfo pointer that runs past user space before writing any of it",
    needs: |_| Needs::default(),
    run: waitid_infop,
};

fn waitid_infop(_: &(), _: &Ctx) -> Outcome {
    let (page, end) = map_top_page()?;
    // SAFETY: the page is ours and 4096 bytes long.
    let last = unsafe { std::slice::from_raw_parts_mut(page.add(4096 - 8), 8) };
    last.fill(0xaa);
    let child = task::spawn(|| 0)?;
    setup::step(
        "waitid(WEXITED | WNOWAIT)",
        waits::waitid_pid(child, libc::WEXITED | libc::WNOWAIT),
    )?;
    let infop = end - 8;
    // SAFETY: the kernel must refuse the pointer; whatever it writes
    // lands in our page or faults.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_waitid,
            libc::P_PID,
            child.as_raw(),
            infop as *mut libc::siginfo_t,
            libc::WEXITED,
            std::ptr::null_mut::<libc::rusage>(),
        )
    };
    let answer = match Errno::result(rc) {
        Ok(_) => "0".to_string(),
        Err(e) => errno_name(e),
    };
    let head = if last.iter().all(|b| *b == 0xaa) {
        "unwritten".to_string()
    } else {
        let signo = i32::from_ne_bytes(last[0..4].try_into().unwrap());
        let errno = i32::from_ne_bytes(last[4..8].try_into().unwrap());
        format!("si_signo={} si_errno={errno}", signame(signo))
    };
    let reaped = match waits::waitid_pid(child, libc::WEXITED | libc::WNOHANG) {
        Err(Errno::ECHILD) => "yes".to_string(),
        Ok(_) => "no".to_string(),
        Err(e) => errno_name(e),
    };
    // SAFETY: unmapping our page.
    unsafe { libc::munmap(page as *mut libc::c_void, 4096) };
    Ok(Observation::new(format!("waitid={answer} reaped={reaped}")).detail("last-8-bytes", head))
}

// ---------------------------------------------------------------------------
// A traced thread is waited for as if with __WALL.

/// The flags of the tracer's waitpid(tid, &status, flags) for a traced
/// thread of its child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitFlags {
    None,
    Wall,
    Wclone,
}

impl Param for WaitFlags {
    fn slug(&self) -> String {
        match self {
            WaitFlags::None => "no-flags",
            WaitFlags::Wall => "wall",
            WaitFlags::Wclone => "wclone",
        }
        .into()
    }
}

/// A thread that is not a leader reports to nobody by a signal
/// (exit_signal -1), so plain wait calls leave it out as a "clone" child
/// (__WCLONE or __WALL select it). A tracer waits for its tracees as if it
/// passed __WALL (bf959931ddb8, 4.7): waitpid(tid, 0) reports the thread's
/// first PTRACE_EVENT_STOP. Before 4.7 it answered ECHILD, and a tracer
/// without __WALL never saw its traced threads stop (the traced process
/// froze).
pub const TRACED_THREAD: Scenario<WaitFlags> = Scenario {
    base: "wait/traced-thread",
    area: AREA,
    summary: "a tracer waits for a traced thread without __WALL or __WCLONE",
    needs: |_| Needs::default(),
    run: traced_thread,
};

fn traced_thread(p: &WaitFlags, _: &Ctx) -> Outcome {
    let tracee = Tracee::spawn(Attach::Seize, Options::PTRACE_O_TRACECLONE, || {
        std::thread::spawn(|| park());
        park()
    })?;
    let leader = tracee.pid;
    let s = tracee.wait()?;
    let is_clone =
        matches!(s, nix::sys::wait::WaitStatus::PtraceEvent(_, _, ev) if event_name(ev) == "CLONE");
    if !is_clone {
        return Err(Stop::error(format!(
            "expected the leader's CLONE stop: {}",
            describe(&s)
        )));
    }
    let tid = ptrace::getevent(leader)? as libc::pid_t;
    ptrace::cont(leader, None)?;
    let flags = match p {
        WaitFlags::None => 0,
        WaitFlags::Wall => libc::__WALL,
        WaitFlags::Wclone => libc::__WCLONE,
    };
    let answer = match waits::waitpid_raw(tid, flags) {
        Ok((who, st)) if who.as_raw() == tid => waits::status_text(st),
        Ok((who, st)) => format!("{who}: {}", waits::status_text(st)),
        Err(e) => errno_name(e),
    };
    kill(leader, Signal::SIGKILL)?;
    let end = loop {
        let (who, st) = waits::waitpid_raw(-1, libc::__WALL)
            .map_err(|e| Stop::error(format!("waitpid: {e}")))?;
        if who == leader && (libc::WIFEXITED(st) || libc::WIFSIGNALED(st)) {
            break waits::status_text(st);
        }
    };
    Ok(Observation::new(format!(
        "clone -> waitpid(thread, {})={answer} -> sigkill -> {end}",
        p.slug()
    )))
}
