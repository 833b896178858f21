/*
 * The reproducer's kit: what every kconform scenario twin in C builds on.
 * It mirrors suites/src/kit and harness/core's executor in plain C (libc
 * and the uapi headers only), so a twin prints the observation its Rust
 * scenario reports, word for word.
 *
 * A twin defines run_instance(params): set up, make the kernel call,
 * observe() what came of it. A setup step that fails goes through
 * SETUP()/setup_failed() and makes the run "setup failed" (exit 2),
 * never an observation. skip_lacks()/skip_forbidden() say the kernel or
 * the host lacks what the behaviour needs (exit 4, as kselftest's skip).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#define UNUSED __attribute__((unused))

/* Exit codes of the reproducer, as the file's header explains. */
#define REPRO_PASS 0
#define REPRO_FAIL 1
#define REPRO_SETUP 2
#define REPRO_SKIP 4
/* A subject that gave up on its setup leaves with this status; the
 * failure itself travels through the setup pipe. */
#define SUBJECT_EXIT 121

static void run_instance(const char *params);

/* ---------------------------------------------------------------------
 * Names, as the Rust scenarios print them.
 */

/* Every Linux errno by its name, as nix's Errno prints it (an alias,
 * such as EWOULDBLOCK, by the name it aliases). */
static const char *errno_name(int e)
{
	static const char *const names[] = {
		[EPERM] = "EPERM", [ENOENT] = "ENOENT", [ESRCH] = "ESRCH", [EINTR] = "EINTR",
		[EIO] = "EIO", [ENXIO] = "ENXIO", [E2BIG] = "E2BIG", [ENOEXEC] = "ENOEXEC",
		[EBADF] = "EBADF", [ECHILD] = "ECHILD", [EAGAIN] = "EAGAIN",
		[ENOMEM] = "ENOMEM", [EACCES] = "EACCES", [EFAULT] = "EFAULT",
		[ENOTBLK] = "ENOTBLK", [EBUSY] = "EBUSY", [EEXIST] = "EEXIST",
		[EXDEV] = "EXDEV", [ENODEV] = "ENODEV", [ENOTDIR] = "ENOTDIR",
		[EISDIR] = "EISDIR", [EINVAL] = "EINVAL", [ENFILE] = "ENFILE",
		[EMFILE] = "EMFILE", [ENOTTY] = "ENOTTY", [ETXTBSY] = "ETXTBSY",
		[EFBIG] = "EFBIG", [ENOSPC] = "ENOSPC", [ESPIPE] = "ESPIPE",
		[EROFS] = "EROFS", [EMLINK] = "EMLINK", [EPIPE] = "EPIPE", [EDOM] = "EDOM",
		[ERANGE] = "ERANGE", [EDEADLK] = "EDEADLK", [ENAMETOOLONG] = "ENAMETOOLONG",
		[ENOLCK] = "ENOLCK", [ENOSYS] = "ENOSYS", [ENOTEMPTY] = "ENOTEMPTY",
		[ELOOP] = "ELOOP", [ENOMSG] = "ENOMSG", [EIDRM] = "EIDRM",
		[ECHRNG] = "ECHRNG", [EL2NSYNC] = "EL2NSYNC", [EL3HLT] = "EL3HLT",
		[EL3RST] = "EL3RST", [ELNRNG] = "ELNRNG", [EUNATCH] = "EUNATCH",
		[ENOCSI] = "ENOCSI", [EL2HLT] = "EL2HLT", [EBADE] = "EBADE",
		[EBADR] = "EBADR", [EXFULL] = "EXFULL", [ENOANO] = "ENOANO",
		[EBADRQC] = "EBADRQC", [EBADSLT] = "EBADSLT", [EBFONT] = "EBFONT",
		[ENOSTR] = "ENOSTR", [ENODATA] = "ENODATA", [ETIME] = "ETIME",
		[ENOSR] = "ENOSR", [ENONET] = "ENONET", [ENOPKG] = "ENOPKG",
		[EREMOTE] = "EREMOTE", [ENOLINK] = "ENOLINK", [EADV] = "EADV",
		[ESRMNT] = "ESRMNT", [ECOMM] = "ECOMM", [EPROTO] = "EPROTO",
		[EMULTIHOP] = "EMULTIHOP", [EDOTDOT] = "EDOTDOT", [EBADMSG] = "EBADMSG",
		[EOVERFLOW] = "EOVERFLOW", [ENOTUNIQ] = "ENOTUNIQ", [EBADFD] = "EBADFD",
		[EREMCHG] = "EREMCHG", [ELIBACC] = "ELIBACC", [ELIBBAD] = "ELIBBAD",
		[ELIBSCN] = "ELIBSCN", [ELIBMAX] = "ELIBMAX", [ELIBEXEC] = "ELIBEXEC",
		[EILSEQ] = "EILSEQ", [ERESTART] = "ERESTART", [ESTRPIPE] = "ESTRPIPE",
		[EUSERS] = "EUSERS", [ENOTSOCK] = "ENOTSOCK",
		[EDESTADDRREQ] = "EDESTADDRREQ", [EMSGSIZE] = "EMSGSIZE",
		[EPROTOTYPE] = "EPROTOTYPE", [ENOPROTOOPT] = "ENOPROTOOPT",
		[EPROTONOSUPPORT] = "EPROTONOSUPPORT", [ESOCKTNOSUPPORT] = "ESOCKTNOSUPPORT",
		[EOPNOTSUPP] = "EOPNOTSUPP", [EPFNOSUPPORT] = "EPFNOSUPPORT",
		[EAFNOSUPPORT] = "EAFNOSUPPORT", [EADDRINUSE] = "EADDRINUSE",
		[EADDRNOTAVAIL] = "EADDRNOTAVAIL", [ENETDOWN] = "ENETDOWN",
		[ENETUNREACH] = "ENETUNREACH", [ENETRESET] = "ENETRESET",
		[ECONNABORTED] = "ECONNABORTED", [ECONNRESET] = "ECONNRESET",
		[ENOBUFS] = "ENOBUFS", [EISCONN] = "EISCONN", [ENOTCONN] = "ENOTCONN",
		[ESHUTDOWN] = "ESHUTDOWN", [ETOOMANYREFS] = "ETOOMANYREFS",
		[ETIMEDOUT] = "ETIMEDOUT", [ECONNREFUSED] = "ECONNREFUSED",
		[EHOSTDOWN] = "EHOSTDOWN", [EHOSTUNREACH] = "EHOSTUNREACH",
		[EALREADY] = "EALREADY", [EINPROGRESS] = "EINPROGRESS", [ESTALE] = "ESTALE",
		[EUCLEAN] = "EUCLEAN", [ENOTNAM] = "ENOTNAM", [ENAVAIL] = "ENAVAIL",
		[EISNAM] = "EISNAM", [EREMOTEIO] = "EREMOTEIO", [EDQUOT] = "EDQUOT",
		[ENOMEDIUM] = "ENOMEDIUM", [EMEDIUMTYPE] = "EMEDIUMTYPE",
		[ECANCELED] = "ECANCELED", [ENOKEY] = "ENOKEY",
		[EKEYEXPIRED] = "EKEYEXPIRED", [EKEYREVOKED] = "EKEYREVOKED",
		[EKEYREJECTED] = "EKEYREJECTED", [EOWNERDEAD] = "EOWNERDEAD",
		[ENOTRECOVERABLE] = "ENOTRECOVERABLE", [ERFKILL] = "ERFKILL",
		[EHWPOISON] = "EHWPOISON",
	};
	if (e > 0 && e < (int)(sizeof(names) / sizeof(names[0])) && names[e])
		return names[e];
	return "UnknownErrno";
}

