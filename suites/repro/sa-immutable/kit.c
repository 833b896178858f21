/*
 * What the sa-immutable twins share (suites/src/kit/{task,sig,trace,
 * seccomp}.rs): notes a subject leaves in a pipe, the dispositions it sets
 * up before the kernel forces a signal on it, the forcing itself, a traced
 * subject and the tracer's answer to its first stop.
 */

/* RET_DATA of the trapping filter: the tracer reads it back as si_errno. */
#define TRAP_DATA 0x42
#define AUDIT_ARCH_I386_ 0x40000003
/* Exit status of a subject whose SIGSEGV handler ran. */
#define SEGV_HANDLER_EXIT 42

/* ---------------------------------------------------------------------
 * Notes: short lines a subject (or its signal handler) writes with one
 * write(2) each; the scenario reads them once the subject is gone.
 */

/* The fields of a raw x86_64 siginfo: the union starts at byte 16;
 * _sigsys is { call_addr, syscall, arch }. */
struct raw_siginfo { int signo, errno_, code; uint64_t addr; int syscall; uint32_t arch; };

static UNUSED struct raw_siginfo decode_siginfo(const void *raw)
{
	const unsigned char *b = raw;
	struct raw_siginfo si;
	memcpy(&si.signo, b, 4);
	memcpy(&si.errno_, b + 4, 4);
	memcpy(&si.code, b + 8, 4);
	memcpy(&si.addr, b + 16, 8);
	memcpy(&si.syscall, b + 24, 4);
	memcpy(&si.arch, b + 28, 4);
	return si;
}

/* `SIGSYS code=SYS_SECCOMP errno=0x42 syscall=110 arch=x86_64`,
 * `SIGSEGV code=SEGV_MAPERR addr=0x10`, `SIGTRAP code=SI_KERNEL`. */
static UNUSED void siginfo_text(const struct raw_siginfo *si, char *out, size_t len)
{
	int n = snprintf(out, len, "%s code=%s", signame(si->signo),
			 code_name(si->signo, si->code));
	if (si->signo == SIGSYS && si->code == 1) {
		char arch[16];
		if (si->arch == AUDIT_ARCH_X86_64)
			snprintf(arch, sizeof(arch), "x86_64");
		else if (si->arch == AUDIT_ARCH_I386_)
			snprintf(arch, sizeof(arch), "i386");
		else
			snprintf(arch, sizeof(arch), "%#x", si->arch);
		snprintf(out + n, len - n, " errno=0x%x syscall=%d arch=%s",
			 (unsigned)si->errno_, si->syscall, arch);
	} else if ((si->signo == SIGSEGV || si->signo == SIGBUS || si->signo == SIGILL ||
		    si->signo == SIGFPE) && si->code > 0) {
		snprintf(out + n, len - n, " addr=0x%llx", (unsigned long long)si->addr);
	}
}

/* ---------------------------------------------------------------------
 * Dispositions, and the handler that notes what it was handed.
 */

enum disposition { SIG_DFL_, SIG_IGN_, HANDLED, BLOCKED };

static UNUSED enum disposition disposition_of(const char *slug)
{
	if (!strcmp(slug, "sig-ign"))
		return SIG_IGN_;
	if (!strcmp(slug, "handler"))
		return HANDLED;
	if (!strcmp(slug, "blocked"))
		return BLOCKED;
	return SIG_DFL_; /* sig-dfl */
}

static volatile int notes_fd = -1;

/* `handler SIGSYS code=SYS_SECCOMP errno=0x42 syscall=110`; a SIGSEGV
 * handler leaves for good (returning would only fault again). */
static UNUSED void noting_handler(int sig, siginfo_t *info, void *ctx)
{
	char line[256];
	int n;
	(void)ctx;
	n = snprintf(line, sizeof(line), "handler %s", signame(sig));
	if (info) {
		struct raw_siginfo si = decode_siginfo(info);
		n += snprintf(line + n, sizeof(line) - n, " code=%s", code_name(si.signo, si.code));
		if (sig == SIGSYS && si.code == 1)
			snprintf(line + n, sizeof(line) - n, " errno=0x%x syscall=%d",
				 (unsigned)si.errno_, si.syscall);
	}
	note_to(notes_fd, line);
	if (sig == SIGSEGV)
		_exit(SEGV_HANDLER_EXIT);
}

