/*
 * x86-ptrace: what the twins of this area share (suites/src/kit/x86.rs,
 * compat.rs, trace.rs and the helpers of suites/src/x86_ptrace.rs): a
 * seized subject that stops itself, the tracer's run to its end, notes,
 * PEEKUSER/POKEUSER of struct user, the XSAVE regset, CPUID/XCR0/PKRU,
 * the SSE registers around a stop, and i386 syscalls via int 0x80.
 */
#include <cpuid.h>
#include <sys/user.h>

/* ---------------------------------------------------------------------
 * Notes: lines a subject writes (one write(2) each), read afterwards.
 */

/* ---------------------------------------------------------------------
 * Names and texts.
 */

/* A raw syscall return as text: the errno name for -4095..-1, else the
 * number (effects::result_text). */
static UNUSED const char *result_text(long ret)
{
	static char buf[32];
	if (ret >= -4095 && ret < 0)
		return errno_name(-ret);
	snprintf(buf, sizeof(buf), "%ld", ret);
	return buf;
}

/* "ok" for 0, else result_text (x86_ptrace.rs zero_ok). */
static UNUSED const char *zero_ok(long ret)
{
	return ret == 0 ? "ok" : result_text(ret);
}

/* A siginfo as trace::SigInfo's Display writes it:
 * "SIGTRAP code=TRAP_TRACE", "SIGSEGV code=SEGV_MAPERR addr=0x10". */
static UNUSED const char *siginfo_text(const siginfo_t *si)
{
	static char buf[128];
	int n = snprintf(buf, sizeof(buf), "%s code=%s", signame(si->si_signo),
			 code_name(si->si_signo, si->si_code));
	if (si->si_signo == SIGSYS && si->si_code == 1) {
		char arch[16];
		if (si->si_arch == AUDIT_ARCH_X86_64)
			snprintf(arch, sizeof(arch), "x86_64");
		else if (si->si_arch == AUDIT_ARCH_I386)
			snprintf(arch, sizeof(arch), "i386");
		else
			snprintf(arch, sizeof(arch), "0x%x", si->si_arch);
		snprintf(buf + n, sizeof(buf) - n, " errno=0x%x syscall=%d arch=%s",
			 si->si_errno, si->si_syscall, arch);
	} else if ((si->si_signo == SIGSEGV || si->si_signo == SIGBUS || si->si_signo == SIGILL ||
		  si->si_signo == SIGFPE) && si->si_code > 0)
		snprintf(buf + n, sizeof(buf) - n, " addr=0x%lx", (unsigned long)si->si_addr);
	return buf;
}

/* ---------------------------------------------------------------------
 * A seized subject and the tracer's side.
 */

struct subject_start { struct gate go; int (*body)(void *); void *arg; };

static int seized_subject(void *p)
{
	struct subject_start *s = p;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	gate_wait(&s->go);
	return s->body(s->arg);
}

/* Fork a subject seized by us (PTRACE_O_EXITKILL); body(arg) runs once
 * the tracer has seized it. */
static UNUSED pid_t tracee_spawn(int (*body)(void *), void *arg)
{
	struct subject_start s = { gate_new(), body, arg };
	pid_t pid = spawn(seized_subject, &s);
	SETUP(ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_EXITKILL));
	gate_open(&s.go);
	return pid;
}

/* A seized subject that has stopped itself with SIGSTOP (a
 * signal-delivery stop), ready for the tracer's calls. */
static UNUSED pid_t stopped(int (*body)(void *), void *arg)
{
	pid_t pid = tracee_spawn(body, arg);
	int status = wait_status(pid);
	if (!WIFSTOPPED(status) || status >> 16 || WSTOPSIG(status) != SIGSTOP) {
		errno = EINVAL;
		setup_failed("subject did not stop itself");
	}
	return pid;
}

/* A subject body that only stops itself, then exits 0. */
static UNUSED int stop_self(void *arg)
{
	(void)arg;
	SETUP(raise(SIGSTOP));
	return 0;
}

/* Resume through every remaining stop, passing signals on, until the
 * subject exits; the stops and the end joined by " -> ". */
static UNUSED const char *run_to_exit(pid_t pid)
{
	static char out[1024];
	out[0] = 0;
	for (int n = 1;; n++) {
		int status = wait_status(pid);
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
			 out[0] ? " -> " : "", status_text(status));
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (WIFSTOPPED(status) && !(status >> 16) && WSTOPSIG(status) != (SIGTRAP | 0x80))
			ptrace(PTRACE_CONT, pid, 0, WSTOPSIG(status));
		else
			ptrace(PTRACE_CONT, pid, 0, 0);
		if (n > 16) {
			snprintf(out + strlen(out), sizeof(out) - strlen(out), " -> ...");
			break;
		}
	}
	return out;
}