/* "ok", or the errno name of a call that returned -1. */
static UNUSED const char *result_name(long rc)
{
	return rc < 0 ? errno_name(errno) : "ok";
}

static const char *signame(int sig)
{
	static const char *const names[] = {
		[SIGHUP] = "SIGHUP", [SIGINT] = "SIGINT", [SIGQUIT] = "SIGQUIT",
		[SIGILL] = "SIGILL", [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT",
		[SIGBUS] = "SIGBUS", [SIGFPE] = "SIGFPE", [SIGKILL] = "SIGKILL",
		[SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
		[SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM",
		[SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD",
		[SIGCONT] = "SIGCONT", [SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP",
		[SIGTTIN] = "SIGTTIN", [SIGTTOU] = "SIGTTOU", [SIGURG] = "SIGURG",
		[SIGXCPU] = "SIGXCPU", [SIGXFSZ] = "SIGXFSZ",
		[SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
		[SIGWINCH] = "SIGWINCH", [SIGIO] = "SIGIO", [SIGPWR] = "SIGPWR",
		[SIGSYS] = "SIGSYS",
	};
	static char other[16];
	if (sig > 0 && sig < (int)(sizeof(names) / sizeof(names[0])) && names[sig])
		return names[sig];
	snprintf(other, sizeof(other), "sig%d", sig);
	return other;
}

/* si_code as the kernel's headers name it, per signal (the Rust kit's
 * trace::code_name); a number where it names none. */
static UNUSED const char *code_name(int signo, int code)
{
	static char other[16];
	switch (code) {
	case 0: return "SI_USER";
	case 0x80: return "SI_KERNEL";
	case -6: return "SI_TKILL";
	case -1: return "SI_QUEUE";
	}
	if (signo == SIGSYS && code == 1) return "SYS_SECCOMP";
	if (signo == SIGSEGV && code == 1) return "SEGV_MAPERR";
	if (signo == SIGSEGV && code == 2) return "SEGV_ACCERR";
	if (signo == SIGTRAP && code == 1) return "TRAP_BRKPT";
	if (signo == SIGTRAP && code == 2) return "TRAP_TRACE";
	if (signo == SIGILL && code == 2) return "ILL_ILLOPN";
	snprintf(other, sizeof(other), "%d", code);
	return other;
}

static const char *event_name(int ev)
{
	switch (ev) {
	case PTRACE_EVENT_FORK: return "FORK";
	case PTRACE_EVENT_VFORK: return "VFORK";
	case PTRACE_EVENT_CLONE: return "CLONE";
	case PTRACE_EVENT_EXEC: return "EXEC";
	case PTRACE_EVENT_VFORK_DONE: return "VFORK_DONE";
	case PTRACE_EVENT_EXIT: return "EXIT";
	case PTRACE_EVENT_SECCOMP: return "SECCOMP";
	case 128: return "STOP";
	default: return "UNKNOWN";
	}
}

/* A wait status in the words of the Rust kit (task::describe and
 * waits::status_text): "exit 7", "killed SIGSYS core", "stop SIGUSR1",
 * "event STOP SIGSTOP", "event CLONE", "syscall-stop", "continued".
 * The text lives in one static buffer: copy it before the next call. */
static const char *status_text(int status)
{
	static char buf[64];
	if (WIFEXITED(status)) {
		snprintf(buf, sizeof(buf), "exit %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		snprintf(buf, sizeof(buf), "killed %s%s", signame(WTERMSIG(status)),
			 WCOREDUMP(status) ? " core" : "");
	} else if (WIFSTOPPED(status)) {
		int sig = (status >> 8) & 0xff, event = (status >> 16) & 0xff;
		if (sig == (SIGTRAP | 0x80))
			snprintf(buf, sizeof(buf), "syscall-stop");
		else if (event == 0)
			snprintf(buf, sizeof(buf), "stop %s", signame(sig));
		else if (event == 128)
			snprintf(buf, sizeof(buf), "event STOP %s", signame(sig));
		else
			snprintf(buf, sizeof(buf), "event %s", event_name(event));
	} else if (WIFCONTINUED(status)) {
		snprintf(buf, sizeof(buf), "continued");
	} else {
		snprintf(buf, sizeof(buf), "status %#x", status);
	}
	return buf;
}

/* ---------------------------------------------------------------------
 * Observation, skip, and setup failure.
 */

static char observation[4096];
static int result_fd = -1, setup_fd = -1;

/* The observation, printf-style; the last call wins. */
static UNUSED void observe(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(observation, sizeof(observation), fmt, ap);
	va_end(ap);
}

static void leave_with(char kind, const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "%c", kind);
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (result_fd >= 0 && write(result_fd, line, strlen(line)) < 0)
		_exit(SUBJECT_EXIT);
	_exit(0);
}

/* The kernel lacks what the behaviour needs (config, feature, version). */
static UNUSED void skip_lacks(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	leave_with('L', fmt, ap);
}

/* The host forbids it (a sysctl kconform will not change natively). */
static UNUSED void skip_forbidden(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	leave_with('F', fmt, ap);
}

/* A setup step failed, in any process of the instance: say which call,
 * and leave. The run then reports "setup failed", not an observation. */
static void setup_failed(const char *call)
{
	char line[512];
	int e = errno;
	snprintf(line, sizeof(line), "setup: %s failed: %s: %s\n", call,
		 errno_name(e), strerror(e));
	if (setup_fd >= 0 && write(setup_fd, line, strlen(line)) < 0)
		_exit(SUBJECT_EXIT);
	_exit(SUBJECT_EXIT);
}

/* Something went wrong that is neither the kernel's behaviour nor a
 * failed call (a subject that never reported, say): the run is an error,
 * as a scenario's Stop::error is, and exits 2 with the message. */
static UNUSED void instance_error(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n = snprintf(line, sizeof(line), "error: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	strncat(line, "\n", sizeof(line) - strlen(line) - 1);
	if (setup_fd >= 0 && write(setup_fd, line, strlen(line)) < 0)
		_exit(SUBJECT_EXIT);
	_exit(SUBJECT_EXIT);
}

/* A call whose failure (-1, or MAP_FAILED) is our setup's, not the
 * kernel's behaviour: SETUP(pipe(fds)). */
#define SETUP(call) ({                                         \
	long __rc = (long)(call);                              \
	if (__rc == -1)                                        \
		setup_failed(#call);                           \
	__rc;                                                  \
})

/* ---------------------------------------------------------------------
 * Subjects, gates and waits.
 */

/* fork(), the child running fn(arg) and exiting with what it returns;
 * it dies with its parent, as the Rust kit's subjects do. */
static UNUSED pid_t spawn(int (*fn)(void *), void *arg)
{
	pid_t pid = SETUP(fork());
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(fn(arg));
	}
	return pid;
}

/* waitpid() with __WALL, EINTR retried; the raw status. */
static UNUSED int wait_status(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, __WALL) < 0)
		if (errno != EINTR)
			setup_failed("waitpid");
	return status;
}

/* Wait until pid has exited, passing over stops; how it ended. */
static UNUSED const char *wait_exit(pid_t pid)
{
	for (;;) {
		int status = wait_status(pid);
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return status_text(status);
	}
}

/* Read fd to its end (or size - 1 bytes) into out, NUL-terminated. */
static UNUSED void read_all(int fd, char *out, size_t size)
{
	size_t got = 0;
	ssize_t n;
	while (got < size - 1 && (n = read(fd, out + got, size - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += n;
	}
	out[got] = 0;
}

/* A one-shot "go" from the scenario to a subject blocked on it. */
struct gate { int rx, tx; };

static UNUSED struct gate gate_new(void)
{
	int fds[2];
	SETUP(pipe2(fds, O_CLOEXEC));
	return (struct gate){ fds[0], fds[1] };
}

static UNUSED void gate_wait(struct gate *g)
{
	char b;
	while (read(g->rx, &b, 1) < 0 && errno == EINTR)
		;
}

static UNUSED void gate_open(struct gate *g)
{
	if (write(g->tx, "g", 1) < 0)
		setup_failed("write(gate)");
}

/* Notes: lines a subject (or its signal handler) leaves for the
 * scenario through a pipe, each with one write(2), so async-signal-safe
 * (the Rust kit's effects notes). */
struct notes { int rx, tx; };

static UNUSED struct notes notes_new(void)
{
	int fds[2];
	SETUP(pipe2(fds, O_CLOEXEC));
	SETUP(fcntl(fds[0], F_SETFL, O_NONBLOCK));
	return (struct notes){ fds[0], fds[1] };
}

/* One note and its newline, cut to 255 bytes as the Rust kit cuts it. */
static UNUSED void note_to(int fd, const char *text)
{
	char line[256];
	size_t n = strlen(text);
	if (n > sizeof(line) - 1)
		n = sizeof(line) - 1;
	memcpy(line, text, n);
	line[n++] = '\n';
	if (fd >= 0 && write(fd, line, n) < 0)
		return; /* the note is lost; the observation will say so */
}

/* Every note so far, joined by ",", or "" when there is none. Four
 * buffers in turn, so two results can stand in one observe(). */
static UNUSED const char *notes_joined(struct notes *n)
{
	static char outs[4][4096];
	static int turn;
	char *out = outs[turn++ % 4], raw[4096];
	size_t got = 0, o = 0;
	ssize_t r;

	while (got < sizeof(raw) - 1 && (r = read(n->rx, raw + got, sizeof(raw) - 1 - got)) > 0)
		got += r;
	raw[got] = 0;
	out[0] = 0;
	for (char *line = strtok(raw, "\n"); line; line = strtok(NULL, "\n"))
		o += snprintf(out + o, sizeof(outs[0]) - o, "%s%s", o ? "," : "", line);
	return out;
}

/* The notes as observation text: joined by ",", or "none". */
static UNUSED const char *notes_summary(struct notes *n)
{
	const char *s = notes_joined(n);
	return s[0] ? s : "none";
}

/* A log of entries joined by a separator, as far as it fits. */
/* s appended to buf (of size bytes, o used), as far as it fits; the new
 * length. */
static UNUSED size_t append_at(char *buf, size_t size, size_t o, const char *s)
{
	size_t n = strlen(s);
	if (o + n > size - 1)
		n = size - 1 - o;
	memcpy(buf + o, s, n);
	buf[o + n] = 0;
	return o + n;
}

/* Append to a log: entries joined by sep. */
static UNUSED void log_add(char *log, size_t size, const char *sep, const char *fmt, ...)
{
	size_t n = strlen(log);
	va_list ap;
	if (n && n + strlen(sep) < size) {
		strcpy(log + n, sep);
		n += strlen(sep);
	}
	va_start(ap, fmt);
	vsnprintf(log + n, size - n, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------------
 * Tracing: seized subjects and wait statuses as nix decodes them.
 */

struct seized { struct gate go; int (*fn)(void *); void *arg; };

static int seized_body(void *p)
{
	struct seized *s = p;
	gate_wait(&s->go);
	return s->fn(s->arg);
}

/* A subject the caller traces with PTRACE_SEIZE (options plus EXITKILL,
 * so no subject outlives its tracer); fn runs once the tracer is attached. */
static UNUSED pid_t tracee_seize(long options, int (*fn)(void *), void *arg)
{
	struct seized s = { gate_new(), fn, arg };
	pid_t pid = spawn(seized_body, &s);
	if (ptrace(PTRACE_SEIZE, pid, 0, options | PTRACE_O_EXITKILL))
		setup_failed("PTRACE_SEIZE");
	gate_open(&s.go);
	close(s.go.rx);
	close(s.go.tx);
	return pid;
}

/* A wait status as nix decodes it. */
static UNUSED int is_event(int status, int event)
{
	return WIFSTOPPED(status) && WSTOPSIG(status) != (SIGTRAP | 0x80) &&
	       (status >> 16) == event;
}

static UNUSED int is_signal_stop(int status)
{
	return WIFSTOPPED(status) && WSTOPSIG(status) != (SIGTRAP | 0x80) &&
	       (status >> 16) == 0;
}

static UNUSED int is_syscall_stop(int status)
{
	return WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80);
}

static UNUSED int is_final(int status)
{
	return WIFEXITED(status) || WIFSIGNALED(status);
}

/* Drop to uid/gid in this process (a forked subject). */
static UNUSED void become(uid_t uid)
{
	SETUP(setgroups(0, NULL));
	SETUP(setresgid(uid, uid, uid));
	SETUP(setresuid(uid, uid, uid));
}

#define NOBODY 65534

/* ---------------------------------------------------------------------
 * seccomp: filters as kselftest's seccomp_bpf.c writes them.
 */

#define ARCH_NR AUDIT_ARCH_X86_64
#define SYSCALL_NR offsetof(struct seccomp_data, nr)
#define SYSCALL_ARCH offsetof(struct seccomp_data, arch)

static UNUSED long seccomp(unsigned int op, unsigned int flags, void *args)
{
	return syscall(__NR_seccomp, op, flags, args);
}

/* Install filter (len instructions) with flags; NO_NEW_PRIVS first
 * unless the caller is privileged and asks not to. Returns seccomp()'s
 * result (a listener fd with NEW_LISTENER); failure is the caller's to
 * judge (it may be the behaviour under test). */
static UNUSED long install_filter(struct sock_filter *filter, unsigned short len,
				  unsigned int flags)
{
	struct sock_fprog prog = { .len = len, .filter = filter };
	return seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static UNUSED void no_new_privs(void)
{
	SETUP(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
}

/* A filter as the Rust kit's seccomp::Filter compiles it: kill the
 * process unless the arch is x86_64 and the number has no
 * __X32_SYSCALL_BIT, then the rules in order (number, and the first
 * argument's low 32 bits where given), then ALLOW. Installed after
 * NO_NEW_PRIVS; a refusal is our setup's. */
struct filter_rule { long nr; int has_arg0; unsigned int arg0; unsigned int ret; };

#define RULE(nr_, ret_) { .nr = (nr_), .ret = (ret_) }
#define RULE_ARG0(nr_, a0, ret_) { .nr = (nr_), .has_arg0 = 1, .arg0 = (a0), .ret = (ret_) }

/* The program into f (room for 7 + 5 * n); its length. */
static UNUSED unsigned short filter_program(struct sock_filter *f, const struct filter_rule *r, int n)
{
	unsigned short i = 0;
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_ARCH);
	f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_NR, 1, 0);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR);
	f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	for (int k = 0; k < n; k++) {
		f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR);
		f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (unsigned int)r[k].nr, 0, r[k].has_arg0 ? 3 : 1);
		if (r[k].has_arg0) {
			f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
							      offsetof(struct seccomp_data, args));
			f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, r[k].arg0, 0, 1);
		}
		f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, r[k].ret);
	}
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	return i;
}

