/*
 * compat: 32-bit syscalls on x86_64 and what seccomp filters and tracers
 * see of them.
 *
 * An x86_64 kernel with IA32 emulation takes i386 syscalls from a 64-bit
 * task (int $0x80) and runs 32-bit executables. seccomp hands such a call
 * to the filter with seccomp_data.arch = AUDIT_ARCH_I386 and the number
 * from the i386 table (arch/x86/entry/syscalls/syscall_32.tbl), so a
 * filter that compares numbers without checking the arch first is
 * bypassed (i386 getpid is 20, not 39) and even misfires (i386 exit is 1,
 * x86_64 write's number); see seccomp(2), "Caveats". x32 calls (`syscall`
 * with __X32_SYSCALL_BIT in the number) come with AUDIT_ARCH_X86_64.
 *
 * Each scenario runs the same calls along one path: syscall64 (the native
 * reference), int80 (i386 calls from 64-bit code), elf32 (a static i386
 * executable written at run time, byte for byte as kconform writes it,
 * exec'd under a filter installed before the exec) and x32. A subject
 * reports each call's result (4 bytes) on fd RESULT_FD; write() writes
 * "W" to EFFECT_FD; probes leave notes on a status pipe.
 */

#include <sys/user.h>

#define RESULT_FD 100
#define EFFECT_FD 101
#define TRACE_DATA 0x7
#define TRAP_DATA 0x42
#define HIGH_WORD 0x5a5ULL
#define X32_SYSCALL_BIT 0x40000000U
#define ARCH_I386 AUDIT_ARCH_I386
#define SYSCALL_ARG0_LO offsetof(struct seccomp_data, args[0])
#define SYSCALL_ARG0_HI (offsetof(struct seccomp_data, args[0]) + 4)

/* A first argument no real call here uses: filters acting on one call
 * only match it. MARK_HI: the call whose argument's high word a filter
 * reports. */
#define MARK 0x6b636f6dU
#define MARK_HI (MARK + 1)

/* i386 numbers (syscall_32.tbl). */
#define I386_EXIT 1
#define I386_WRITE 4
#define I386_GETPID 20
#define I386_EXIT_GROUP 252

enum path { SYSCALL64, INT80, ELF32, X32 };

/* The path is the last part of params: "int80", "getpid/elf32". */
static UNUSED enum path path_of(const char *params)
{
	const char *last = strrchr(params, '/');
	last = last ? last + 1 : params;
	if (!strcmp(last, "int80"))
		return INT80;
	if (!strcmp(last, "elf32"))
		return ELF32;
	if (!strcmp(last, "x32"))
		return X32;
	return SYSCALL64;
}

enum call_kind { GETPID, WRITE, EXIT };

struct call { enum call_kind kind; uint64_t arg0; };

static const char *call_name(const struct call *c)
{
	return c->kind == GETPID ? "getpid" : c->kind == WRITE ? "write" : "exit";
}

/* The number in the table the path indexes. */
static uint32_t call_nr(const struct call *c, enum path path)
{
	uint32_t x86_64, i386;
	switch (c->kind) {
	case GETPID: x86_64 = __NR_getpid; i386 = I386_GETPID; break;
	case WRITE: x86_64 = __NR_write; i386 = I386_WRITE; break;
	default: x86_64 = __NR_exit; i386 = I386_EXIT; break;
	}
	if (path == SYSCALL64)
		return x86_64;
	if (path == X32)
		return x86_64 | X32_SYSCALL_BIT;
	return i386;
}

/* getpid(arg0), write(EFFECT_FD, byte, 1), exit(arg0). */
static void call_args(const struct call *c, uint64_t byte, uint64_t a[3])
{
	a[0] = c->kind == WRITE ? EFFECT_FD : c->arg0;
	a[1] = c->kind == WRITE ? byte : 0;
	a[2] = c->kind == WRITE ? 1 : 0;
}

/* An i386 syscall from 64-bit code: number in eax, arguments in ebx,
 * ecx, edx; the registers are loaded whole, so a high half the i386
 * call must ignore is there. eax comes back sign-extended (32 bits).
 * Older kernels clobber r8-r11 on the int $0x80 return. */
static long int80(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	uint64_t ret = nr;
	asm volatile("int $0x80"
		     : "+a"(ret)
		     : "b"(a0), "c"(a1), "d"(a2), "S"(0UL)
		     : "r8", "r9", "r10", "r11", "memory");
	return (int32_t)(uint32_t)ret;
}

