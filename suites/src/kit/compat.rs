//! 32-bit syscalls from a 64-bit build: `int 0x80` from 64-bit code, x32
//! numbers, and a minimal ELF32 i386 executable generated at run time
//! (no i686 toolchain needed); classic-BPF filters written the ways real
//! sandboxes write them (by number only, arch first, arch and x32 bit);
//! and what a tracer reads with PTRACE_GET_SYSCALL_INFO.

use std::arch::asm;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::{pipe2, Pid};

use kconform_core::Stop;

use super::bpf::{Bpf, NEXT, OFF_ARCH, OFF_ARG0_HI, OFF_ARG0_LO, OFF_NR, X32_SYSCALL_BIT};
use super::seccomp::{Ret, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use super::task::note_to;

/// i386 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl).
pub mod i386 {
    pub const EXIT: u32 = 1;
    pub const WRITE: u32 = 4;
    pub const GETPID: u32 = 20;
    pub const PTRACE: u32 = 26;
    pub const NANOSLEEP: u32 = 162;
    pub const SET_THREAD_AREA: u32 = 243;
    pub const EXIT_GROUP: u32 = 252;
    /// i386-only ptrace requests (the FXSAVE area as `user_fxsr_struct`).
    pub const PTRACE_GETFPXREGS: u32 = 18;
    pub const PTRACE_SETFPXREGS: u32 = 19;
}

/// A first argument no real call here uses: filters that should act on
/// one call only match it.
pub const MARK: u32 = 0x6b63_6f6d;
/// As [`MARK`], for the call whose argument's high word a filter reports.
pub const MARK_HI: u32 = MARK + 1;

/// An i386 syscall from 64-bit code: `int 0x80` with the number in eax
/// and the arguments in ebx, ecx, edx. Returns eax, sign-extended (the
/// i386 ABI returns 32 bits). The registers are loaded whole, so a test
/// can put something in the high halves the i386 syscall must ignore.
pub fn int80(nr: u32, a0: u64, a1: u64, a2: u64) -> i64 {
    int80_4(nr, a0, a1, a2, 0)
}

/// [`int80`] with a fourth argument, in esi.
pub fn int80_4(nr: u32, a0: u64, a1: u64, a2: u64, a3: u64) -> i64 {
    let ret: u64;
    // SAFETY: int 0x80 is a syscall; the numbers used here either return
    // or end the process, and their pointers are to live memory below
    // 4 GiB. rbx is reserved by LLVM, so it is swapped in and out around
    // the call. Older kernels clobber r8-r11 on int 0x80 return.
    unsafe {
        asm!(
            "xchg {a0}, rbx",
            "int 0x80",
            "xchg {a0}, rbx",
            a0 = inout(reg) a0 => _,
            inlateout("rax") nr as u64 => ret,
            in("rcx") a1,
            in("rdx") a2,
            in("rsi") a3,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
        );
    }
    ret as u32 as i32 as i64
}

static PROBE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn int80_faulted(_: libc::c_int) {
    note_to(PROBE_FD.load(Ordering::SeqCst), b"int80-faulted");
    // SAFETY: leave at once from the signal handler.
    unsafe { libc::_exit(125) }
}

/// Whether this kernel takes `int 0x80` from 64-bit code: an i386
/// getpid must answer the pid. Without IA32 emulation (not built in, or
/// off at boot since 6.7) there is no int 0x80 gate and the instruction
/// faults; the fault is caught, noted on `notes_fd` as `int80-faulted`,
/// and the process exits 125. Caught, because the kernel logs an
/// unhandled SIGSEGV ("traps: ... general protection fault") on the
/// console, where it reads like a kernel oops.
pub fn probe_int80(notes_fd: RawFd) -> Result<(), i64> {
    PROBE_FD.store(notes_fd, Ordering::SeqCst);
    let caught = SigAction::new(
        SigHandler::Handler(int80_faulted),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only writes and exits.
    let old = unsafe { sigaction(Signal::SIGSEGV, &caught) };
    let got = int80(i386::GETPID, 0, 0, 0);
    if let Ok(old) = old {
        // SAFETY: restores what was there before.
        let _ = unsafe { sigaction(Signal::SIGSEGV, &old) };
    }
    if got == nix::unistd::getpid().as_raw() as i64 {
        Ok(())
    } else {
        Err(got)
    }
}

/// A native `syscall` with three arguments, returning -errno on error.
pub fn syscall3(nr: u64, a0: u64, a1: u64, a2: u64) -> i64 {
    // SAFETY: the calls made this way take integers or point at live memory.
    let rc = unsafe { libc::syscall(nr as libc::c_long, a0, a1, a2) };
    if rc < 0 {
        -(Errno::last_raw() as i64)
    } else {
        rc
    }
}

/// A byte mapped below 4 GiB (MAP_32BIT), so its address survives the
/// truncation to 32 bits an i386 syscall applies to a pointer. Leaked:
/// subjects are short-lived processes.
pub fn low_byte(value: u8) -> Result<u64, Errno> {
    // SAFETY: an anonymous private mapping; nothing else refers to it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    // SAFETY: p is a fresh writable page.
    unsafe { *(p as *mut u8) = value };
    Ok(p as u64)
}

// --- a minimal ELF32 i386 executable ---------------------------------------

/// Where the image is loaded (the traditional i386 base).
const ELF32_BASE: u32 = 0x0804_8000;
/// ELF header (52 bytes) and one program header (32 bytes).
const ELF32_HEADERS: u32 = 52 + 32;
/// The address of the image's data byte (`W`), right after the headers.
pub const ELF32_BYTE: u32 = ELF32_BASE + ELF32_HEADERS;

/// A static i386 program made of `int 0x80` calls, assembled by hand:
/// each call's eax is written (4 bytes, little-endian) to a report fd,
/// and the program ends with exit_group. It has one PT_LOAD segment and
/// no libc, so the only syscalls it makes are the ones listed.
#[derive(Clone, Debug, Default)]
pub struct Elf32 {
    code: Vec<u8>,
}

impl Elf32 {
    pub fn new() -> Self {
        Elf32::default()
    }

    fn mov_imm(&mut self, opcode: u8, imm: u32) {
        self.code.push(opcode);
        self.code.extend_from_slice(&imm.to_le_bytes());
    }

    fn syscall(&mut self, nr: u32, args: [u32; 3]) {
        self.mov_imm(0xb8, nr); // mov eax, nr
        self.mov_imm(0xbb, args[0]); // mov ebx, a0
        self.mov_imm(0xb9, args[1]); // mov ecx, a1
        self.mov_imm(0xba, args[2]); // mov edx, a2
        self.code.extend_from_slice(&[0xcd, 0x80]); // int 0x80
    }

    /// Make the call, then write its eax to `report_fd`.
    pub fn call(mut self, nr: u32, args: [u32; 3], report_fd: u32) -> Self {
        self.syscall(nr, args);
        self.code.push(0x50); // push eax
        self.mov_imm(0xb8, i386::WRITE);
        self.mov_imm(0xbb, report_fd);
        self.code.extend_from_slice(&[0x89, 0xe1]); // mov ecx, esp
        self.mov_imm(0xba, 4);
        self.code.extend_from_slice(&[0xcd, 0x80]);
        self.code.push(0x58); // pop eax
        self
    }

    /// The ELF file: headers, the data byte, the code, then exit_group(code)
    /// and ud2 (SIGILL) should exit_group ever return.
    pub fn image(&self, exit_code: u32) -> Vec<u8> {
        let mut code = self.clone();
        code.syscall(i386::EXIT_GROUP, [exit_code, 0, 0]);
        code.code.extend_from_slice(&[0x0f, 0x0b]);
        let size = ELF32_HEADERS + 1 + code.code.len() as u32;
        let entry = ELF32_BYTE + 1;
        let mut f = Vec::with_capacity(size as usize);
        // e_ident: magic, ELFCLASS32, ELFDATA2LSB, EV_CURRENT, SYSV ABI.
        f.extend_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1, 0]);
        f.extend_from_slice(&[0; 8]);
        let half = |f: &mut Vec<u8>, v: u16| f.extend_from_slice(&v.to_le_bytes());
        let word = |f: &mut Vec<u8>, v: u32| f.extend_from_slice(&v.to_le_bytes());
        half(&mut f, 2); // e_type ET_EXEC
        half(&mut f, 3); // e_machine EM_386
        word(&mut f, 1); // e_version
        word(&mut f, entry); // e_entry
        word(&mut f, 52); // e_phoff
        word(&mut f, 0); // e_shoff
        word(&mut f, 0); // e_flags
        half(&mut f, 52); // e_ehsize
        half(&mut f, 32); // e_phentsize
        half(&mut f, 1); // e_phnum
        half(&mut f, 40); // e_shentsize
        half(&mut f, 0); // e_shnum
        half(&mut f, 0); // e_shstrndx
        word(&mut f, 1); // p_type PT_LOAD
        word(&mut f, 0); // p_offset
        word(&mut f, ELF32_BASE); // p_vaddr
        word(&mut f, ELF32_BASE); // p_paddr
        word(&mut f, size); // p_filesz
        word(&mut f, size); // p_memsz
        word(&mut f, 5); // p_flags PF_R | PF_X
        word(&mut f, 0x1000); // p_align
        f.push(b'W');
        f.extend_from_slice(&code.code);
        debug_assert_eq!(f.len(), size as usize);
        f
    }
}

