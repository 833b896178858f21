//! seccomp filters as scenarios write them: a list of "this syscall gets
//! this action" rules compiled to classic BPF.

use nix::errno::Errno;

pub const SECCOMP_SET_MODE_STRICT: u32 = 0;
pub const SECCOMP_SET_MODE_FILTER: u32 = 1;

pub const FLAG_TSYNC: u32 = 1 << 0;
pub const FLAG_LOG: u32 = 1 << 1;
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
pub const FLAG_TSYNC_ESRCH: u32 = 1 << 4;

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
            Ret::KillProcess => 0x8000_0000,
            Ret::KillThread => 0x0000_0000,
            Ret::Trap(d) => 0x0003_0000 | d as u32,
            Ret::Errno(d) => 0x0005_0000 | d as u32,
            Ret::UserNotif => 0x7fc0_0000,
            Ret::Trace(d) => 0x7ff0_0000 | d as u32,
            Ret::Log => 0x7ffc_0000,
            Ret::Allow => 0x7fff_0000,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Match {
    Nr(i64),
    NrArg0(i64, u32),
}

/// A seccomp filter: rules in order, first match wins, else the default.
/// Every filter first checks the architecture is x86_64 and that the
/// number has no __X32_SYSCALL_BIT, and kills the process otherwise, so
/// neither i386 nor x32 syscalls can slip past x86_64 numbers (see the
/// compat area for what a filter without these checks lets through).
#[derive(Clone, Debug)]
pub struct Filter {
    rules: Vec<(Match, Ret)>,
    default: Ret,
}

// Classic BPF opcodes and seccomp_data offsets.
const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARG0_LO: u32 = 16;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jeq(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: JEQ_K,
        jt,
        jf,
        k,
    }
}

/// What every program starts with: kill anything but x86_64 numbers.
fn preamble() -> Vec<libc::sock_filter> {
    vec![
        stmt(LD_W_ABS, OFF_ARCH),
        jeq(AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, Ret::KillProcess.value()),
        stmt(LD_W_ABS, OFF_NR),
        libc::sock_filter {
            code: JGE_K,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        stmt(RET_K, Ret::KillProcess.value()),
    ]
}

impl Filter {
    /// Allow everything not named by a rule.
    pub fn allow_all() -> Self {
        Filter {
            rules: Vec::new(),
            default: Ret::Allow,
        }
    }

    /// `nr` gets `ret`.
    pub fn on(mut self, nr: i64, ret: Ret) -> Self {
        self.rules.push((Match::Nr(nr), ret));
        self
    }

    /// `nr` with a first argument of `arg0` (low 32 bits) gets `ret`.
    pub fn on_arg0(mut self, nr: i64, arg0: u32, ret: Ret) -> Self {
        self.rules.push((Match::NrArg0(nr, arg0), ret));
        self
    }

    /// What every other syscall gets.
    pub fn otherwise(mut self, ret: Ret) -> Self {
        self.default = ret;
        self
    }

    pub fn program(&self) -> Vec<libc::sock_filter> {
        let mut p = preamble();
        for (m, ret) in &self.rules {
            match *m {
                Match::Nr(nr) => {
                    p.push(stmt(LD_W_ABS, OFF_NR));
                    p.push(jeq(nr as u32, 0, 1));
                    p.push(stmt(RET_K, ret.value()));
                }
                Match::NrArg0(nr, arg0) => {
                    p.push(stmt(LD_W_ABS, OFF_NR));
                    p.push(jeq(nr as u32, 0, 3));
                    p.push(stmt(LD_W_ABS, OFF_ARG0_LO));
                    p.push(jeq(arg0, 0, 1));
                    p.push(stmt(RET_K, ret.value()));
                }
            }
        }
        p.push(stmt(RET_K, self.default.value()));
        p
    }

    /// Set NO_NEW_PRIVS, then install the filter on this thread.
    pub fn install(&self) -> Result<i64, Errno> {
        set_no_new_privs()?;
        self.install_flags(0)
    }

    /// Install with seccomp(2) flags and nothing else; returns what the
    /// kernel returned (0, a tid for TSYNC, a listener fd).
    pub fn install_flags(&self, flags: u32) -> Result<i64, Errno> {
        let prog = self.program();
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: fprog and the program it points at outlive the call.
        unsafe {
            seccomp(
                SECCOMP_SET_MODE_FILTER,
                flags,
                &fprog as *const libc::sock_fprog as *mut libc::c_void,
            )
        }
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

/// seccomp(2) operation: is this action value known to the kernel (4.14)?
pub const SECCOMP_GET_ACTION_AVAIL: u32 = 2;

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
    let mut p = preamble();
    p.extend([
        stmt(LD_W_ABS, OFF_NR),
        jeq(nr as u32, 0, 3),
        stmt(LD_W_ABS, OFF_ARG0_LO),
        jeq(arg0, 0, 1),
        stmt(RET_K, ret),
        stmt(RET_K, Ret::Allow.value()),
    ]);
    p
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
        assert_eq!((p[4].code, p[4].k), (JGE_K, X32_SYSCALL_BIT));
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
