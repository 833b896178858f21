//! Classic BPF, the one assembler every filter of the suite is written
//! with: named jump targets instead of offsets, so a filter reads as what
//! it checks. Opcodes and `seccomp_data` offsets come from libc.

use super::seccomp::{install_program_or_exit, Ret};

/// Where a filter finds what it loads: `struct seccomp_data` (little
/// endian, so an argument's low word comes first).
pub const OFF_NR: u32 = std::mem::offset_of!(libc::seccomp_data, nr) as u32;
pub const OFF_ARCH: u32 = std::mem::offset_of!(libc::seccomp_data, arch) as u32;
pub const OFF_ARG0_LO: u32 = std::mem::offset_of!(libc::seccomp_data, args) as u32;
pub const OFF_ARG0_HI: u32 = OFF_ARG0_LO + 4;

/// `__X32_SYSCALL_BIT`: x32 syscalls are x86_64 `syscall`s with this bit
/// in the number; seccomp reports them with arch AUDIT_ARCH_X86_64.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// A jump target meaning "the next instruction".
pub const NEXT: &str = "";

// Classic BPF opcodes, composed as <linux/bpf_common.h> does.
const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const LD_IMM: u16 = (libc::BPF_LD | libc::BPF_IMM) as u16;
const ALU_AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const ALU_OR_K: u16 = (libc::BPF_ALU | libc::BPF_OR | libc::BPF_K) as u16;
const ALU_OR_X: u16 = (libc::BPF_ALU | libc::BPF_OR | libc::BPF_X) as u16;
const MISC_TAX: u16 = (libc::BPF_MISC | libc::BPF_TAX) as u16;
const MISC_TXA: u16 = (libc::BPF_MISC | libc::BPF_TXA) as u16;
const JMP_JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const JMP_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JMP_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JMP_JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
const RET_A: u16 = (libc::BPF_RET | libc::BPF_A) as u16;

/// A classic BPF program written with named jump targets, so filters read
/// as what they check rather than as jump offsets.
#[derive(Clone, Debug, Default)]
pub struct Bpf {
    ins: Vec<(libc::sock_filter, String, String)>,
    labels: Vec<(String, usize)>,
}

impl Bpf {
    fn op(mut self, code: u16, k: u32, jt: &str, jf: &str) -> Self {
        let ins = libc::sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        };
        self.ins.push((ins, jt.to_string(), jf.to_string()));
        self
    }
    pub fn label(mut self, name: &str) -> Self {
        self.labels.push((name.to_string(), self.ins.len()));
        self
    }
    /// A = the 32-bit word of seccomp_data at `off`.
    pub fn ld(self, off: u32) -> Self {
        self.op(LD_W_ABS, off, NEXT, NEXT)
    }
    /// A = k.
    pub fn imm(self, k: u32) -> Self {
        self.op(LD_IMM, k, NEXT, NEXT)
    }
    pub fn and(self, k: u32) -> Self {
        self.op(ALU_AND_K, k, NEXT, NEXT)
    }
    pub fn or(self, k: u32) -> Self {
        self.op(ALU_OR_K, k, NEXT, NEXT)
    }
    /// A |= X.
    pub fn or_x(self) -> Self {
        self.op(ALU_OR_X, 0, NEXT, NEXT)
    }
    /// X = A.
    pub fn tax(self) -> Self {
        self.op(MISC_TAX, 0, NEXT, NEXT)
    }
    /// A = X.
    pub fn txa(self) -> Self {
        self.op(MISC_TXA, 0, NEXT, NEXT)
    }
    /// If A == k go to `yes`, else to `no` (`""` is the next instruction).
    pub fn jeq(self, k: u32, yes: &str, no: &str) -> Self {
        self.op(JMP_JEQ_K, k, yes, no)
    }
    pub fn jge(self, k: u32, yes: &str, no: &str) -> Self {
        self.op(JMP_JGE_K, k, yes, no)
    }
    /// If A & k != 0 go to `yes`, else to `no`.
    pub fn jset(self, k: u32, yes: &str, no: &str) -> Self {
        self.op(JMP_JSET_K, k, yes, no)
    }
    /// Always go to `to`.
    pub fn ja(self, to: &str) -> Self {
        self.op(JMP_JA, 0, to, NEXT)
    }
    pub fn ret(self, action: Ret) -> Self {
        self.ret_k(action.value())
    }
    /// Return `k`, any 32-bit value, as the action (one the kernel may
    /// not know).
    pub fn ret_k(self, k: u32) -> Self {
        self.op(RET_K, k, NEXT, NEXT)
    }
    /// Return A as the action.
    pub fn ret_a(self) -> Self {
        self.op(RET_A, 0, NEXT, NEXT)
    }

    /// The program with every label resolved. Panics on an unknown label
    /// or a backward jump: filters are fixed text, so that is a bug here.
    pub fn program(&self) -> Vec<libc::sock_filter> {
        let target = |i: usize, name: &str| -> u32 {
            if name.is_empty() {
                return 0;
            }
            let at = self
                .labels
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("BPF label {name} is not defined"))
                .1;
            assert!(at > i, "BPF jump to {name} goes backwards");
            (at - i - 1) as u32
        };
        self.ins
            .iter()
            .enumerate()
            .map(|(i, (ins, jt, jf))| {
                let mut ins = *ins;
                if ins.code == JMP_JA {
                    ins.k = target(i, jt);
                } else if u32::from(ins.code) & 0x07 == libc::BPF_JMP {
                    ins.jt = u8::try_from(target(i, jt)).expect("BPF jump too far");
                    ins.jf = u8::try_from(target(i, jf)).expect("BPF jump too far");
                }
                ins
            })
            .collect()
    }

    /// In a subject: set NO_NEW_PRIVS, then install the program on this
    /// thread; a step that fails is reported and the subject gives up
    /// ([`install_program_or_exit`]).
    pub fn install_or_exit(&self) {
        install_program_or_exit(&self.program());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_opcodes_are_the_uapis() {
        assert_eq!((OFF_NR, OFF_ARCH, OFF_ARG0_LO, OFF_ARG0_HI), (0, 4, 16, 20));
        assert_eq!(
            (LD_W_ABS, JMP_JEQ_K, JMP_JGE_K, RET_K),
            (0x20, 0x15, 0x35, 0x06)
        );
        assert_eq!(
            (JMP_JA, JMP_JSET_K, RET_A, MISC_TXA),
            (0x05, 0x45, 0x16, 0x87)
        );
        assert_eq!(X32_SYSCALL_BIT, 0x4000_0000);
    }

    #[test]
    fn labels_resolve_to_forward_offsets() {
        let p = Bpf::default()
            .ld(OFF_NR)
            .jeq(39, NEXT, "allow")
            .ret(Ret::Trap(1))
            .ja("allow")
            .ret(Ret::KillThread)
            .label("allow")
            .ret(Ret::Allow)
            .program();
        assert_eq!((p[1].jt, p[1].jf), (0, 3));
        assert_eq!(p[3].k, 1, "ja skips one instruction");
        assert_eq!(p[5].k, libc::SECCOMP_RET_ALLOW);
    }
}
