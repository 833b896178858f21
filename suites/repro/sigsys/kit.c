/*
 * What the sigsys twins share (suites/src/sigsys.rs and suites/src/kit/
 * {task,seccomp,effects}.rs): notes a subject and its SIGSYS handlers
 * leave in a pipe, the kit's filters (x86_64 only, no x32 numbers, then
 * rules, first match wins), the effects pipe that shows which writes
 * really ran, and the subject that runs it all.
 */
#include <sys/ucontext.h>


/* ---------------------------------------------------------------------
 * Notes: one line per write(2), async-signal-safe; read once the
 * subject is gone.
 */

/* Where handlers write their notes (set before the subject is forked). */
static volatile int notes_fd = -1;

static UNUSED void note(const char *text)
{
	note_to(notes_fd, text);
}

/* Every line so far joined by ",", or "none". */
static UNUSED const char *pipe_summary(int rx, char *out, size_t len)
{
	char buf[2048];
	size_t got = 0, o = 0;
	ssize_t r;

	while (got < sizeof(buf) - 1 && (r = read(rx, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += r;
	buf[got] = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		o += snprintf(out + o, len - o, "%s%s", o ? "," : "", line);
	if (!o)
		snprintf(out, len, "none");
	return out;
}

/* ---------------------------------------------------------------------
 * Filters: Filter::allow_all() with .on(nr, action) and
 * .on_arg0(nr, arg0, action) rules.
 */


/* ---------------------------------------------------------------------
 * Handlers and what they are handed.
 */

typedef void (*handler_fn)(int, siginfo_t *, void *);

static UNUSED int install(int sig, handler_fn h, int flags, const sigset_t *mask)
{
	struct sigaction act;
	memset(&act, 0, sizeof(act));
	act.sa_sigaction = h;
	act.sa_flags = SA_SIGINFO | flags;
	act.sa_mask = *mask;
	return sigaction(sig, &act, NULL);
}

/* In a subject: install, or give up naming sigaction(SIG). */
static UNUSED void handle(int sig, handler_fn h, int flags, const sigset_t *mask)
{
	char call[32];
	snprintf(call, sizeof(call), "sigaction(%s)", signame(sig));
	if (install(sig, h, flags, mask) < 0)
		setup_failed(call);
}

static UNUSED const sigset_t *no_signals(void)
{
	static sigset_t none;
	sigemptyset(&none);
	return &none;
}

/* The x86_64 siginfo's SIGSYS fields: the union starts at byte 16;
 * _sigsys is { call_addr, syscall, arch }. */
struct sys_info { int signo, errno_, code; uint64_t call_addr; int syscall; uint32_t arch; };

static UNUSED struct sys_info sys_info(const siginfo_t *info)
{
	const unsigned char *b = (const void *)info;
	struct sys_info si;
	memcpy(&si.signo, b, 4);
	memcpy(&si.errno_, b + 4, 4);
	memcpy(&si.code, b + 8, 4);
	memcpy(&si.call_addr, b + 16, 8);
	memcpy(&si.syscall, b + 24, 4);
	memcpy(&si.arch, b + 28, 4);
	return si;
}

/* The saved general registers the handler returns into. */
static UNUSED greg_t *gregs(void *ctx)
{
	return ((ucontext_t *)ctx)->uc_mcontext.gregs;
}

/* `handler syscall=N data=0xD`: what most handlers note first. */
static UNUSED int note_trap(char *line, size_t len, const struct sys_info *si)
{
	return snprintf(line, len, "handler syscall=%d data=0x%x", si->syscall,
			(unsigned)si->errno_);
}

/* getppid() straight through syscall(2): the value or minus the errno. */
static UNUSED long getppid_raw(void)
{
	long rc = syscall(__NR_getppid, 0);
	return rc < 0 ? -(long)errno : rc;
}

/* ---------------------------------------------------------------------
 * Effects (kit::effects): one pipe behind several fd numbers; the call
 * under test is write(fd_i, "<letter i>\n", 2), and the pipe afterwards
 * says which writes reached the kernel.
 */

static UNUSED const char labels[][2] = { { 'A', '\n' }, { 'B', '\n' } };
enum { A, B };

struct effects { struct notes pipe; int fd[2]; };

static UNUSED struct effects effects_new(int n)
{
	struct effects e = { notes_new(), { -1, -1 } };
	for (int i = 0; i < n; i++)
		e.fd[i] = SETUP(fcntl(e.pipe.tx, F_DUPFD_CLOEXEC, 3));
	return e;
}

/* write(fd(i), label i, 2) through syscall(2): the value or -errno. */
static UNUSED long write_label(int fd, int i)
{
	long rc = syscall(__NR_write, fd, labels[i], 2);
	return rc < 0 ? -(long)errno : rc;
}

/* A syscall's result: the value, or the errno name in the error range. */
static UNUSED const char *result_text(long ret)
{
	static char buf[32];
	if (ret >= -4095 && ret < 0)
		return errno_name(-ret);
	snprintf(buf, sizeof(buf), "%ld", ret);
	return buf;
}

/* ---------------------------------------------------------------------
 * The subject: forked with handler notes going to a fresh pipe; its
 * end, then `notes=` and the notes in order.
 */

static UNUSED void run_subject(int (*body)(void *), void *arg, char *out, size_t len)
{
	struct notes notes = notes_new();
	char end[64], summary[1536];
	pid_t pid;

	notes_fd = notes.tx;
	pid = spawn(body, arg);
	snprintf(end, sizeof(end), "%s", wait_exit(pid));
	snprintf(out, len, "%s; notes=%s", end, pipe_summary(notes.rx, summary, sizeof(summary)));
}

/* ---------------------------------------------------------------------
 * Handlers several twins install.
 */

/* A SIGUSR1 handler that traps getppid() inside (second-trap installs
 * it with SIGSYS in its sa_mask). */
static UNUSED void usr1_handler(int sig, siginfo_t *info, void *ctx)
{
	(void)sig;
	(void)info;
	(void)ctx;
	note("handler SIGUSR1");
	getppid_raw();
	note("usr1-returned");
}

/* A handler for traps a sandbox refuses: notes the call and its first
 * argument, and makes a trapped seccomp()/rt_sigaction() fail with EPERM
 * (rax = -EPERM in the saved context). */
static UNUSED void refusing_handler(int sig, siginfo_t *info, void *ctx)
{
	struct sys_info si = sys_info(info);
	greg_t *g = gregs(ctx);
	long arg0 = g[REG_RDI];
	char line[160];
	int n, refused = 1;

	(void)sig;
	n = note_trap(line, sizeof(line), &si);
	if (si.syscall == __NR_seccomp) {
		unsigned int op = arg0;
		snprintf(line + n, sizeof(line) - n, " op=%s",
			 op == SECCOMP_SET_MODE_FILTER ? "SET_MODE_FILTER" :
			 op == SECCOMP_GET_ACTION_AVAIL ? "GET_ACTION_AVAIL" : "other");
	} else if (si.syscall == __NR_rt_sigaction) {
		int s = arg0;
		snprintf(line + n, sizeof(line) - n, " signal=%s",
			 s >= 1 && s <= SIGSYS ? signame(s) : "other");
	} else {
		refused = 0;
	}
	if (refused)
		g[REG_RAX] = -EPERM;
	note(line);
}