/* A native `syscall` with three arguments; -errno on error. */
static long syscall3(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	long rc = syscall(nr, a0, a1, a2);
	return rc < 0 ? -errno : rc;
}

static long call_invoke(const struct call *c, enum path path, uint64_t byte)
{
	uint64_t a[3];
	call_args(c, byte, a);
	if (path == INT80)
		return int80(call_nr(c, path), a[0], a[1], a[2]);
	return syscall3(call_nr(c, path), a[0], a[1], a[2]);
}

/* One note line, one write(2) (async-signal-safe). */
static void note(int fd, const char *text)
{
	char line[512];
	size_t n = strlen(text);
	if (n > sizeof(line) - 1)
		n = sizeof(line) - 1;
	memcpy(line, text, n);
	line[n] = '\n';
	if (write(fd, line, n + 1) < 0)
		_exit(SUBJECT_EXIT);
}

/* Everything on a non-blocking pipe so far. */
static size_t drain(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	buf[got] = 0;
	return got;
}

struct pipe_pair { int rx, tx; };

static struct pipe_pair nonblocking_pipe(void)
{
	int fds[2];
	SETUP(pipe2(fds, O_CLOEXEC));
	SETUP(fcntl(fds[0], F_SETFL, O_NONBLOCK));
	return (struct pipe_pair){ fds[0], fds[1] };
}

/* ---------------------------------------------------------------------
 * int $0x80 from 64-bit code: probed, since without IA32 emulation
 * (not built in, or off at boot since 6.7) it faults. The fault is
 * caught: the kernel logs an unhandled SIGSEGV, which reads like an oops.
 */

static int probe_fd = -1;

static void int80_faulted(int sig)
{
	(void)sig;
	note(probe_fd, "int80-faulted");
	_exit(125);
}

/* 0 if an i386 getpid answers the pid, else what it answered in *got. */
static int probe_int80(int notes_fd, long *got)
{
	struct sigaction caught = { .sa_handler = int80_faulted }, old;
	int have_old;

	probe_fd = notes_fd;
	sigemptyset(&caught.sa_mask);
	have_old = sigaction(SIGSEGV, &caught, &old) == 0;
	*got = int80(I386_GETPID, 0, 0, 0);
	if (have_old)
		sigaction(SIGSEGV, &old, NULL);
	return *got == getpid() ? 0 : -1;
}

/* A byte below 4 GiB (MAP_32BIT), so its address survives the i386
 * call's truncation of a pointer to 32 bits. */
static uint64_t low_byte(char value)
{
	char *p = (char *)SETUP(mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0));
	*p = value;
	return (uint64_t)(uintptr_t)p;
}

/* ---------------------------------------------------------------------
 * A minimal static ELF32 i386 executable, assembled by hand (no i686
 * toolchain needed): one PT_LOAD segment, the data byte 'W' after the
 * headers, then for each call `int $0x80` and its eax written to
 * RESULT_FD, then exit_group(0) and ud2.
 */

#define ELF32_BASE 0x08048000U
#define ELF32_HEADERS (52 + 32)
#define ELF32_BYTE (ELF32_BASE + ELF32_HEADERS)

struct bytes { uint8_t b[4096]; size_t n; };

static void put8(struct bytes *o, uint8_t v) { o->b[o->n++] = v; }
static void put16(struct bytes *o, uint16_t v) { put8(o, v); put8(o, v >> 8); }
static void put32(struct bytes *o, uint32_t v) { put16(o, v); put16(o, v >> 16); }

static void mov_imm(struct bytes *o, uint8_t opcode, uint32_t imm)
{
	put8(o, opcode);
	put32(o, imm);
}

static void elf32_syscall(struct bytes *o, uint32_t nr, uint32_t a0, uint32_t a1, uint32_t a2)
{
	mov_imm(o, 0xb8, nr);	/* mov eax, nr */
	mov_imm(o, 0xbb, a0);	/* mov ebx, a0 */
	mov_imm(o, 0xb9, a1);	/* mov ecx, a1 */
	mov_imm(o, 0xba, a2);	/* mov edx, a2 */
	put8(o, 0xcd);		/* int 0x80 */
	put8(o, 0x80);
}

