//! A subject under ptrace: how the tracer attaches, and what it reads.

use std::fmt;

use nix::errno::Errno;
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{raise, Signal};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use kconform_core::{setup, Stop};

use super::task::{describe, spawn, wait, Gate};

/// How the tracer comes to trace the subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    /// The subject asks: PTRACE_TRACEME, then stops itself.
    Traceme,
    /// PTRACE_ATTACH (the subject gets a SIGSTOP).
    Attach,
    /// PTRACE_SEIZE (no stop; enables INTERRUPT and LISTEN).
    Seize,
}

impl Attach {
    pub const ALL: [Attach; 3] = [Attach::Traceme, Attach::Attach, Attach::Seize];

    pub fn slug(self) -> &'static str {
        match self {
            Attach::Traceme => "traceme",
            Attach::Attach => "attach",
            Attach::Seize => "seize",
        }
    }
}

/// A traced subject; the scenario process is its tracer.
pub struct Tracee {
    pub pid: Pid,
}

impl Tracee {
    /// Fork a subject traced by the caller with `options` (plus
    /// EXITKILL, so no subject outlives its tracer). `body` runs once the
    /// tracer is attached and the subject is running again.
    pub fn spawn(
        how: Attach,
        options: Options,
        body: impl FnOnce() -> i32,
    ) -> Result<Tracee, Stop> {
        let options = options | Options::PTRACE_O_EXITKILL;
        let gate = Gate::new()?;
        let pid = spawn(|| {
            match how {
                Attach::Traceme => {
                    setup::or_exit("PTRACE_TRACEME", ptrace::traceme());
                    setup::or_exit("raise(SIGSTOP)", raise(Signal::SIGSTOP));
                }
                Attach::Attach | Attach::Seize => gate.wait(),
            }
            body()
        })?;
        let tracee = Tracee { pid };
        match how {
            Attach::Traceme | Attach::Attach => {
                if how == Attach::Attach {
                    ptrace::attach(pid).map_err(|e| Stop::error(format!("PTRACE_ATTACH: {e}")))?;
                }
                match tracee.wait()? {
                    WaitStatus::Stopped(_, Signal::SIGSTOP) => {}
                    other => {
                        return Err(Stop::error(format!(
                            "subject did not stop for the tracer: {}",
                            describe(&other)
                        )))
                    }
                }
                ptrace::setoptions(pid, options)?;
                ptrace::cont(pid, None)?;
            }
            Attach::Seize => {
                ptrace::seize(pid, options)
                    .map_err(|e| Stop::error(format!("PTRACE_SEIZE: {e}")))?;
            }
        }
        gate.open();
        Ok(tracee)
    }

    pub fn wait(&self) -> Result<WaitStatus, Stop> {
        wait(self.pid)
    }

    /// Resume, delivering `sig` (None suppresses the pending signal).
    pub fn cont(&self, sig: Option<Signal>) -> Result<(), Errno> {
        ptrace::cont(self.pid, sig)
    }

    pub fn siginfo(&self) -> Result<SigInfo, Errno> {
        SigInfo::of(self.pid)
    }

    /// Resume through every remaining stop, passing signals on, until the
    /// subject exits; returns the stops seen and the end, joined by ` -> `.
    pub fn run_to_exit(&self) -> Result<String, Stop> {
        let mut seen = Vec::new();
        loop {
            let s = self.wait()?;
            seen.push(describe(&s));
            match s {
                WaitStatus::Exited(..) | WaitStatus::Signaled(..) => break,
                WaitStatus::Stopped(_, sig) => {
                    let _ = self.cont(Some(sig));
                }
                _ => {
                    let _ = self.cont(None);
                }
            }
            if seen.len() > 16 {
                seen.push("...".into());
                break;
            }
        }
        Ok(seen.join(" -> "))
    }
}

/// The parts of a siginfo a tracer reads at a signal-delivery stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    /// si_addr for faults; si_call_addr for SIGSYS.
    pub addr: u64,
    /// SIGSYS only.
    pub syscall: i32,
    /// SIGSYS only.
    pub arch: u32,
}