/* Let the subject go on (its SIGSTOP suppressed) to its end. */
static UNUSED const char *finish(pid_t pid)
{
	SETUP(ptrace(PTRACE_CONT, pid, 0, 0));
	return run_to_exit(pid);
}

/* PEEKUSER at offset off; -1 with errno set on failure. */
static UNUSED long peek(pid_t pid, size_t off, uint64_t *v)
{
	long r;
	errno = 0;
	r = ptrace(PTRACE_PEEKUSER, pid, off, 0);
	if (r == -1 && errno)
		return -1;
	*v = (uint64_t)r;
	return 0;
}

static UNUSED long poke(pid_t pid, size_t off, uint64_t v)
{
	return ptrace(PTRACE_POKEUSER, pid, off, v);
}

/* offsetof(struct user, u_debugreg[n]). */
static UNUSED size_t debugreg_offset(int n)
{
	return offsetof(struct user, u_debugreg) + 8 * n;
}

/* ---------------------------------------------------------------------
 * CPUID, XCR0, PKRU; the XSAVE layout.
 */

#define NT_X86_XSTATE 0x202
#define XSAVE_XMM0 160
#define XSAVE_SW_RESERVED 464
#define XSAVE_XSTATE_BV 512
#define XSAVE_XCOMP_BV 520
#define NO_XSAVE "the CPU has no XSAVE (CPUID.1:ECX.OSXSAVE clear; QEMU's qemu64 model " \
		 "has none), so there is no NT_X86_XSTATE regset or XSAVE signal frame"

/* The user state components the OS enabled (XCR0); 0 without OSXSAVE. */
static UNUSED int xcr0(uint64_t *v)
{
	unsigned a, b, c, d;
	__cpuid_count(1, 0, a, b, c, d);
	if (!(c & (1u << 27)))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
	*v = (uint64_t)d << 32 | a;
	return 1;
}

/* CPUID.7.0:ECX.OSPKE: RDPKRU works. */
static UNUSED int ospke(void)
{
	unsigned a, b, c, d;
	__cpuid_count(0, 0, a, b, c, d);
	if (a < 7)
		return 0;
	__cpuid_count(7, 0, a, b, c, d);
	return !!(c & (1u << 4));
}

