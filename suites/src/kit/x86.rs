//! x86_64 machine state as a tracer and a signal handler see it: the
//! `struct user` offsets PEEKUSER and POKEUSER take, the XSAVE regsets,
//! CPUID, the SSE registers a subject loads and reads back around a stop,
//! and i386 syscalls with four arguments (`int 0x80`, for ptrace itself).

use std::arch::asm;
use std::arch::x86_64::{__cpuid_count, _xgetbv};

use nix::errno::Errno;
use nix::unistd::Pid;

/// `offsetof(struct user, u_debugreg[n])` on x86_64 (the 27 registers,
/// u_fpvalid and the 512-byte i387 area, sizes, addresses, signal,
/// u_ar0, u_fpstate, magic and u_comm come first).
pub fn debugreg_offset(n: usize) -> usize {
    848 + 8 * n
}

/// `offsetof(struct user_regs_struct, X)` for the registers used here.
pub mod reg {
    pub const RAX: usize = 10 * 8;
    pub const ORIG_RAX: usize = 15 * 8;
    pub const RIP: usize = 16 * 8;
    pub const GS_BASE: usize = 22 * 8;
    pub const GS: usize = 26 * 8;
}

/// DR6.BS: the #DB came from a single step.
pub const DR6_BS: u64 = 1 << 14;

/// ELF note types of the x86 regsets (uapi/linux/elf.h).
pub const NT_PRFPREG: u32 = 2;
pub const NT_X86_XSTATE: u32 = 0x202;

/// Offsets in the standard (uncompacted) XSAVE layout.
pub mod xsave {
    /// xmm0 in the legacy FXSAVE area.
    pub const XMM0: usize = 160;
    /// The software-reserved bytes of the FXSAVE area (`struct _fpx_sw_bytes`).
    pub const SW_RESERVED: usize = 464;
    /// The XSAVE header: xstate_bv (xfeatures), then xcomp_bv.
    pub const XSTATE_BV: usize = 512;
    pub const XCOMP_BV: usize = 520;
    /// The AVX state (upper halves of ymm0-15) in the standard layout.
    pub const YMM: usize = 576;
    /// `FP_XSTATE_MAGIC1` / `FP_XSTATE_MAGIC2` of a signal frame.
    pub const MAGIC1: u32 = 0x4650_5853;
    pub const MAGIC2: u32 = 0x4650_5845;
}

/// CPUID leaf `leaf`, subleaf `sub`: (eax, ebx, ecx, edx).
pub fn cpuid(leaf: u32, sub: u32) -> (u32, u32, u32, u32) {
    let r = __cpuid_count(leaf, sub);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// The user state components the OS enabled (XCR0), or None where the
/// CPU or the kernel has no XSAVE (CPUID.1:ECX.OSXSAVE clear: QEMU's
/// `qemu64` model, for one).
pub fn xcr0() -> Option<u64> {
    let (_, _, ecx, _) = cpuid(1, 0);
    if ecx & (1 << 27) == 0 {
        return None;
    }
    // SAFETY: OSXSAVE is set, so XGETBV is allowed.
    Some(unsafe { _xgetbv(0) })
}

/// Whether the OS enabled protection keys (CPUID.7.0:ECX.OSPKE), so
/// RDPKRU works.
pub fn ospke() -> bool {
    let (max, ..) = cpuid(0, 0);
    max >= 7 && cpuid(7, 0).2 & (1 << 4) != 0
}

/// RDPKRU (needs [`ospke`]).
pub fn rdpkru() -> u32 {
    let eax: u32;
    // SAFETY: RDPKRU reads PKRU; the caller checked OSPKE.
    unsafe {
        asm!(".byte 0x0f, 0x01, 0xee", in("ecx") 0, out("eax") eax, out("edx") _, options(nomem, nostack));
    }
    eax
}

/// WRPKRU (needs [`ospke`]).
pub fn wrpkru(value: u32) {
    // SAFETY: WRPKRU writes PKRU; the caller checked OSPKE and keeps
    // access to the memory it uses (key 0 stays enabled).
    unsafe {
        asm!(".byte 0x0f, 0x01, 0xef", in("eax") value, in("ecx") 0, in("edx") 0, options(nostack));
    }
}

/// The sixteen SSE registers as bytes, xmm0 first.
pub type Xmm = [[u8; 16]; 16];

/// A pattern no register holds by chance: xmm`i` is 16 bytes of
/// `0x11 * (i + 1)` (wrapping), xmm15 included.
pub fn xmm_pattern() -> Xmm {
    let mut x = [[0u8; 16]; 16];
    for (i, r) in x.iter_mut().enumerate() {
        *r = [(0x11u8).wrapping_mul(i as u8 + 1) | 1; 16];
    }
    x
}

/// Load xmm0-15 from `load`, stop the calling process with a raw
/// kill(getpid(), SIGSTOP) (no other code runs with the loaded values),
/// and once resumed store xmm0-15 into the result: what a tracer's
/// register writes at that stop did to them.
pub fn xmm_round_trip(load: &Xmm) -> Xmm {
    let mut store: Xmm = [[0u8; 16]; 16];
    let pid = nix::unistd::getpid().as_raw();
    // SAFETY: the asm reads 256 bytes from `load`, writes 256 bytes to
    // `store`, makes a kill(2) syscall and declares every register it
    // changes.
    unsafe {
        asm!(
            "movdqu xmm0, [{l}]",
            "movdqu xmm1, [{l} + 16]",
            "movdqu xmm2, [{l} + 32]",
            "movdqu xmm3, [{l} + 48]",
            "movdqu xmm4, [{l} + 64]",
            "movdqu xmm5, [{l} + 80]",
            "movdqu xmm6, [{l} + 96]",
            "movdqu xmm7, [{l} + 112]",
            "movdqu xmm8, [{l} + 128]",
            "movdqu xmm9, [{l} + 144]",
            "movdqu xmm10, [{l} + 160]",
            "movdqu xmm11, [{l} + 176]",
            "movdqu xmm12, [{l} + 192]",
            "movdqu xmm13, [{l} + 208]",
            "movdqu xmm14, [{l} + 224]",
            "movdqu xmm15, [{l} + 240]",
            "syscall",
            "movdqu [{s}], xmm0",
            "movdqu [{s} + 16], xmm1",
            "movdqu [{s} + 32], xmm2",
            "movdqu [{s} + 48], xmm3",
            "movdqu [{s} + 64], xmm4",
            "movdqu [{s} + 80], xmm5",
            "movdqu [{s} + 96], xmm6",
            "movdqu [{s} + 112], xmm7",
            "movdqu [{s} + 128], xmm8",
            "movdqu [{s} + 144], xmm9",
            "movdqu [{s} + 160], xmm10",
            "movdqu [{s} + 176], xmm11",
            "movdqu [{s} + 192], xmm12",
            "movdqu [{s} + 208], xmm13",
            "movdqu [{s} + 224], xmm14",
            "movdqu [{s} + 240], xmm15",
            l = in(reg) load.as_ptr(),
            s = in(reg) store.as_mut_ptr(),
            inlateout("rax") libc::SYS_kill => _,
            in("rdi") pid as i64,
            in("rsi") libc::SIGSTOP as i64,
            out("rcx") _,
            out("r11") _,
            out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
            out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
            out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
            out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
            options(nostack),
        );
    }
    store
}

/// Each register of `after` against `before`: `k` kept, `0` zeroed,
/// `?` anything else; xmm0 first (`kkkkkkkk00000000`).
pub fn xmm_fate(before: &Xmm, after: &Xmm) -> String {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| {
            if a == b {
                'k'
            } else if a.iter().all(|&x| x == 0) {
                '0'
            } else {
                '?'
            }
        })
        .collect()
}