/* The call, then its eax written (4 bytes) to RESULT_FD. */
static void elf32_call(struct bytes *o, const struct call *c)
{
	uint64_t a[3];
	call_args(c, ELF32_BYTE, a);
	elf32_syscall(o, call_nr(c, ELF32), a[0], a[1], a[2]);
	put8(o, 0x50);			/* push eax */
	mov_imm(o, 0xb8, I386_WRITE);
	mov_imm(o, 0xbb, RESULT_FD);
	put8(o, 0x89);			/* mov ecx, esp */
	put8(o, 0xe1);
	mov_imm(o, 0xba, 4);
	put8(o, 0xcd);
	put8(o, 0x80);
	put8(o, 0x58);			/* pop eax */
}

static void elf32_image(const struct call *calls, int ncalls, struct bytes *f)
{
	struct bytes code = { .n = 0 };
	uint32_t size;

	for (int i = 0; i < ncalls; i++)
		elf32_call(&code, &calls[i]);
	elf32_syscall(&code, I386_EXIT_GROUP, 0, 0, 0);
	put8(&code, 0x0f);		/* ud2 */
	put8(&code, 0x0b);
	size = ELF32_HEADERS + 1 + code.n;
	f->n = 0;
	/* e_ident: magic, ELFCLASS32, ELFDATA2LSB, EV_CURRENT, SYSV ABI */
	put32(f, 0x464c457f);
	put8(f, 1); put8(f, 1); put8(f, 1); put8(f, 0);
	put32(f, 0); put32(f, 0);
	put16(f, 2);			/* e_type ET_EXEC */
	put16(f, 3);			/* e_machine EM_386 */
	put32(f, 1);			/* e_version */
	put32(f, ELF32_BYTE + 1);	/* e_entry */
	put32(f, 52);			/* e_phoff */
	put32(f, 0);			/* e_shoff */
	put32(f, 0);			/* e_flags */
	put16(f, 52);			/* e_ehsize */
	put16(f, 32);			/* e_phentsize */
	put16(f, 1);			/* e_phnum */
	put16(f, 40);			/* e_shentsize */
	put16(f, 0);			/* e_shnum */
	put16(f, 0);			/* e_shstrndx */
	put32(f, 1);			/* p_type PT_LOAD */
	put32(f, 0);			/* p_offset */
	put32(f, ELF32_BASE);		/* p_vaddr */
	put32(f, ELF32_BASE);		/* p_paddr */
	put32(f, size);			/* p_filesz */
	put32(f, size);			/* p_memsz */
	put32(f, 5);			/* p_flags PF_R | PF_X */
	put32(f, 0x1000);		/* p_align */
	put8(f, 'W');
	memcpy(f->b + f->n, code.b, code.n);
	f->n += code.n;
}

/* The image in a fresh directory under $TMPDIR (or next to this binary,
 * or in /), mode 0755. */
struct temp_exe { char dir[PATH_MAX]; char path[PATH_MAX + 8]; };

static void temp_exe_write(struct temp_exe *t, const struct bytes *image)
{
	const char *tmp = getenv("TMPDIR");
	char self[PATH_MAX], *slash;
	int fd;

	snprintf(self, sizeof(self), "%s", probe_exe());
	slash = strrchr(self, '/');
	if (slash)
		*slash = 0;
	snprintf(t->dir, sizeof(t->dir), "%.4000s/kconform-elf32-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(t->dir)) {
		snprintf(t->dir, sizeof(t->dir), "%.4000s/kconform-elf32-XXXXXX", self);
		if (!mkdtemp(t->dir)) {
			snprintf(t->dir, sizeof(t->dir), "/kconform-elf32-XXXXXX");
			if (!mkdtemp(t->dir))
				setup_failed("mkdtemp(kconform-elf32-XXXXXX)");
		}
	}
	snprintf(t->path, sizeof(t->path), "%.4000s/elf32", t->dir);
	fd = SETUP(open(t->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755));
	if (write(fd, image->b, image->n) != (ssize_t)image->n)
		setup_failed("write(elf32)");
	close(fd);
	SETUP(chmod(t->path, 0755));
}

static void temp_exe_remove(struct temp_exe *t)
{
	unlink(t->path);
	rmdir(t->dir);
}

/* ---------------------------------------------------------------------
 * The subject and its run.
 */

struct io { struct pipe_pair results, effects, status; };