static UNUSED uint32_t rdpkru(void)
{
	uint32_t eax, edx;
	__asm__ volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

/* PTRACE_GETREGSET of note into buf (cap bytes); the length written. */
static UNUSED long getregset(pid_t pid, unsigned note, void *buf, size_t cap, size_t *len)
{
	struct iovec iov = { buf, cap };
	long rc = ptrace(PTRACE_GETREGSET, pid, (long)note, &iov);
	*len = iov.iov_len;
	return rc;
}

static UNUSED long setregset(pid_t pid, unsigned note, void *buf, size_t len)
{
	struct iovec iov = { buf, len };
	return ptrace(PTRACE_SETREGSET, pid, (long)note, &iov);
}

/* ---------------------------------------------------------------------
 * The sixteen SSE registers around a stop.
 */

typedef uint8_t xmm_t[16][16];

/* xmm i is 16 bytes of 0x11 * (i + 1) (wrapping), | 1: no register holds
 * that by chance, and no byte is zero. */
static UNUSED void xmm_pattern(xmm_t x)
{
	for (int i = 0; i < 16; i++)
		memset(x[i], (uint8_t)(0x11 * (i + 1)) | 1, 16);
}

/* Load xmm0-15 from load, stop with a raw kill(getpid(), SIGSTOP) (no
 * other code runs with the loaded values), and once resumed store
 * xmm0-15 into store: what the tracer's writes at that stop did. */
static UNUSED void xmm_round_trip(xmm_t load, xmm_t store)
{
	long pid = getpid(), nr = SYS_kill;
	__asm__ volatile(
		"movdqu 0(%[l]), %%xmm0\n\t"   "movdqu 16(%[l]), %%xmm1\n\t"
		"movdqu 32(%[l]), %%xmm2\n\t"  "movdqu 48(%[l]), %%xmm3\n\t"
		"movdqu 64(%[l]), %%xmm4\n\t"  "movdqu 80(%[l]), %%xmm5\n\t"
		"movdqu 96(%[l]), %%xmm6\n\t"  "movdqu 112(%[l]), %%xmm7\n\t"
		"movdqu 128(%[l]), %%xmm8\n\t" "movdqu 144(%[l]), %%xmm9\n\t"
		"movdqu 160(%[l]), %%xmm10\n\t" "movdqu 176(%[l]), %%xmm11\n\t"
		"movdqu 192(%[l]), %%xmm12\n\t" "movdqu 208(%[l]), %%xmm13\n\t"
		"movdqu 224(%[l]), %%xmm14\n\t" "movdqu 240(%[l]), %%xmm15\n\t"
		"syscall\n\t"
		"movdqu %%xmm0, 0(%[s])\n\t"   "movdqu %%xmm1, 16(%[s])\n\t"
		"movdqu %%xmm2, 32(%[s])\n\t"  "movdqu %%xmm3, 48(%[s])\n\t"
		"movdqu %%xmm4, 64(%[s])\n\t"  "movdqu %%xmm5, 80(%[s])\n\t"
		"movdqu %%xmm6, 96(%[s])\n\t"  "movdqu %%xmm7, 112(%[s])\n\t"
		"movdqu %%xmm8, 128(%[s])\n\t" "movdqu %%xmm9, 144(%[s])\n\t"
		"movdqu %%xmm10, 160(%[s])\n\t" "movdqu %%xmm11, 176(%[s])\n\t"
		"movdqu %%xmm12, 192(%[s])\n\t" "movdqu %%xmm13, 208(%[s])\n\t"
		"movdqu %%xmm14, 224(%[s])\n\t" "movdqu %%xmm15, 240(%[s])\n\t"
		: "+a"(nr)
		: [l] "r"(load), [s] "r"(store), "D"(pid), "S"((long)SIGSTOP)
		: "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
		  "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
		  "xmm14", "xmm15");
}

/* Each register of after against before: k kept, 0 zeroed, ? else. */
static UNUSED const char *xmm_fate(xmm_t before, xmm_t after)
{
	static char out[17];
	static const uint8_t zero[16];
	for (int i = 0; i < 16; i++)
		out[i] = !memcmp(before[i], after[i], 16) ? 'k' :
			 !memcmp(after[i], zero, 16) ? '0' : '?';
	out[16] = 0;
	return out;
}

/* ---------------------------------------------------------------------
 * i386 syscalls from 64-bit code (int 0x80), and memory below 4 GiB.
 */

#define I386_GETPID 20
#define I386_PTRACE 26
#define I386_NANOSLEEP 162
#define I386_SET_THREAD_AREA 243
#define I386_PTRACE_GETFPXREGS 18
#define I386_PTRACE_SETFPXREGS 19

/* int 0x80: number in eax, arguments in ebx, ecx, edx, esi; returns eax
 * sign-extended (the i386 ABI returns 32 bits). Older kernels clobber
 * r8-r11 on int 0x80 return. */
static UNUSED long int80_4(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	uint64_t ret = nr;
	__asm__ volatile("int $0x80"
			 : "+a"(ret)
			 : "b"(a0), "c"(a1), "d"(a2), "S"(a3)
			 : "r8", "r9", "r10", "r11", "memory");
	return (int32_t)(uint32_t)ret;
}

static UNUSED long int80(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	return int80_4(nr, a0, a1, a2, 0);
}

static int int80_probe_fd = -1;

static void int80_faulted(int sig)
{
	(void)sig;
	note_to(int80_probe_fd, "int80-faulted");
	_exit(125);
}

/* Whether int 0x80 works from this 64-bit task: an i386 getpid answers
 * the pid. Without IA32 emulation the instruction faults; the fault is
 * caught (noted "int80-faulted", exit 125) so the kernel logs nothing. */
static UNUSED int int80_works(struct notes *status)
{
	struct sigaction caught = { .sa_handler = int80_faulted }, old;
	int had_old, works;
	int80_probe_fd = status->tx;
	had_old = sigaction(SIGSEGV, &caught, &old) == 0;
	works = int80(I386_GETPID, 0, 0, 0) == getpid();
	if (had_old)
		sigaction(SIGSEGV, &old, NULL);
	if (!works)
		note_to(status->tx, "int80-broken");
	return works;
}

#define NO_INT80 "int 0x80 from a 64-bit task does not work: IA32 emulation is not built in " \
		 "(CONFIG_IA32_EMULATION) or is off (ia32_emulation=false)"

static UNUSED int probe_child(void *arg)
{
	return int80_works(arg) ? 0 : 125;
}

/* Skip (kernel lacks) unless int 0x80 works: probed in a child, since
 * without IA32 emulation the instruction faults. */
static UNUSED void require_int80(void)
{
	struct notes n = notes_new();
	pid_t pid = spawn(probe_child, &n);
	if (strcmp(wait_exit(pid), "exit 0"))
		skip_lacks(NO_INT80);
}

/* Whether a subject's notes say it found no int 0x80. */
static UNUSED int said_no_int80(const char *notes)
{
	return !strncmp(notes, "int80", 5) || strstr(notes, ",int80");
}

/* len bytes of fresh memory below 4 GiB (MAP_32BIT). */
static UNUSED uint8_t *low_mem(size_t len)
{
	return (uint8_t *)SETUP(mmap(NULL, len, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0));
}