impl SigInfo {
    /// PTRACE_GETSIGINFO, decoded by the x86_64 siginfo layout (the union
    /// starts at byte 16; _sigsys is { call_addr, syscall, arch }).
    pub fn of(pid: Pid) -> Result<SigInfo, Errno> {
        let mut raw = [0u8; 128];
        // SAFETY: PTRACE_GETSIGINFO writes a 128-byte siginfo into raw.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_GETSIGINFO,
                pid.as_raw(),
                std::ptr::null_mut::<libc::c_void>(),
                raw.as_mut_ptr() as *mut libc::c_void,
            )
        };
        Errno::result(rc)?;
        Ok(SigInfo::decode(&raw))
    }

    pub fn decode(raw: &[u8; 128]) -> SigInfo {
        let i32_at = |o: usize| i32::from_ne_bytes(raw[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_ne_bytes(raw[o..o + 8].try_into().unwrap());
        SigInfo {
            signo: i32_at(0),
            errno: i32_at(4),
            code: i32_at(8),
            addr: u64_at(16),
            syscall: i32_at(24),
            arch: i32_at(28) as u32,
        }
    }
}

/// si_code as the kernel's headers name it, per signal.
pub fn code_name(signo: i32, code: i32) -> String {
    let named = match (signo, code) {
        (_, 0) => Some("SI_USER"),
        (_, 0x80) => Some("SI_KERNEL"),
        (_, -6) => Some("SI_TKILL"),
        (_, -1) => Some("SI_QUEUE"),
        (libc::SIGSYS, 1) => Some("SYS_SECCOMP"),
        (libc::SIGSEGV, 1) => Some("SEGV_MAPERR"),
        (libc::SIGSEGV, 2) => Some("SEGV_ACCERR"),
        (libc::SIGTRAP, 1) => Some("TRAP_BRKPT"),
        (libc::SIGTRAP, 2) => Some("TRAP_TRACE"),
        (libc::SIGILL, 2) => Some("ILL_ILLOPN"),
        _ => None,
    };
    named
        .map(str::to_string)
        .unwrap_or_else(|| code.to_string())
}

pub fn arch_name(arch: u32) -> String {
    match arch {
        super::seccomp::AUDIT_ARCH_X86_64 => "x86_64".into(),
        super::seccomp::AUDIT_ARCH_I386 => "i386".into(),
        other => format!("{other:#x}"),
    }
}

impl fmt::Display for SigInfo {
    /// `SIGSYS code=SYS_SECCOMP errno=0x42 syscall=110 arch=x86_64`,
    /// `SIGSEGV code=SEGV_MAPERR addr=0x10`, `SIGTRAP code=SI_KERNEL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} code={}",
            super::task::signame(self.signo),
            code_name(self.signo, self.code)
        )?;
        match self.signo {
            libc::SIGSYS if self.code == 1 => write!(
                f,
                " errno={:#x} syscall={} arch={}",
                self.errno,
                self.syscall,
                arch_name(self.arch)
            ),
            libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE if self.code > 0 => {
                write!(f, " addr={:#x}", self.addr)
            }
            _ => Ok(()),
        }
    }
}

/// PTRACE_LISTEN (nix has no wrapper): resume a group-stopped seized
/// tracee without resuming its execution.
pub fn listen(pid: Pid) -> Result<(), Errno> {
    // SAFETY: PTRACE_LISTEN takes no pointers.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_LISTEN,
            pid.as_raw(),
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    Errno::result(rc).map(drop)
}

/// An errno as the text observations use: `EPERM`.
pub fn errno_name(e: Errno) -> String {
    format!("{e:?}")
}

/// The outcome of a call as observation text: `ok` or the errno name.
pub fn result_name<T>(r: &Result<T, Errno>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => errno_name(*e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_seccomp_siginfo() {
        let mut raw = [0u8; 128];
        raw[0..4].copy_from_slice(&libc::SIGSYS.to_ne_bytes());
        raw[4..8].copy_from_slice(&0x42i32.to_ne_bytes());
        raw[8..12].copy_from_slice(&1i32.to_ne_bytes());
        raw[24..28].copy_from_slice(&110i32.to_ne_bytes());
        raw[28..32].copy_from_slice(&crate::kit::seccomp::AUDIT_ARCH_X86_64.to_ne_bytes());
        let si = SigInfo::decode(&raw);
        assert_eq!(
            si.to_string(),
            "SIGSYS code=SYS_SECCOMP errno=0x42 syscall=110 arch=x86_64"
        );
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(Errno::EPERM), "EPERM");
        assert_eq!(result_name::<()>(&Err(Errno::ESRCH)), "ESRCH");
        assert_eq!(result_name(&Ok(3)), "ok");
    }
}