// --- filters the ways real sandboxes write them ----------------------------

/// A filter that gives `ret` to any call whose first argument is
/// [`MARK`], whatever its arch and number, and allows everything else.
pub fn on_marked(ret: Ret) -> Bpf {
    Bpf::default()
        .ld(OFF_ARG0_LO)
        .jeq(MARK, NEXT, "allow")
        .ret(ret)
        .label("allow")
        .ret(Ret::Allow)
}

const ERRNO: u32 = libc::SECCOMP_RET_ERRNO;

/// A filter that tells the caller what it saw, through the errno of the
/// marked calls (everything else is allowed):
/// - first argument [`MARK`]: errno = arch class << 10 | x32 bit << 9 |
///   (nr & 0x1ff), decoded by [`decode_seen`];
/// - first argument [`MARK_HI`]: errno = the argument's high word & 0xfff
///   (0 makes the call return 0).
pub fn reporting_filter() -> Bpf {
    Bpf::default()
        .ld(OFF_ARG0_LO)
        .jeq(MARK_HI, "hi", NEXT)
        .jeq(MARK, NEXT, "allow")
        .ld(OFF_NR)
        .and(0x1ff)
        .tax()
        .ld(OFF_NR)
        .jset(X32_SYSCALL_BIT, NEXT, "arch")
        .txa()
        .or(0x200)
        .tax()
        .label("arch")
        .ld(OFF_ARCH)
        .jeq(AUDIT_ARCH_X86_64, "x86-64", NEXT)
        .jeq(AUDIT_ARCH_I386, "i386", NEXT)
        .imm(3 << 10)
        .ja("out")
        .label("x86-64")
        .imm(1 << 10)
        .ja("out")
        .label("i386")
        .imm(2 << 10)
        .label("out")
        .or_x()
        .or(ERRNO)
        .ret_a()
        .label("hi")
        .ld(OFF_ARG0_HI)
        .and(0xfff)
        .or(ERRNO)
        .ret_a()
        .label("allow")
        .ret(Ret::Allow)
}

