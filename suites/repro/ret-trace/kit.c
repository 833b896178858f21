/*
 * ret-trace's kit (suites/src/ret_trace.rs and the parts of suites/src/kit
 * it uses): SECCOMP_RET_TRACE hands the syscall to a tracer that asked
 * for it with PTRACE_O_TRACESECCOMP.
 *
 * The traced syscall is write(A, "A\n", 2) into the effects pipe (as
 * kit::effects): the subject notes what it returned (ret=2, ret=ENOSYS),
 * and effects= lists the writes that really ran, so a skipped or denied
 * syscall shows effects=none. Tracer-side texts are the stops in order,
 * joined by " -> ", ending with the subject's exit.
 */
#include <sys/user.h>

/* ---------------------------------------------------------------------
 * Notes: short lines a subject leaves in a pipe (one write(2) each, so
 * async-signal-safe), read once the subject is gone (kit::task::Notes).
 */

static UNUSED void notes_say(struct notes *n, const char *note)
{
	note_to(n->tx, note);
}

/* ---------------------------------------------------------------------
 * Filters, as kit::seccomp::Filter compiles them: kill the process unless
 * the arch is x86_64 and the number has no __X32_SYSCALL_BIT, then the
 * rules in order (number, and first argument's low 32 bits where given),
 * then ALLOW.
 */

/* ---------------------------------------------------------------------
 * Subjects and tracees, as kit::task::spawn and kit::trace::Tracee.
 */

/* ---------------------------------------------------------------------
 * Effects (kit::effects): one pipe reachable through several fd numbers
 * (A, B, ...). The syscall under test is write(fd_i, "<letter i>\n", 2):
 * a filter tells the numbers apart by the first argument, a tracer can
 * redirect a write by pointing it at another number and label, and the
 * pipe afterwards says which writes reached the kernel.
 */

enum { A, B, C, D, E };

/* Static, so a forked subject has them at the same address as its tracer. */
static const char LABELS[6][2] = { "A\n", "B\n", "C\n", "D\n", "E\n", "F\n" };

struct effects { struct notes pipe; int n; int fds[6]; };

/* n fd numbers, all dups of the pipe's write end: whatever numbers the
 * kernel hands out from 3 on. */
static UNUSED struct effects effects_new(int n)
{
	struct effects e = { notes_new(), n, { 0 } };
	for (int i = 0; i < n; i++)
		e.fds[i] = SETUP(fcntl(e.pipe.tx, F_DUPFD_CLOEXEC, 3));
	return e;
}

/* write(fd(i), LABELS[i], 2) straight through syscall(2): the return
 * value, or minus the errno. */
static UNUSED long effects_write(struct effects *e, int i)
{
	long rc = syscall(__NR_write, e->fds[i], LABELS[i], 2);
	return rc < 0 ? -errno : rc;
}

/* Which label an fd number is (its letter), or the number. */
static UNUSED const char *effects_name(struct effects *e, unsigned long long fd)
{
	static char names[4][24];
	static int turn;
	char *out = names[turn++ % 4];
	for (int i = 0; i < e->n; i++)
		if ((unsigned long long)e->fds[i] == fd) {
			snprintf(out, sizeof(names[0]), "%c", LABELS[i][0]);
			return out;
		}
	snprintf(out, sizeof(names[0]), "%lld", (long long)fd);
	return out;
}

/* A syscall's result: the errno name in the error range, else the value. */
static UNUSED const char *result_text(long ret)
{
	static char texts[4][24];
	static int turn;
	char *out = texts[turn++ % 4];
	if (ret >= -4095 && ret < 0)
		return errno_name(-ret);
	snprintf(out, sizeof(texts[0]), "%ld", ret);
	return out;
}

/* ---------------------------------------------------------------------
 * The subject: install its filters, optionally stop so the tracer can
 * start from a known point, make the traced write, note its result.
 */

/* RET_DATA of the RET_TRACE rule on write(A). */
#define DATA 0x7

struct filter { struct filter_rule rules[4]; int n; };

struct traced {
	struct filter filters[2];
	int nfilters;
	int stop_first;
	struct effects *effects;
	struct notes *notes;
};

static UNUSED int traced_write(void *p)
{
	struct traced *t = p;
	char note[64];
	long ret, ppid;

	for (int i = 0; i < t->nfilters; i++)
		install_rules_or_exit(t->filters[i].rules, t->filters[i].n);
	if (t->stop_first && raise(SIGSTOP))
		setup_failed("raise(SIGSTOP)");
	ret = effects_write(t->effects, A);
	/* Only a redirect to getppid() can return our parent's pid (it is
	 * never 2, the write's result: pid 2 is kthreadd). */
	ppid = getppid();
	snprintf(note, sizeof(note), "ret=%s", ret == ppid ? "ppid" : result_text(ret));
	notes_say(t->notes, note);
	return 0;
}

/* One RET_TRACE(data) rule on write(A), or another action on it. */
static UNUSED struct traced one_rule(struct effects *e, struct notes *n, unsigned int ret)
{
	struct traced t = { .nfilters = 1, .effects = e, .notes = n };
	t.filters[0].rules[0] = (struct filter_rule){ __NR_write, 1, e->fds[A], ret };
	t.filters[0].n = 1;
	return t;
}