struct subject {
	enum path path;
	const struct call *calls;
	int ncalls;
	struct sock_filter *filter;	/* NULL: none */
	unsigned short filter_len;
	const char *exe;		/* the ELF32 program, or NULL */
	struct io *io;
	int stop_first;
};

/* Probe the path, install the filter (NO_NEW_PRIVS first), make the
 * calls (or exec the ELF32 program that makes them), report each. */
static int subject(struct subject *s)
{
	uint64_t byte;

	SETUP(dup2(s->io->results.tx, RESULT_FD));
	SETUP(dup2(s->io->effects.tx, EFFECT_FD));
	if (s->stop_first)
		SETUP(raise(SIGSTOP));
	if (s->path == INT80) {
		long got;
		if (probe_int80(s->io->status.tx, &got) < 0) {
			char why[128];
			snprintf(why, sizeof(why), "skip: int 0x80 getpid answered %ld, not the pid", got);
			note(s->io->status.tx, why);
			return 125;
		}
	} else if (s->path == X32) {
		/* Filters see x32 calls either way; whether one that gets
		 * past the filter runs depends on the ABI. */
		long got = syscall3(__NR_getpid | X32_SYSCALL_BIT, 0, 0, 0);
		if (got == -ENOSYS) {
			note(s->io->status.tx, "x32-absent");
		} else if (got != getpid()) {
			errno = EINVAL;
			setup_failed("syscall(__X32_SYSCALL_BIT | SYS_getpid)");
		}
	}
	byte = s->path == ELF32 ? ELF32_BYTE : low_byte('W');
	if (s->filter) {
		SETUP(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
		SETUP(install_filter(s->filter, s->filter_len, 0));
	}
	if (s->exe) {
		char *const argv[] = { (char *)s->exe, NULL }, *const envp[] = { NULL };
		execve(s->exe, argv, envp);
		if (errno == ENOEXEC)
			note(s->io->status.tx, "skip: exec of an ELF32 i386 executable failed with ENOEXEC: "
			     "IA32 emulation is not built in (CONFIG_IA32_EMULATION) or is off "
			     "(ia32_emulation=false, CONFIG_IA32_EMULATION_DEFAULT_DISABLED)");
		else if (errno == EACCES)
			note(s->io->status.tx, "skip: exec from the temporary directory failed with EACCES "
			     "(mounted noexec?)");
		else
			setup_failed("execve(elf32)");
		return 126;
	}
	for (int i = 0; i < s->ncalls; i++) {
		int32_t v = call_invoke(&s->calls[i], s->path, byte);
		if (write(RESULT_FD, &v, 4) < 0)
			_exit(SUBJECT_EXIT);
	}
	return 0;
}

/* What a tracer watches for. */
enum watch { NO_WATCH, SYSCALL_ENTRY, SECCOMP_STOP, TRAP };

struct ran {
	pid_t pid;
	long results[8];
	int nresults;
	char end[64];
	char effects[256];
	char trace[1024];	/* the tracer's log, joined by " -> " */
	int x32_absent;
};

static const char *arch_name(uint32_t arch)
{
	static char other[16];
	if (arch == AUDIT_ARCH_X86_64)
		return "x86_64";
	if (arch == ARCH_I386)
		return "i386";
	snprintf(other, sizeof(other), "%#x", arch);
	return other;
}

#ifndef PTRACE_GET_SYSCALL_INFO
#define PTRACE_GET_SYSCALL_INFO 0x420e
#endif
#define INFO_ENTRY 1

/* The parts of struct ptrace_syscall_info a tracer reads here. */
struct syscall_info { uint8_t op; uint32_t arch; uint64_t nr, arg0; uint32_t ret_data; };

/* PTRACE_GET_SYSCALL_INFO (5.3) into a zeroed buffer, decoded by the
 * uapi layout (op, pad, arch, ip, sp, then nr and args at 24, seccomp's
 * ret_data at 80), so no libc header of a given age is needed. */
static struct syscall_info syscall_info(pid_t pid)
{
	uint8_t raw[96];
	struct syscall_info info;
	memset(raw, 0, sizeof(raw));
	SETUP(ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(raw), raw));
	info.op = raw[0];
	memcpy(&info.arch, raw + 4, 4);
	memcpy(&info.nr, raw + 24, 8);
	memcpy(&info.arg0, raw + 32, 8);
	memcpy(&info.ret_data, raw + 80, 4);
	return info;
}