/// What [`reporting_filter`] saw, from the errno of a [`MARK`]ed call:
/// `arch=i386 nr=20`, `arch=x86_64 nr=0x40000027`.
pub fn decode_seen(errno: i64) -> String {
    let arch = match errno >> 10 {
        1 => "x86_64",
        2 => "i386",
        3 => "other",
        _ => return format!("unexpected-errno={errno}"),
    };
    let nr = errno & 0x1ff;
    if errno & 0x200 != 0 {
        format!("arch={arch} nr={:#x}", nr | X32_SYSCALL_BIT as i64)
    } else {
        format!("arch={arch} nr={nr}")
    }
}

// --- what the subject reports ----------------------------------------------

/// 4-byte results a subject writes, in order (an ELF32 program writes its
/// eax; 64-bit code writes the same), read once the subject is gone.
pub struct Results {
    rx: OwnedFd,
    tx: OwnedFd,
}

impl Results {
    pub fn new() -> Result<Self, Stop> {
        let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
        fcntl(&rx, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        Ok(Results { rx, tx })
    }

    pub fn tx(&self) -> &OwnedFd {
        &self.tx
    }

    /// Write one result to `fd` (async-signal-safe).
    pub fn put(fd: RawFd, v: i64) {
        let b = (v as i32).to_le_bytes();
        // SAFETY: write(2) from a stack buffer.
        unsafe { libc::write(fd, b.as_ptr() as *const libc::c_void, 4) };
    }

    pub fn take(&self) -> Vec<i64> {
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 256];
        while let Ok(n) = nix::unistd::read(self.rx.as_fd(), &mut chunk) {
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&chunk[..n]);
        }
        bytes
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
            .collect()
    }
}