/* The filter of these rules, installed with flags: seccomp()'s result,
 * the caller's to judge (a refusal may be the behaviour under test). */
static UNUSED long install_rules(const struct filter_rule *r, int n, unsigned int flags)
{
	struct sock_filter f[64];
	return install_filter(f, filter_program(f, r, n), flags);
}

/* In a subject: NO_NEW_PRIVS, then the filter of these rules. */
static UNUSED void install_rules_or_exit(const struct filter_rule *r, int n)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		setup_failed("prctl(PR_SET_NO_NEW_PRIVS)");
	if (install_rules(r, n, 0) < 0)
		setup_failed("seccomp(SET_MODE_FILTER)");
}

/* ---------------------------------------------------------------------
 * The kernel's version, as kconform reads it: uname's release, or on a
 * Debian kernel the package version /proc/version names (its release
 * names an ABI: 6.1.0-41-cloud-amd64 is 6.1.158).
 */

struct kver { unsigned major, minor, patch, rc; /* rc 0: a release */ };

static int kver_parse(const char *s, struct kver *v)
{
	char *end;
	memset(v, 0, sizeof(*v));
	v->major = strtoul(s, &end, 10);
	if (end == s || *end != '.')
		return -1;
	s = end + 1;
	v->minor = strtoul(s, &end, 10);
	if (end == s)
		return -1;
	if (*end == '.' && end[1] >= '0' && end[1] <= '9')
		v->patch = strtoul(end + 1, &end, 10);
	if (strncmp(end, "-rc", 3) == 0)
		v->rc = strtoul(end + 3, NULL, 10);
	return 0;
}