/* sigaction(sig) with the noting handler (SA_SIGINFO, empty mask). */
static UNUSED int install_noting_handler(int sig, int fd)
{
	struct sigaction act;
	memset(&act, 0, sizeof(act));
	notes_fd = fd;
	act.sa_sigaction = noting_handler;
	act.sa_flags = SA_SIGINFO;
	sigemptyset(&act.sa_mask);
	return sigaction(sig, &act, NULL);
}

/* In a subject: set up what it does with sig before it is forced. */
static UNUSED void apply_disposition(enum disposition d, int sig, int fd)
{
	struct sigaction act;
	sigset_t set;
	char call[64];

	snprintf(call, sizeof(call), "sigaction(%s)", signame(sig));
	if (d == HANDLED || d == BLOCKED) {
		if (install_noting_handler(sig, fd) < 0)
			setup_failed(call);
	} else {
		memset(&act, 0, sizeof(act));
		act.sa_handler = d == SIG_IGN_ ? SIG_IGN : SIG_DFL;
		act.sa_flags = SA_SIGINFO;
		sigemptyset(&act.sa_mask);
		if (sigaction(sig, &act, NULL) < 0)
			setup_failed(call);
	}
	if (d == BLOCKED) {
		sigemptyset(&set);
		sigaddset(&set, sig);
		snprintf(call, sizeof(call), "sigprocmask(SIG_BLOCK, %s)", signame(sig));
		if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
			setup_failed(call);
	}
}

/* The handler now installed for sig: SIG_DFL, SIG_IGN or handler, or the
 * errno if even reading it is refused. */
static UNUSED const char *handler_name(int sig)
{
	struct sigaction old;
	if (sigaction(sig, NULL, &old) < 0)
		return errno_name(errno);
	if (old.sa_handler == SIG_DFL)
		return "SIG_DFL";
	if (old.sa_handler == SIG_IGN)
		return "SIG_IGN";
	return "handler";
}

/* Install the noting handler again: ok, or the errno (EINVAL where the
 * kernel made the action immutable). */
static UNUSED const char *try_install_handler(int sig, int fd)
{
	return install_noting_handler(sig, fd) < 0 ? errno_name(errno) : "ok";
}

static UNUSED int is_blocked(int sig)
{
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, sig);
}

/* ---------------------------------------------------------------------
 * seccomp: the kit's Filter::allow_all().on(nr, action): x86_64 only, no
 * x32 numbers, nr gets action, the rest is allowed.
 */

static UNUSED int one_rule_program(struct sock_filter *f, int nr, unsigned int action)
{
	struct filter_rule rule = RULE(nr, action);
	return filter_program(f, &rule, 1);
}

/* In a subject: NO_NEW_PRIVS, then the filter, or give up. */
static UNUSED void install_filter_or_exit(int nr, unsigned int action)
{
	struct sock_filter f[16];
	int len = one_rule_program(f, nr, action);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		setup_failed("prctl(PR_SET_NO_NEW_PRIVS)");
	if (install_filter(f, len, 0) < 0)
		setup_failed("seccomp(SET_MODE_FILTER)");
}

/* ---------------------------------------------------------------------
 * Forcing a signal on the subject.
 */

enum source { RET_TRAP, SEGV, INT3 };

static UNUSED enum source source_of(const char *slug)
{
	if (!strcmp(slug, "sigsegv"))
		return SEGV;
	if (!strcmp(slug, "int3"))
		return INT3;
	return RET_TRAP; /* ret-trap */
}

static UNUSED int source_signal(enum source s)
{
	return s == RET_TRAP ? SIGSYS : s == SEGV ? SIGSEGV : SIGTRAP;
}

/* The kernel call: make the kernel force the signal, then note that the
 * subject ran on (and, for the trap, what getppid returned). */
static UNUSED void fire(enum source s, int fd)
{
	char line[64];
	long ret;

	switch (s) {
	case RET_TRAP:
		/* SECCOMP_RET_TRAP on getppid(): SIGSYS, SYS_SECCOMP. */
		install_filter_or_exit(__NR_getppid, SECCOMP_RET_TRAP | TRAP_DATA);
		ret = syscall(__NR_getppid, 0);
		snprintf(line, sizeof(line), "after ret=%ld", ret < 0 ? -(long)errno : ret);
		note_to(fd, line);
		break;
	case SEGV: {
		/* A load from 0x10, never mapped (mmap_min_addr): SEGV_MAPERR. */
		unsigned long v, at = 0x10;
		asm volatile("mov (%1), %0" : "=r"(v) : "r"(at) : "memory");
		note_to(fd, "after");
		break;
	}
	case INT3:
		/* int3 traps and returns after the instruction: SI_KERNEL. */
		asm volatile("int3" ::: "memory");
		note_to(fd, "after");
		break;
	}
}