// --- PTRACE_GET_SYSCALL_INFO -----------------------------------------------

pub const INFO_ENTRY: u8 = 1;
pub const INFO_SECCOMP: u8 = 3;

/// The parts of `struct ptrace_syscall_info` a tracer reads (5.3+).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallInfo {
    pub op: u8,
    pub arch: u32,
    pub nr: u64,
    pub args: [u64; 6],
    pub ret_data: u32,
}

/// PTRACE_GET_SYSCALL_INFO into a zeroed buffer, decoded by the uapi
/// layout (op, pad, arch, ip, sp, then nr and args at 24, ret_data at 80).
pub fn syscall_info(pid: Pid) -> Result<SyscallInfo, Errno> {
    let mut raw = [0u8; 96];
    // SAFETY: the kernel writes at most raw.len() bytes into raw.
    let rc = unsafe {
        libc::ptrace(
            libc::PTRACE_GET_SYSCALL_INFO,
            pid.as_raw(),
            raw.len(),
            raw.as_mut_ptr() as *mut libc::c_void,
        )
    };
    Errno::result(rc)?;
    let u64_at = |o: usize| u64::from_ne_bytes(raw[o..o + 8].try_into().unwrap());
    let mut args = [0u64; 6];
    for (i, a) in args.iter_mut().enumerate() {
        *a = u64_at(32 + 8 * i);
    }
    Ok(SyscallInfo {
        op: raw[0],
        arch: u32::from_ne_bytes(raw[4..8].try_into().unwrap()),
        nr: u64_at(24),
        args,
        ret_data: u32::from_ne_bytes(raw[80..84].try_into().unwrap()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_resolve_to_forward_offsets() {
        let p = on_marked(Ret::Trap(1)).program();
        assert_eq!(p.len(), 4);
        assert_eq!((p[1].jt, p[1].jf), (0, 1));
        let p = reporting_filter().program();
        let ja: Vec<u32> = p.iter().filter(|i| i.code == 0x05).map(|i| i.k).collect();
        assert_eq!(ja, [3, 1]);
    }

    #[test]
    fn decodes_what_the_filter_saw() {
        assert_eq!(decode_seen(2 << 10 | 20), "arch=i386 nr=20");
        assert_eq!(
            decode_seen(1 << 10 | 0x200 | 39),
            "arch=x86_64 nr=0x40000027"
        );
    }

    #[test]
    fn elf32_image_has_one_load_segment() {
        let img = Elf32::new().call(i386::GETPID, [0; 3], 100).image(3);
        assert_eq!(&img[..4], b"\x7fELF");
        assert_eq!(img[4], 1, "ELFCLASS32");
        assert_eq!(u16::from_le_bytes([img[18], img[19]]), 3, "EM_386");
        let entry = u32::from_le_bytes(img[24..28].try_into().unwrap());
        assert_eq!(entry, ELF32_BYTE + 1);
        assert_eq!(img[(ELF32_BYTE - ELF32_BASE) as usize], b'W');
        assert_eq!(&img[img.len() - 2..], &[0x0f, 0x0b]);
    }
}
