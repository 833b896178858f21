//! seccomp filters as scenarios write them: a list of "this syscall gets
//! this action" rules, behind an architecture check, compiled with the
//! kit's one BPF assembler ([`super::bpf`]); and the seccomp(2) calls.
//! The uapi's numbers are libc's.

use kconform_core::setup;
use nix::errno::Errno;

use super::bpf::{Bpf, NEXT, OFF_ARCH, OFF_ARG0_LO, OFF_NR, X32_SYSCALL_BIT};

pub const SECCOMP_SET_MODE_STRICT: u32 = libc::SECCOMP_SET_MODE_STRICT;
pub const SECCOMP_SET_MODE_FILTER: u32 = libc::SECCOMP_SET_MODE_FILTER;
/// seccomp(2) operation: is this action value known to the kernel (4.14)?
pub const SECCOMP_GET_ACTION_AVAIL: u32 = libc::SECCOMP_GET_ACTION_AVAIL;

pub const FLAG_TSYNC: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC as u32;
pub const FLAG_LOG: u32 = libc::SECCOMP_FILTER_FLAG_LOG as u32;
pub const FLAG_SPEC_ALLOW: u32 = libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW as u32;
pub const FLAG_NEW_LISTENER: u32 = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;
pub const FLAG_TSYNC_ESRCH: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH as u32;

/// <linux/audit.h>, which libc does not carry: EM_X86_64 and EM_386 with
/// the 64-bit and little-endian flags as the kernel composes them.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;

/// What a filter returns for a matched syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    KillProcess,
    KillThread,
    Trap(u16),
    Errno(u16),
    UserNotif,
    Trace(u16),
    Log,
    Allow,
}

impl Ret {
    pub fn value(self) -> u32 {
        match self {
            Ret::KillProcess => libc::SECCOMP_RET_KILL_PROCESS,
            Ret::KillThread => libc::SECCOMP_RET_KILL_THREAD,
            Ret::Trap(d) => libc::SECCOMP_RET_TRAP | d as u32,
            Ret::Errno(d) => libc::SECCOMP_RET_ERRNO | d as u32,
            Ret::UserNotif => libc::SECCOMP_RET_USER_NOTIF,
            Ret::Trace(d) => libc::SECCOMP_RET_TRACE | d as u32,
            Ret::Log => libc::SECCOMP_RET_LOG,
            Ret::Allow => libc::SECCOMP_RET_ALLOW,
        }
    }
}

/// What a filter checks before it looks at syscall numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchCheck {
    /// Nothing: numbers are compared whatever table they index (the bug
    /// the seccomp man page warns about).
    None,
    /// seccomp_data.arch must be AUDIT_ARCH_X86_64, else kill the process
    /// (as the kernel's samples/seccomp and kconform's own filters do).
    Arch,
    /// As `Arch`, and a number with __X32_SYSCALL_BIT also kills (as
    /// libseccomp does for its x86_64 filters): x32 calls share the arch.
    ArchAndX32,
}

/// `b` followed by `check`'s instructions: a call that fails it kills
/// the process.
fn arch_checks(mut b: Bpf, check: ArchCheck) -> Bpf {
    if check != ArchCheck::None {
        b = b
            .ld(OFF_ARCH)
            .jeq(AUDIT_ARCH_X86_64, "arch-ok", NEXT)
            .ret(Ret::KillProcess)
            .label("arch-ok");
    }
    if check == ArchCheck::ArchAndX32 {
        b = b
            .ld(OFF_NR)
            .jge(X32_SYSCALL_BIT, NEXT, "not-x32")
            .ret(Ret::KillProcess)
            .label("not-x32");
    }
    b
}

/// A seccomp filter: rules in order, first match wins, else the default.
/// The filters scenarios install first check the architecture is x86_64
/// and that the number has no __X32_SYSCALL_BIT, and kill the process
/// otherwise, so neither i386 nor x32 syscalls can slip past x86_64
/// numbers; the compat area also builds filters with weaker checks, to
/// see what those let through.
#[derive(Clone, Debug)]
pub struct Filter {
    check: ArchCheck,
    /// Number, first argument (low 32 bits) if it must match, action.
    rules: Vec<(u32, Option<u32>, Ret)>,
    default: Ret,
}