static UNUSED int kver_cmp(const struct kver *a, const struct kver *b)
{
	unsigned ka[4] = { a->major, a->minor, a->patch, a->rc ? a->rc : UINT_MAX };
	unsigned kb[4] = { b->major, b->minor, b->patch, b->rc ? b->rc : UINT_MAX };
	for (int i = 0; i < 4; i++)
		if (ka[i] != kb[i])
			return ka[i] < kb[i] ? -1 : 1;
	return 0;
}

static int running_kernel(struct kver *v)
{
	struct utsname u;
	struct kver rel, deb;
	char pv[512] = "", *w;
	int have_rel, have_deb = 0;
	FILE *f;

	uname(&u);
	have_rel = kver_parse(u.release, &rel) == 0;
	f = fopen("/proc/version", "r");
	if (f) {
		if (!fgets(pv, sizeof(pv), f))
			pv[0] = 0;
		fclose(f);
	}
	w = strstr(pv, " Debian ");
	if (w)
		have_deb = kver_parse(w + strlen(" Debian "), &deb) == 0;
	if (have_rel && have_deb && rel.major == deb.major && rel.minor == deb.minor)
		*v = deb;
	else if (have_rel)
		*v = rel;
	else if (have_deb)
		*v = deb;
	else
		return -1;
	return 0;
}