/* ---------------------------------------------------------------------
 * A traced subject (kit::trace::Tracee): PTRACE_TRACEME, PTRACE_ATTACH
 * or PTRACE_SEIZE; body runs once the tracer is attached. EXITKILL, so
 * no subject outlives its tracer.
 */

enum attach { TRACEME, ATTACH, SEIZE };

static UNUSED enum attach attach_of(const char *slug)
{
	if (!strcmp(slug, "attach"))
		return ATTACH;
	if (!strcmp(slug, "seize"))
		return SEIZE;
	return TRACEME;
}

struct subject { enum attach how; struct gate gate; void (*body)(void *); void *arg; };

static UNUSED int traced_subject(void *p)
{
	struct subject *s = p;
	if (s->how == TRACEME) {
		SETUP(ptrace(PTRACE_TRACEME, 0, 0, 0));
		SETUP(raise(SIGSTOP));
	} else {
		gate_wait(&s->gate);
	}
	s->body(s->arg);
	return 0;
}

static UNUSED pid_t tracee_spawn(enum attach how, long options, void (*body)(void *), void *arg)
{
	struct subject s = { how, gate_new(), body, arg };
	pid_t pid = spawn(traced_subject, &s);
	int status;

	options |= PTRACE_O_EXITKILL;
	if (how == SEIZE) {
		SETUP(ptrace(PTRACE_SEIZE, pid, 0, options));
	} else {
		if (how == ATTACH)
			SETUP(ptrace(PTRACE_ATTACH, pid, 0, 0));
		status = wait_status(pid);
		if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP || (status >> 16)) {
			instance_error("the subject's stop for the tracer");
		}
		SETUP(ptrace(PTRACE_SETOPTIONS, pid, 0, options));
		SETUP(ptrace(PTRACE_CONT, pid, 0, 0));
	}
	gate_open(&s.gate);
	return pid;
}

/* Resume through every remaining stop, passing signals on, until the
 * subject ends: the stops and the end joined by " -> ". */
static UNUSED void run_to_exit(pid_t pid, char *out, size_t len)
{
	size_t o = 0;
	int seen = 0;
	for (;;) {
		int status = wait_status(pid);
		o += snprintf(out + o, len - o, "%s%s", seen ? " -> " : "", status_text(status));
		seen++;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (is_signal_stop(status))
			ptrace(PTRACE_CONT, pid, 0, WSTOPSIG(status));
		else
			ptrace(PTRACE_CONT, pid, 0, 0);
		if (seen > 16) {
			snprintf(out + o, len - o, " -> ...");
			break;
		}
	}
}

/* Wait for the first stop (with its siginfo, as the tracer sees it); if
 * it is sig's delivery stop, resume with deliver (named label), then
 * follow the subject to its end. */
static UNUSED void answer_first_stop(pid_t pid, int sig, const char *label, int deliver,
				     char *out, size_t len)
{
	int status = wait_status(pid);
	char rest[1024];
	int o;

	if (is_signal_stop(status)) {
		unsigned char raw[128];
		if (ptrace(PTRACE_GETSIGINFO, pid, 0, raw) == 0) {
			struct raw_siginfo si = decode_siginfo(raw);
			char text[256];
			siginfo_text(&si, text, sizeof(text));
			o = snprintf(out, len, "stop %s", text);
		} else {
			o = snprintf(out, len, "%s (GETSIGINFO %s)", status_text(status),
				     errno_name(errno));
		}
	} else {
		o = snprintf(out, len, "%s", status_text(status));
	}
	if (WIFEXITED(status) || WIFSIGNALED(status))
		return;
	if (is_signal_stop(status) && WSTOPSIG(status) == sig) {
		SETUP(ptrace(PTRACE_CONT, pid, 0, deliver));
		run_to_exit(pid, rest, sizeof(rest));
		snprintf(out + o, len - o, " -> %s -> %s", label, rest);
	} else {
		SETUP(ptrace(PTRACE_CONT, pid, 0, 0));
		run_to_exit(pid, rest, sizeof(rest));
		snprintf(out + o, len - o, " -> %s", rest);
	}
}