impl Filter {
    /// Allow everything not named by a rule, behind the full arch check.
    pub fn allow_all() -> Self {
        Filter::checking(ArchCheck::ArchAndX32)
    }

    /// Allow everything not named by a rule, behind `check`.
    pub fn checking(check: ArchCheck) -> Self {
        Filter {
            check,
            rules: Vec::new(),
            default: Ret::Allow,
        }
    }

    /// `nr` gets `ret`.
    pub fn on(mut self, nr: i64, ret: Ret) -> Self {
        self.rules.push((nr as u32, None, ret));
        self
    }

    /// `nr` with a first argument of `arg0` (low 32 bits) gets `ret`.
    pub fn on_arg0(mut self, nr: i64, arg0: u32, ret: Ret) -> Self {
        self.rules.push((nr as u32, Some(arg0), ret));
        self
    }

    /// What every other syscall gets.
    pub fn otherwise(mut self, ret: Ret) -> Self {
        self.default = ret;
        self
    }

    pub fn bpf(&self) -> Bpf {
        let mut b = arch_checks(Bpf::default(), self.check);
        for (i, (nr, arg0, ret)) in self.rules.iter().enumerate() {
            let next = format!("rule-{}", i + 1);
            b = b.ld(OFF_NR).jeq(*nr, NEXT, &next);
            if let Some(a) = arg0 {
                b = b.ld(OFF_ARG0_LO).jeq(*a, NEXT, &next);
            }
            b = b.ret(*ret).label(&next);
        }
        b.ret(self.default)
    }

    pub fn program(&self) -> Vec<libc::sock_filter> {
        self.bpf().program()
    }

    /// Set NO_NEW_PRIVS, then install the filter on this thread.
    pub fn install(&self) -> Result<i64, Errno> {
        set_no_new_privs()?;
        self.install_flags(0)
    }

    /// In a subject: set NO_NEW_PRIVS, then install the filter on this
    /// thread; a step that fails is reported and the subject gives up
    /// ([`install_program_or_exit`]).
    pub fn install_or_exit(&self) {
        install_program_or_exit(&self.program());
    }

    /// Install with seccomp(2) flags and nothing else; returns what the
    /// kernel returned (0, a tid for TSYNC, a listener fd).
    pub fn install_flags(&self, flags: u32) -> Result<i64, Errno> {
        install_program(&self.program(), flags)
    }
}

/// The raw seccomp(2) call.
///
/// # Safety
/// `arg` must be null or point at what `op` reads (a live `sock_fprog`).
pub unsafe fn seccomp(op: u32, flags: u32, arg: *mut libc::c_void) -> Result<i64, Errno> {
    // SAFETY: the caller vouches for arg.
    let rc = unsafe { libc::syscall(libc::SYS_seccomp, op, flags, arg) };
    Errno::result(rc)
}

pub fn set_no_new_privs() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }).map(drop)
}

/// Whether the caller runs with no_new_privs (PR_GET_NO_NEW_PRIVS).
pub fn no_new_privs() -> bool {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 }
}

/// Enter strict mode: only read, write, _exit and sigreturn from now on.
pub fn enter_strict_mode() -> Result<(), Errno> {
    // SAFETY: strict mode takes no argument.
    unsafe { seccomp(SECCOMP_SET_MODE_STRICT, 0, std::ptr::null_mut()) }.map(drop)
}

/// `nr` called straight through syscall(2), so libc cannot cache or reroute it.
pub fn raw_syscall(nr: i64, a0: i64) -> i64 {
    // SAFETY: the syscalls scenarios call this way take integer arguments.
    let rc = unsafe { libc::syscall(nr, a0) };
    if rc < 0 {
        -(Errno::last_raw() as i64)
    } else {
        rc
    }
}

/// SECCOMP_GET_ACTION_AVAIL for a full 32-bit return value: `Ok` when the
/// kernel knows it as an action, EOPNOTSUPP otherwise. The kernel compares
/// the whole value, so an action with data bits set counts as unknown.
pub fn action_avail(ret: u32) -> Result<(), Errno> {
    let mut ret = ret;
    // SAFETY: GET_ACTION_AVAIL reads one u32.
    unsafe {
        seccomp(
            SECCOMP_GET_ACTION_AVAIL,
            0,
            &mut ret as *mut u32 as *mut libc::c_void,
        )
    }
    .map(drop)
}