/* ---------------------------------------------------------------------
 * What the tracer reads.
 */

static UNUSED unsigned long event_msg(pid_t pid)
{
	unsigned long msg;
	return ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) < 0 ? (unsigned long)-1 : msg;
}

static const char *arch_name(unsigned int arch)
{
	static char num[16];
	if (arch == AUDIT_ARCH_X86_64)
		return "x86_64";
	if (arch == AUDIT_ARCH_I386)
		return "i386";
	snprintf(num, sizeof(num), "0x%x", arch);
	return num;
}

/* PTRACE_GETSIGINFO at a signal-delivery stop, decoded by the x86_64
 * siginfo layout (the union at byte 16; _sigsys is { call_addr, syscall,
 * arch }): "SIGSYS code=SYS_SECCOMP errno=0x7 syscall=1 arch=x86_64". */
static UNUSED const char *siginfo_text(pid_t pid, int sig)
{
	static char out[160];
	unsigned char raw[128];
	int signo, err, code, nr;
	unsigned int arch;
	unsigned long addr;

	if (ptrace(PTRACE_GETSIGINFO, pid, 0, raw) < 0) {
		snprintf(out, sizeof(out), "%s (%s: %s)", signame(sig), errno_name(errno),
			 strerror(errno));
		return out;
	}
	memcpy(&signo, raw, 4);
	memcpy(&err, raw + 4, 4);
	memcpy(&code, raw + 8, 4);
	memcpy(&addr, raw + 16, 8);
	memcpy(&nr, raw + 24, 4);
	memcpy(&arch, raw + 28, 4);
	snprintf(out, sizeof(out), "%s code=%s", signame(signo), code_name(signo, code));
	if (signo == SIGSYS && code == 1)
		snprintf(out + strlen(out), sizeof(out) - strlen(out),
			 " errno=0x%x syscall=%d arch=%s", (unsigned int)err, nr, arch_name(arch));
	else if ((signo == SIGSEGV || signo == SIGBUS || signo == SIGILL || signo == SIGFPE) &&
		 code > 0)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), " addr=0x%lx", addr);
	return out;
}

static const char *syscall_name(unsigned long long nr)
{
	static char num[24];
	if ((long long)nr == __NR_write)
		return "write";
	if ((long long)nr == __NR_getppid)
		return "getppid";
	snprintf(num, sizeof(num), "%lld", (long long)nr);
	return num;
}

/* PTRACE_GET_SYSCALL_INFO (5.3), as "seccomp(write,A,ret_data=0x7,
 * arch=x86_64)", "entry(write,A)", "exit(2)". */
static UNUSED const char *syscall_info_text(pid_t pid, struct effects *e)
{
	static char out[160];
	struct __ptrace_syscall_info info;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info) < 0)
		return errno_name(errno);
	switch (info.op) {
	case PTRACE_SYSCALL_INFO_SECCOMP:
		snprintf(out, sizeof(out), "seccomp(%s,%s,ret_data=0x%x,arch=%s)",
			 syscall_name(info.seccomp.nr), effects_name(e, info.seccomp.args[0]),
			 info.seccomp.ret_data, arch_name(info.arch));
		break;
	case PTRACE_SYSCALL_INFO_ENTRY:
		snprintf(out, sizeof(out), "entry(%s,%s)", syscall_name(info.entry.nr),
			 effects_name(e, info.entry.args[0]));
		break;
	case PTRACE_SYSCALL_INFO_EXIT:
		snprintf(out, sizeof(out), "exit(%s)", result_text(info.exit.rval));
		break;
	default:
		snprintf(out, sizeof(out), "op-%d", info.op);
	}
	return out;
}

/* Wait for the first seccomp stop; anything else first is an error. */
static UNUSED void seccomp_stop(pid_t pid)
{
	int status = wait_status(pid);
	if (!is_event(status, PTRACE_EVENT_SECCOMP))
		instance_error("expected the seccomp stop, got %s", status_text(status));
}

/*
 * Every stop after the tracer's decision, until the subject is gone: a
 * further seccomp stop with its message, a signal-delivery stop with its
 * siginfo (SIGSYS suppressed, so the subject can say what its syscall
 * returned), the end.
 */
static UNUSED void follow_rest(pid_t pid, char *log, size_t size)
{
	for (int i = 0; i < 16; i++) {
		int status = wait_status(pid);
		if (is_event(status, PTRACE_EVENT_SECCOMP)) {
			log_add(log, size, " -> ", "event SECCOMP msg=0x%lx", event_msg(pid));
			ptrace(PTRACE_CONT, pid, 0, 0);
		} else if (is_signal_stop(status)) {
			int sig = WSTOPSIG(status);
			log_add(log, size, " -> ", "stop %s", siginfo_text(pid, sig));
			if (sig == SIGSYS)
				log_add(log, size, " -> ", "suppress");
			ptrace(PTRACE_CONT, pid, 0, sig == SIGSYS ? 0 : sig);
		} else if (is_final(status)) {
			log_add(log, size, " -> ", "%s", status_text(status));
			return;
		} else {
			log_add(log, size, " -> ", "%s", status_text(status));
			ptrace(PTRACE_CONT, pid, 0, 0);
		}
	}
	log_add(log, size, " -> ", "...");
}