/* ---------------------------------------------------------------------
 * Probe modes: when a twin execs this very file's binary as a setuid
 * copy, it answers as the kconform binary would (suites/src/probe.rs).
 */

#define MODPROBE_PROBE_NAME "kconform-modprobe-probe"

static UNUSED const char *probe_exe(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n < 0)
		setup_failed("readlink(/proc/self/exe)");
	path[n] = 0;
	return path;
}

static void write_line(const char *line)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s\n", line);
	if (write(1, buf, strlen(buf)) < 0)
		_exit(2);
}

static void probe_ids(void)
{
	char line[64];
	snprintf(line, sizeof(line), "euid=%u ruid=%u", geteuid(), getuid());
	write_line(line);
}

/* What the calling thread runs with, as the probe's `state` line
 * (probe.rs state_line): ids, NO_NEW_PRIVS, seccomp mode and filter
 * count, dumpable, AT_SECURE, and what the marker syscalls a filter
 * handed down may deny returned. */
static UNUSED void state_line(char *line, size_t size)
{
	char status[4096], filters[32] = "?", *p;
	int fd = open("/proc/thread-self/status", O_RDONLY), n = 0;
	static const struct { const char *name; long nr; } markers[] = {
		{ "getppid", __NR_getppid }, { "getsid", __NR_getsid },
	};

	if (fd >= 0) {
		n = read(fd, status, sizeof(status) - 1);
		close(fd);
	}
	status[n > 0 ? n : 0] = 0;
	p = strstr(status, "Seccomp_filters:");
	if (p)
		sscanf(p + strlen("Seccomp_filters:"), " %31s", filters);
	snprintf(line, size,
		 "euid=%u ruid=%u nnp=%d seccomp=%d filters=%s dumpable=%d secure=%lu",
		 geteuid(), getuid(), prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
		 prctl(PR_GET_SECCOMP, 0, 0, 0, 0), filters,
		 prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), getauxval(AT_SECURE));
	for (int i = 0; i < 2; i++) {
		long rc = syscall(markers[i].nr, 0);
		snprintf(line + strlen(line), size - strlen(line), " %s=%s", markers[i].name,
			 rc < 0 ? errno_name(errno) : "ok");
	}
}