/// The program of a filter that answers `nr` called with a first argument
/// of `arg0` (low 32 bits) with the raw return value `ret` (any value, an
/// action the kernel knows or not, with its data bits) and allows every
/// other syscall, after the same architecture check as [`Filter`].
pub fn raw_rule_program(nr: i64, arg0: u32, ret: u32) -> Vec<libc::sock_filter> {
    arch_checks(Bpf::default(), ArchCheck::ArchAndX32)
        .ld(OFF_NR)
        .jeq(nr as u32, NEXT, "allow")
        .ld(OFF_ARG0_LO)
        .jeq(arg0, NEXT, "allow")
        .ret_k(ret)
        .label("allow")
        .ret(Ret::Allow)
        .program()
}

/// In a subject: `prctl(PR_SET_NO_NEW_PRIVS)`, then `prog` installed
/// with `seccomp(SET_MODE_FILTER)`; the step that fails is reported (see
/// [`kconform_core::setup`]) and the subject gives up.
pub fn install_program_or_exit(prog: &[libc::sock_filter]) {
    setup::or_exit("prctl(PR_SET_NO_NEW_PRIVS)", set_no_new_privs());
    setup::or_exit("seccomp(SET_MODE_FILTER)", install_program(prog, 0));
}

/// Install a program with seccomp(2) flags (NO_NEW_PRIVS is the caller's
/// business); returns what the kernel returned.
pub fn install_program(prog: &[libc::sock_filter], flags: u32) -> Result<i64, Errno> {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: fprog and the program it points at outlive the call; the
    // kernel only reads them.
    unsafe {
        seccomp(
            SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog as *mut libc::c_void,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_checks_arch_then_rules_then_default() {
        let p = Filter::allow_all()
            .on(libc::SYS_getppid, Ret::Trap(0x42))
            .on_arg0(libc::SYS_write, 100, Ret::KillProcess)
            .program();
        assert_eq!(p.len(), 3 + 3 + 3 + 5 + 1);
        assert_eq!(p[1].k, AUDIT_ARCH_X86_64);
        assert_eq!((p[4].code, p[4].k), (0x35, X32_SYSCALL_BIT));
        assert_eq!((p[4].jt, p[4].jf), (0, 1));
        assert_eq!(p[8].k, 0x0003_0042);
        assert_eq!(p[10].k, libc::SYS_write as u32);
        assert_eq!(p[10].jf, 3);
        assert_eq!(p[14].k, Ret::Allow.value());
    }

    #[test]
    fn raw_rule_programs_match_filter_programs() {
        let raw = raw_rule_program(libc::SYS_getpgid, 7, 0x0001_0000);
        let typed = Filter::allow_all()
            .on_arg0(libc::SYS_getpgid, 7, Ret::Errno(1))
            .program();
        assert_eq!(raw.len(), typed.len());
        for (i, (a, b)) in raw.iter().zip(&typed).enumerate() {
            assert_eq!((a.code, a.jt, a.jf), (b.code, b.jt, b.jf), "insn {i}");
            if i != 10 {
                assert_eq!(a.k, b.k, "insn {i}");
            }
        }
        assert_eq!(raw[10].k, 0x0001_0000);
    }

    #[test]
    fn action_values_match_the_uapi() {
        assert_eq!(Ret::KillProcess.value(), libc::SECCOMP_RET_KILL_PROCESS);
        assert_eq!(Ret::KillThread.value(), libc::SECCOMP_RET_KILL_THREAD);
        assert_eq!(Ret::Trap(0).value(), libc::SECCOMP_RET_TRAP);
        assert_eq!(Ret::Errno(0).value(), libc::SECCOMP_RET_ERRNO);
        assert_eq!(Ret::UserNotif.value(), libc::SECCOMP_RET_USER_NOTIF);
        assert_eq!(Ret::Trace(0).value(), libc::SECCOMP_RET_TRACE);
        assert_eq!(Ret::Log.value(), libc::SECCOMP_RET_LOG);
        assert_eq!(Ret::Allow.value(), libc::SECCOMP_RET_ALLOW);
    }
}