static long orig_rax(pid_t pid)
{
	struct user_regs_struct regs;
	SETUP(ptrace(PTRACE_GETREGS, pid, 0, &regs));
	return (long)regs.orig_rax;
}

/* PTRACE_GETSIGINFO as text: "SIGSYS code=SYS_SECCOMP errno=0x42
 * syscall=20 arch=i386". */
static void siginfo_text(pid_t pid, char *out, size_t len)
{
	siginfo_t si;
	SETUP(ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
	int n = snprintf(out, len, "%s code=%s", signame(si.si_signo),
			 code_name(si.si_signo, si.si_code));
	if (si.si_signo == SIGSYS && si.si_code == 1)
		snprintf(out + n, len - n, " errno=0x%x syscall=%d arch=%s", si.si_errno,
			 si.si_syscall, arch_name(si.si_arch));
	else if ((si.si_signo == SIGSEGV || si.si_signo == SIGBUS || si.si_signo == SIGILL ||
		  si.si_signo == SIGFPE) && si.si_code > 0)
		snprintf(out + n, len - n, " addr=0x%lx", (unsigned long)si.si_addr);
}

static void ran_log(struct ran *r, const char *entry)
{
	size_t n = strlen(r->trace);
	snprintf(r->trace + n, sizeof(r->trace) - n, "%s%s", n ? " -> " : "", entry);
}

/* Follow the tracee to its end, logging the stop `watch` names for the
 * marked call (and any SIGSYS stop, which is suppressed). */
static void follow(pid_t pid, enum watch watch, struct ran *r)
{
	int seen = 0;
	for (int i = 0; i < 256; i++) {
		int status = wait_status(pid), deliver = 0;
		char entry[256];
		int sig = (status >> 8) & 0xff, event = (status >> 16) & 0xff;

		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			snprintf(r->end, sizeof(r->end), "%s", status_text(status));
			return;
		}
		if (!WIFSTOPPED(status))
			continue;
		if (sig == (SIGTRAP | 0x80)) {
			if (!seen) {
				struct syscall_info info = syscall_info(pid);
				if (info.op == INFO_ENTRY && (uint32_t)info.arg0 == MARK) {
					snprintf(entry, sizeof(entry),
						 "syscall-entry orig_rax=%ld arch=%s nr=%llu",
						 orig_rax(pid), arch_name(info.arch),
						 (unsigned long long)info.nr);
					ran_log(r, entry);
					seen = 1;
				}
			}
		} else if (event == PTRACE_EVENT_SECCOMP) {
			unsigned long msg;
			SETUP(ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg));
			struct syscall_info info = syscall_info(pid);
			snprintf(entry, sizeof(entry),
				 "event SECCOMP msg=0x%lx orig_rax=%ld arch=%s nr=%llu ret_data=0x%x",
				 msg, orig_rax(pid), arch_name(info.arch),
				 (unsigned long long)info.nr, info.ret_data);
			ran_log(r, entry);
			seen = 1;
		} else if (event == 0 && sig == SIGSYS) {
			char si[192];
			siginfo_text(pid, si, sizeof(si));
			snprintf(entry, sizeof(entry), "stop %s", si);
			ran_log(r, entry);
		} else if (event == 0 && sig != SIGSTOP) {
			deliver = sig;
		}
		if (watch == SYSCALL_ENTRY && !seen)
			ptrace(PTRACE_SYSCALL, pid, 0, deliver);
		else
			ptrace(PTRACE_CONT, pid, 0, deliver);
	}
	ran_log(r, "...");
	snprintf(r->end, sizeof(r->end), "running");
}

/* Run the calls along the path under the filter, traced (PTRACE_SEIZE
 * with TRACESYSGOOD, TRACESECCOMP and EXITKILL) when watch says so; a
 * path the kernel lacks becomes a skip. */