static void probe_state(void)
{
	char line[512];
	state_line(line, sizeof(line));
	write_line(line);
}

static void probe_park(void)
{
	char b[64];
	while (read(0, b, sizeof(b)) > 0)
		;
	exit(0);
}

static void dispatch_if_probe(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (strcmp(base, MODPROBE_PROBE_NAME) == 0) {
		/* Mark that the kernel ran us, linger, fail ("no such module"). */
		char marker[PATH_MAX];
		int len = base - argv[0];
		snprintf(marker, sizeof(marker), "%.*shelper-%d", len ? len : 2,
			 len ? argv[0] : "./", getpid());
		close(open(marker, O_CREAT | O_WRONLY, 0644));
		usleep(20000);
		exit(1);
	}
	if (argc < 3 || strcmp(argv[1], "__probe") != 0) {
		if (geteuid() != getuid() || getegid() != getgid()) {
			fprintf(stderr, "refusing to run set-user-ID or set-group-ID; only `__probe` modes may\n");
			exit(2);
		}
		return;
	}
	if (!strcmp(argv[2], "ids")) {
		probe_ids();
		exit(0);
	} else if (!strcmp(argv[2], "park")) {
		probe_ids();
		probe_park();
	} else if (!strcmp(argv[2], "state")) {
		probe_state();
		exit(0);
	} else if (!strcmp(argv[2], "state-park")) {
		probe_state();
		probe_park();
	}
	fprintf(stderr, "unknown probe mode (takes `__probe ids`, `park`, `state` or `state-park`)\n");
	exit(2);
}

/* ---------------------------------------------------------------------
 * Needs: what kconform checks before it runs an instance.
 */

static int seccomp_errno(unsigned int op, unsigned int flags, void *arg)
{
	return seccomp(op, flags, arg) < 0 ? errno : 0;
}