/// `len` bytes of fresh memory below 4 GiB (MAP_32BIT), so an i386
/// syscall can point at it. Leaked: callers are short-lived.
pub fn low_mem(len: usize) -> Result<&'static mut [u8], Errno> {
    // SAFETY: an anonymous private mapping nothing else refers to.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    // SAFETY: p is a fresh mapping of len bytes, never unmapped.
    Ok(unsafe { std::slice::from_raw_parts_mut(p as *mut u8, len) })
}

/// PTRACE_GETREGSET of `note` into a buffer of `cap` bytes; the kernel
/// says how much it wrote, and the result is cut to that.
pub fn getregset(pid: Pid, note: u32, cap: usize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; cap];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: cap,
    };
    // The kernel writes at most iov_len bytes into buf.
    regset(libc::PTRACE_GETREGSET, pid, note, &mut iov)?;
    buf.truncate(iov.iov_len);
    Ok(buf)
}

/// PTRACE_SETREGSET of `note` from `buf` (all of it).
pub fn setregset(pid: Pid, note: u32, buf: &[u8]) -> Result<(), Errno> {
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // The kernel reads iov_len bytes from buf.
    regset(libc::PTRACE_SETREGSET, pid, note, &mut iov)
}

/// PTRACE_GETREGSET or PTRACE_SETREGSET of `note` through `iov`, which
/// must point at live memory of its length.
fn regset(request: libc::c_uint, pid: Pid, note: u32, iov: &mut libc::iovec) -> Result<(), Errno> {
    // SAFETY: the kernel reads or writes at most iov_len bytes at
    // iov_base, which the callers own, and updates iov_len.
    let rc = unsafe {
        libc::ptrace(
            request,
            pid.as_raw(),
            note as usize as *mut libc::c_void,
            iov as *mut libc::iovec as *mut libc::c_void,
        )
    };
    Errno::result(rc).map(drop)
}

pub fn u64_at(buf: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(buf[off..off + 8].try_into().unwrap())
}

pub fn put_u64(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

pub fn put_u32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_match_the_c_structs() {
        assert_eq!(
            debugreg_offset(0),
            std::mem::offset_of!(libc::user, u_debugreg)
        );
        assert_eq!(
            reg::ORIG_RAX,
            std::mem::offset_of!(libc::user_regs_struct, orig_rax)
        );
        assert_eq!(reg::RIP, std::mem::offset_of!(libc::user_regs_struct, rip));
        assert_eq!(reg::RAX, std::mem::offset_of!(libc::user_regs_struct, rax));
        assert_eq!(
            reg::GS_BASE,
            std::mem::offset_of!(libc::user_regs_struct, gs_base)
        );
        assert_eq!(reg::GS, std::mem::offset_of!(libc::user_regs_struct, gs));
    }

    #[test]
    fn xmm_fate_names_each_register() {
        let before = xmm_pattern();
        let mut after = before;
        for r in after.iter_mut().skip(8) {
            *r = [0; 16];
        }
        after[1][3] ^= 1;
        assert_eq!(xmm_fate(&before, &after), "k?kkkkkk00000000");
        assert!(before.iter().all(|r| r.iter().all(|&b| b != 0)));
    }
}