static void run_calls(enum path path, const struct call *calls, int ncalls,
		      struct sock_filter *filter, unsigned short filter_len, enum watch watch,
		      struct ran *r)
{
	struct io io = { nonblocking_pipe(), nonblocking_pipe(), nonblocking_pipe() };
	struct temp_exe exe;
	struct subject s = { path, calls, ncalls, filter, filter_len, NULL, &io,
			     watch == SYSCALL_ENTRY };
	char status[2048], bytes[64], *line, *save;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (path == ELF32) {
		static struct bytes image;
		elf32_image(calls, ncalls, &image);
		temp_exe_write(&exe, &image);
		s.exe = exe.path;
	}
	if (watch == NO_WATCH) {
		r->pid = SETUP(fork());
		if (r->pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			_exit(subject(&s));
		}
		snprintf(r->end, sizeof(r->end), "%s", wait_exit(r->pid));
	} else {
		struct gate go = gate_new();
		r->pid = SETUP(fork());
		if (r->pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			gate_wait(&go);
			_exit(subject(&s));
		}
		SETUP(ptrace(PTRACE_SEIZE, r->pid, 0,
			     PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL));
		gate_open(&go);
		follow(r->pid, watch, r);
	}
	if (path == ELF32)
		temp_exe_remove(&exe);

	drain(io.status.rx, status, sizeof(status));
	for (line = strtok_r(status, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "skip: ", 6))
			skip_lacks("%s", line + 6);
		if (!strcmp(line, "int80-faulted"))
			skip_lacks("int 0x80 from a 64-bit task raised SIGSEGV: IA32 emulation is not built in "
				   "(CONFIG_IA32_EMULATION) or is off (ia32_emulation=false, "
				   "CONFIG_IA32_EMULATION_DEFAULT_DISABLED)");
		if (!strcmp(line, "x32-absent"))
			r->x32_absent = 1;
	}
	n = drain(io.results.rx, bytes, sizeof(bytes));
	for (size_t i = 0; i + 4 <= n && r->nresults < 8; i += 4) {
		int32_t v;
		memcpy(&v, bytes + i, 4);
		r->results[r->nresults++] = v;
	}
	drain(io.effects.rx, r->effects, sizeof(r->effects));
	if (!r->effects[0]) {
		snprintf(r->effects, sizeof(r->effects), "none");
	} else {
		/* The notes, one a line, joined by ",". */
		size_t len = strlen(r->effects);
		if (r->effects[len - 1] == '\n')
			r->effects[--len] = 0;
		for (size_t i = 0; i < len; i++)
			if (r->effects[i] == '\n')
				r->effects[i] = ',';
	}
}

/* For an x32 call that gets past the filter: the kernel must run it,
 * else the observation says nothing about the filter. */
static UNUSED void x32_required(const struct ran *r)
{
	static const char why[] = "x32 syscalls answer ENOSYS: no x32 ABI (CONFIG_X86_X32_ABI, "
				  "or Debian's CONFIG_X86_X32_DISABLED without syscall.x32=y)";
	char cmdline[4096] = "", *w, *save;
	int fd, n, switched_on = 0;

	if (!r->x32_absent)
		return;
	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, cmdline, sizeof(cmdline) - 1);
		cmdline[n > 0 ? n : 0] = 0;
		close(fd);
	}
	for (w = strtok_r(cmdline, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
		switched_on |= !strcmp(w, "syscall.x32=y");
	if (switched_on)
		skip_lacks("%s", why);
	skip_forbidden("%s", why);
}

/* "getpid=pid write=EPERM", "none" for calls that never returned. */
static UNUSED void calls_text(const struct ran *r, const struct call *calls, int ncalls,
			      char *out, size_t len)
{
	size_t n = 0;
	out[0] = 0;
	for (int i = 0; i < ncalls; i++) {
		char v[48];
		if (i >= r->nresults)
			snprintf(v, sizeof(v), "none");
		else if (r->results[i] == r->pid)
			snprintf(v, sizeof(v), "pid");
		else if (r->results[i] < 0)
			snprintf(v, sizeof(v), "%s", errno_name(-r->results[i]));
		else
			snprintf(v, sizeof(v), "%ld", r->results[i]);
		n += snprintf(out + n, len - n, "%s%s=%s", i ? " " : "", call_name(&calls[i]), v);
	}
}

/* "getpid=EPERM -> exit 0; effects=none" */
static UNUSED void calls_and_end(const struct ran *r, const struct call *calls, int ncalls,
				 char *out, size_t len)
{
	char c[256];
	calls_text(r, calls, ncalls, c, sizeof(c));
	snprintf(out, len, "%s -> %s; effects=%s", c, r->end, r->effects);
}

/* A filter giving `ret` to any call whose first argument is MARK,
 * whatever its arch and number; everything else is allowed. */
#define ON_MARKED(ret) {						\
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_ARG0_LO),		\
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MARK, 0, 1),		\
	BPF_STMT(BPF_RET | BPF_K, (ret)),				\
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),			\
}