/* A facility the kernel may lack, by kconform's name (model.rs Feature). */
static UNUSED void need_feature(const char *name)
{
	int have = 0;
	if (!strcmp(name, "SeccompFilter")) {
		have = seccomp_errno(SECCOMP_SET_MODE_FILTER, 0, NULL) == EFAULT;
	} else if (!strcmp(name, "TsyncEsrch")) {
		have = seccomp_errno(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
				     NULL) == EFAULT;
	} else if (!strcmp(name, "RetKillProcess")) {
		unsigned int action = SECCOMP_RET_KILL_PROCESS;
		have = seccomp_errno(SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
	} else if (!strcmp(name, "NewListener")) {
		unsigned short sizes[3];
		have = seccomp_errno(SECCOMP_GET_NOTIF_SIZES, 0, sizes) == 0;
	} else if (!strcmp(name, "SeccompFiltersInStatus")) {
		char status[4096];
		int fd = open("/proc/self/status", O_RDONLY), n = 0;
		if (fd >= 0) {
			n = read(fd, status, sizeof(status) - 1);
			close(fd);
		}
		status[n > 0 ? n : 0] = 0;
		have = strstr(status, "\nSeccomp_filters:") != NULL;
	} else if (!strcmp(name, "UsermodeHelper")) {
		have = access("/proc/sys/kernel/modprobe", F_OK) == 0;
	}
	if (!have)
		skip_lacks("kernel lacks %s", name);
}

/* Whether to write what need_sysctl() finds wrong: --set-sysctls, for a
 * throwaway VM, as kconform's guest does. */
static int set_sysctls;

static void sysctl_value(const char *file, char *now, size_t len)
{
	int fd = open(file, O_RDONLY), n = -1;
	if (fd >= 0) {
		n = read(fd, now, len - 1);
		close(fd);
	}
	now[n > 0 ? n : 0] = 0;
	now[strcspn(now, "\n")] = 0;
}

/* /proc/sys/PATH must read one of values. Like kconform on a running
 * system, the reproducer never changes it unless told (--set-sysctls). */
static UNUSED void need_sysctl(const char *path, const char *const *values)
{
	char file[256], now[64] = "";

	snprintf(file, sizeof(file), "/proc/sys/%s", path);
	if (access(file, F_OK) != 0)
		return;
	sysctl_value(file, now, sizeof(now));
	for (int i = 0; values[i]; i++)
		if (!strcmp(now, values[i]))
			return;
	if (set_sysctls) {
		/* A write refused (a Yama scope cannot be lowered) shows below. */
		int fd = open(file, O_WRONLY);
		if (fd >= 0) {
			ssize_t UNUSED w = write(fd, values[0], strlen(values[0]));
			close(fd);
		}
		sysctl_value(file, now, sizeof(now));
		if (!strcmp(now, values[0]))
			return;
	}
	char name[256];
	snprintf(name, sizeof(name), "%s", path);
	for (char *c = name; *c; c++)
		if (*c == '/')
			*c = '.';
	skip_forbidden("%s is %s here and this instance needs %s (sysctl -w %s=%s, or run with "
		       "--set-sysctls in a throwaway VM)", name, now, values[0], name, values[0]);
}

/* A sysctl file as a number, or -1 where it is missing or empty. */
static UNUSED int sysctl_int(const char *file)
{
	char now[32] = "";
	sysctl_value(file, now, sizeof(now));
	return now[0] ? atoi(now) : -1;
}

/* fs.suid_dumpable, what a credential change or a setuid exec resets
 * dumpability to; skip where it is 1 (no reset to see). */
static UNUSED int suid_dumpable_resets(void)
{
	int v = sysctl_int("/proc/sys/fs/suid_dumpable");
	if (v == 1)
		skip_forbidden("fs.suid_dumpable=1 keeps tasks dumpable across credential changes; run with 0 or 2");
	if (v < 0)
		skip_lacks("no /proc/sys/fs/suid_dumpable");
	return v;
}

/* kernel.yama.ptrace_scope, or -1 where Yama is not running. */
static UNUSED int yama_scope(void)
{
	return sysctl_int("/proc/sys/kernel/yama/ptrace_scope");
}

/* Skip unless Yama lets an unprivileged task reach a non-descendant that
 * declared PR_SET_PTRACER_ANY (scope 0 or 1, or no Yama). */
static UNUSED void yama_lets_unprivileged_in(void)
{
	int scope = yama_scope();
	if (scope >= 2)
		skip_forbidden("Yama ptrace_scope=%d refuses unprivileged tracers whatever the target allows; run with kernel.yama.ptrace_scope=0 or 1",
			       scope);
}

/* Skip where Yama refuses even CAP_SYS_PTRACE (scope 3). */
static UNUSED void yama_lets_root_in(void)
{
	int scope = yama_scope();
	if (scope >= 3)
		skip_forbidden("Yama ptrace_scope=%d refuses every tracer, root included", scope);
}

/* ---------------------------------------------------------------------
 * The run: the instance in its own process and process group, as
 * kconform's executor runs it; everything it started is killed after.
 */

struct expected {
	const char *text;	/* what to expect on this kernel */
	const char *because;	/* why, where a kernel range applies */
	const char *fixed;	/* for a known bug: the fixed behaviour */
	const char *fix;	/* for a known bug: the fix commit (and release) */
};

static void instance_main(const char *params, void (*check_needs)(void), int rx, int tx,
			  int srx, int stx)
{
	static const int dfl[] = { SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGSYS,
				   SIGTRAP, SIGSEGV, SIGBUS };
	sigset_t none;
	struct rlimit core;

	close(rx);
	close(srx);
	result_fd = tx;
	setup_fd = stx;
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (size_t i = 0; i < sizeof(dfl) / sizeof(dfl[0]); i++)
		signal(dfl[i], SIG_DFL);
	/* No core files where the reproducer runs; scenarios about the core
	 * flag set their own limit (RLIMIT_CORE=1 stops file and pipe dumps). */
	if (getrlimit(RLIMIT_CORE, &core) == 0) {
		core.rlim_cur = core.rlim_max >= 1 ? 1 : 0;
		setrlimit(RLIMIT_CORE, &core);
	}
	check_needs();
	run_instance(params);
	if (write(tx, "O", 1) < 0 || write(tx, observation, strlen(observation)) < 0)
		_exit(SUBJECT_EXIT);
	_exit(0);
}

static int repro_main(int argc, char **argv, const char *id, const char *params,
		      int needs_root, unsigned timeout_s, void (*check_needs)(void),
		      struct expected (*expected_for)(const struct kver *))
{
	int out[2], setup[2];
	char buf[4096 + 1], failure[1024] = "";
	size_t got = 0;
	pid_t child;
	struct kver v;
	int have_v;
	struct expected exp;
	char vtext[48] = "unknown";

	dispatch_if_probe(argc, argv);
	set_sysctls = argc > 1 && !strcmp(argv[1], "--set-sysctls");
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# %s\n", id);
	if (needs_root && geteuid() != 0) {
		printf("skip: needs root (run it as root)\n");
		return REPRO_SKIP;
	}
	if (pipe2(out, O_CLOEXEC) || pipe2(setup, O_CLOEXEC | O_NONBLOCK)) {
		printf("setup: pipe2 failed: %s\n", strerror(errno));
		return REPRO_SETUP;
	}
	child = fork();
	if (child < 0) {
		printf("setup: fork failed: %s\n", strerror(errno));
		return REPRO_SETUP;
	}
	if (child == 0)
		instance_main(params, check_needs, out[0], out[1], setup[0], setup[1]);
	close(out[1]);
	close(setup[1]);
	setpgid(child, child);
	struct pollfd p = { .fd = out[0], .events = POLLIN };
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int timed_out = 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = (long)timeout_s * 1000 - ((now.tv_sec - start.tv_sec) * 1000 +
						     (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		if (poll(&p, 1, left) <= 0)
			continue;
		ssize_t n = read(out[0], buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += n;
	}
	buf[got] = 0;
	kill(-child, SIGKILL);
	int status;
	waitpid(child, &status, 0);
	ssize_t n = read(setup[0], failure, sizeof(failure) - 1);
	if (n > 0) {
		failure[n] = 0;
		failure[strcspn(failure, "\n")] = 0;
		printf("%s\n", failure);
		return REPRO_SETUP;
	}
	if (timed_out) {
		printf("error: timed out after %u s; the instance's processes were killed\n", timeout_s);
		return REPRO_SETUP;
	}
	if (got == 0) {
		printf("error: the instance ended before it reported (%s)\n", status_text(status));
		return REPRO_SETUP;
	}
	if (buf[0] == 'L' || buf[0] == 'F') {
		printf("skip: %s%s\n", buf[0] == 'F' ? "the host forbids it: " : "", buf + 1);
		return REPRO_SKIP;
	}
	have_v = running_kernel(&v) == 0;
	if (have_v)
		snprintf(vtext, sizeof(vtext), v.rc ? "%u.%u.%u-rc%u" : "%u.%u.%u", v.major,
			 v.minor, v.patch, v.rc);
	exp = expected_for(have_v ? &v : NULL);
	printf("observed: %s\n", buf + 1);
	if (exp.fixed) {
		printf("expected: %s (kernel %s; %s)\n", exp.fixed, vtext, exp.because);
		if (strcmp(buf + 1, exp.fixed) == 0) {
			printf("verdict: pass\n");
			return REPRO_PASS;
		}
		if (strcmp(buf + 1, exp.text) == 0) {
			printf("verdict: known-bug (this kernel lacks %s)\n", exp.fix);
			return REPRO_FAIL;
		}
	} else {
		printf("expected: %s (kernel %s%s%s)\n", exp.text, vtext,
		       exp.because ? "; " : "", exp.because ? exp.because : "");
		if (strcmp(buf + 1, exp.text) == 0) {
			printf("verdict: pass\n");
			return REPRO_PASS;
		}
	}
	printf("verdict: fail\n");
	return REPRO_FAIL;
}
