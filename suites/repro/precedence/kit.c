/*
 * precedence: a stack of seccomp filters on one probe, run in a fresh
 * subject, and what the probe met (suites/src/models/precedence.rs,
 * mod stack).
 *
 * kernel/seccomp.c seccomp_run_filters() runs every filter of the task,
 * newest first, and keeps a return value only if its action (the upper
 * 16 bits, compared as a signed number: ACTION_ONLY()) is strictly lower
 * than the best so far: the most restrictive action wins, and among
 * equal actions the newest filter's value (its data; for USER_NOTIF its
 * listener) is acted on.
 *
 * The probe is getppid(PROBE_ARG) called from a second thread of the
 * subject, so KILL_THREAD (the main thread joins it and exits 3) and
 * KILL_PROCESS (the whole subject dies of SIGSYS) differ. Each filter
 * answers only the probe and allows everything else. The subject has a
 * SIGSYS handler, a thread answering its listener (if one filter has
 * one) with NOTIF_REPLY, and the scenario traces the probe thread when a
 * filter returns TRACE.
 */
#include <pthread.h>
#include <sys/ioctl.h>

/* The probe's argument: the filters match it, so nothing else the subject
 * does meets them; a probe that runs returns the scenario's pid. */
#define PROBE_ARG 0x7ffffff0u
/* What the listener thread answers (above any pid_max). */
#define NOTIF_REPLY 0x4e4e4eL

/* The actions, strongest first, with the data the pair instances give
 * them so that a wrong winner would show by its data too. */
#define PAIR_TRAP (SECCOMP_RET_TRAP | 0x7)
#define PAIR_ERRNO (SECCOMP_RET_ERRNO | EPERM)
#define PAIR_TRACE (SECCOMP_RET_TRACE | 0x9)

struct layer {
	uint32_t ret;
	int listener;	/* installed with SECCOMP_FILTER_FLAG_NEW_LISTENER */
};

static UNUSED const char *action_slug(uint32_t ret)
{
	static char other[16];
	switch (ret & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_KILL_PROCESS: return "kill-process";
	case SECCOMP_RET_KILL_THREAD: return "kill-thread";
	case SECCOMP_RET_TRAP: return "trap";
	case SECCOMP_RET_ERRNO: return "errno";
	case SECCOMP_RET_USER_NOTIF: return "user-notif";
	case SECCOMP_RET_TRACE: return "trace";
	case SECCOMP_RET_LOG: return "log";
	case SECCOMP_RET_ALLOW: return "allow";
	}
	snprintf(other, sizeof(other), "0x%x", ret);
	return other;
}

/* An action as the ids spell it: a slug (with the pair data) or a hex
 * value the kernel does not know. */
static UNUSED uint32_t parse_action(const char *slug)
{
	static const struct { const char *slug; uint32_t ret; } known[] = {
		{ "kill-process", SECCOMP_RET_KILL_PROCESS },
		{ "kill-thread", SECCOMP_RET_KILL_THREAD },
		{ "trap", PAIR_TRAP }, { "errno", PAIR_ERRNO },
		{ "user-notif", SECCOMP_RET_USER_NOTIF },
		{ "trace", PAIR_TRACE }, { "log", SECCOMP_RET_LOG },
		{ "allow", SECCOMP_RET_ALLOW },
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(slug, known[i].slug))
			return known[i].ret;
	return strtoul(slug, NULL, 16);
}

/* A USER_NOTIF layer of a pair gets the listener: there is only one. */
static UNUSED struct layer pair_layer(uint32_t ret)
{
	return (struct layer){ ret, (ret & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF };
}

/* A stack in install order, oldest first: "trap(0x7),errno(1)". */
static UNUSED void describe_stack(const struct layer *l, int n, char *out, size_t size)
{
	size_t at = 0;
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		uint32_t action = l[i].ret & SECCOMP_RET_ACTION_FULL, d = l[i].ret & 0xffff;
		const char *sep = i ? "," : "";
		switch (action) {
		case SECCOMP_RET_KILL_PROCESS: case SECCOMP_RET_KILL_THREAD:
		case SECCOMP_RET_USER_NOTIF: case SECCOMP_RET_LOG: case SECCOMP_RET_ALLOW:
			if (d)
				at += snprintf(out + at, size - at, "%s%s(0x%x)", sep, action_slug(action), d);
			else
				at += snprintf(out + at, size - at, "%s%s", sep, action_slug(action));
			break;
		case SECCOMP_RET_TRAP: case SECCOMP_RET_TRACE:
			at += snprintf(out + at, size - at, "%s%s(0x%x)", sep, action_slug(action), d);
			break;
		case SECCOMP_RET_ERRNO:
			at += snprintf(out + at, size - at, "%serrno(%u)", sep, d);
			break;
		default:
			at += snprintf(out + at, size - at, "%s0x%x", sep, l[i].ret);
		}
		if (l[i].listener)
			at += snprintf(out + at, size - at, "+listener");
	}
}

/* ---------------------------------------------------------------------
 * Notes: short lines the subject (its threads, its SIGSYS handler) writes
 * with one write(2) each, read by the scenario once the subject is gone.
 */

static int notes_tx = -1;

static UNUSED void note(const char *s)
{
	char line[128];
	size_t n = strlen(s);
	if (n > sizeof(line) - 1)
		n = sizeof(line) - 1;
	memcpy(line, s, n);
	line[n] = '\n';
	if (write(notes_tx, line, n + 1) < 0)
		return;
}

/* Async-signal-safe: the handler formats its note by hand. */
static UNUSED void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char line[64] = "handler SIGSYS";
	(void)sig;
	(void)ctx;
	if (si && si->si_code == 1 /* SYS_SECCOMP */) {
		static const char hex[] = "0123456789abcdef";
		char digits[8];
		unsigned v = (unsigned)si->si_errno;
		int n = 0, at = strlen(line);
		memcpy(line + at, " errno=0x", 9);
		at += 9;
		do
			digits[n++] = hex[v & 0xf];
		while ((v >>= 4) && n < 8);
		while (n)
			line[at++] = digits[--n];
		line[at] = 0;
	}
	note(line);
}

/* The filter for one layer: the arch check, then getppid(PROBE_ARG)
 * gets ret (any value, known to the kernel or not), all else ALLOW. */
static UNUSED long install_layer(const struct layer *l)
{
	struct filter_rule rule = RULE_ARG0(__NR_getppid, PROBE_ARG, l->ret);
	return install_rules(&rule, 1, l->listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
}

/* The listener's thread: answer every notification with NOTIF_REPLY. */
static UNUSED void *answer_forever(void *arg)
{
	int fd = (int)(long)arg;
	for (;;) {
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;
		memset(&req, 0, sizeof(req));
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			return NULL;
		}
		note("notified");
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.val = NOTIF_REPLY;
		ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

struct probe_pipes { int tid_tx, go_rx; };

/* The probe thread: tell the scenario its tid, wait for "go", call the
 * probe and note its raw return value. glibc's syscall() passes anything
 * outside -4095..-1 through as a return value, so errno is cleared first
 * and read only for a -1 return. */
static UNUSED void *probe_thread(void *arg)
{
	struct probe_pipes *p = arg;
	pid_t tid = gettid();
	char go, line[48];
	long rc, r;

	if (write(p->tid_tx, &tid, sizeof(tid)) < 0)
		return NULL;
	while (read(p->go_rx, &go, 1) < 0 && errno == EINTR)
		;
	errno = 0;
	rc = syscall(__NR_getppid, (long)PROBE_ARG);
	r = rc == -1 ? -(long)errno : rc;
	snprintf(line, sizeof(line), "ret=%ld", r);
	note(line);
	return NULL;
}

/* The subject: filters (oldest first), a SIGSYS handler, the listener's
 * answering thread, the probe thread. Exits 3 once the probe thread is
 * gone. */
static UNUSED int stack_subject(const struct layer *layers, int n, struct probe_pipes *p)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	pthread_t probe, answerer;
	int listener = -1, rc;

	SETUP(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	sigemptyset(&sa.sa_mask);
	SETUP(sigaction(SIGSYS, &sa, NULL));
	for (int i = 0; i < n; i++) {
		long fd = install_layer(&layers[i]);
		if (fd < 0) {
			char line[64];
			snprintf(line, sizeof(line), "refused %d %s", i, errno_name(errno));
			note(line);
			return 0;
		}
		if (layers[i].listener)
			listener = fd;
	}
	if (listener >= 0) {
		/* Never joined: it blocks in RECV until the subject exits. */
		rc = pthread_create(&answerer, NULL, answer_forever, (void *)(long)listener);
		if (rc) {
			errno = rc;
			setup_failed("pthread_create(listener thread)");
		}
	}
	rc = pthread_create(&probe, NULL, probe_thread, p);
	if (rc) {
		errno = rc;
		setup_failed("pthread_create(probe thread)");
	}
	pthread_join(probe, NULL);
	note("joined");
	return 3;
}

/* Resume the traced probe thread through its stops until it is gone;
 * its PTRACE_EVENT_SECCOMP messages (the TRACE data) go to msgs. */
static UNUSED int follow(pid_t tid, uint16_t *msgs, int max)
{
	int n = 0;
	for (int i = 0; i < 32; i++) {
		int status = wait_status(tid);
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return n;
		if (WIFSTOPPED(status) && status >> 16 == PTRACE_EVENT_SECCOMP) {
			unsigned long msg = -1;
			ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg);
			if (n < max)
				msgs[n++] = (uint16_t)msg;
			ptrace(PTRACE_CONT, tid, 0, 0);
		} else if (WIFSTOPPED(status) && status >> 16 == 0) {
			ptrace(PTRACE_CONT, tid, 0, WSTOPSIG(status));
		} else {
			ptrace(PTRACE_CONT, tid, 0, 0);
		}
	}
	errno = ETIMEDOUT;
	setup_failed("the traced probe thread never ended");
	return n;
}

/* Every note the subject wrote, as one buffer of lines. */
static UNUSED void take_notes(int rx, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;
	while (got < size - 1 && (n = read(rx, buf + got, size - 1 - got)) > 0)
		got += n;
	buf[got] = 0;
}

/* The value after prefix on the first note line that starts with it. */
static UNUSED const char *note_value(const char *notes, const char *prefix)
{
	size_t len = strlen(prefix);
	for (const char *l = notes; *l; l = strchr(l, '\n') + 1) {
		if (!strncmp(l, prefix, len))
			return l + len;
		if (!strchr(l, '\n'))
			break;
	}
	return NULL;
}

static UNUSED int has_note(const char *notes, const char *line)
{
	const char *v = note_value(notes, line);
	return v && (*v == '\n' || *v == 0);
}

/* The errno as nix names it: by name if it knows the number, else the
 * number (RET_ERRNO data is capped at MAX_ERRNO, 4095). */
static UNUSED void errno_effect(int e, char *out, size_t size)
{
	const char *name = errno_name(e);
	if (!strcmp(name, "UnknownErrno"))
		snprintf(out, size, "errno=%d", e);
	else
		snprintf(out, size, "errno=%s", name);
}

/* What the probe met, from how the subject ended, its notes and the
 * tracer's messages (models/precedence.rs classify()). */
static UNUSED void classify(int status, const char *notes, const uint16_t *traces, int ntraces,
		     long ran, char *out, size_t size)
{
	const char *v, *end = status_text(status);
	long ret = 0;
	int have_ret = 0, have_trap = 0, notified, joined, quiet;
	unsigned trap = 0;

	if ((v = note_value(notes, "refused "))) {
		int i = atoi(v);
		const char *e = strchr(v, ' ');
		snprintf(out, size, "install #%d refused %.*s", i,
			 e ? (int)strcspn(e + 1, "\n") : 0, e ? e + 1 : "");
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == SUBJECT_EXIT) {
		errno = 0;
		setup_failed("the subject's setup");
	}
	if ((v = note_value(notes, "ret="))) {
		ret = strtol(v, NULL, 10);
		have_ret = 1;
	}
	if ((v = note_value(notes, "handler SIGSYS")) && (v = strstr(v, " errno=0x")) &&
	    v < strchr(note_value(notes, "handler SIGSYS"), '\n')) {
		trap = strtoul(v + 9, NULL, 16);
		have_trap = 1;
	}
	notified = has_note(notes, "notified");
	joined = has_note(notes, "joined");
	quiet = !have_trap && !ntraces && !notified;

	if (!strcmp(end, "killed SIGSYS") && !have_ret && !joined && quiet) {
		snprintf(out, size, "kill-process");
		return;
	}
	if (!strcmp(end, "exit 3") && !have_ret && joined && quiet) {
		snprintf(out, size, "kill-thread");
		return;
	}
	if (!strcmp(end, "exit 3") && have_ret && joined) {
		if (have_trap && !ntraces && !notified && ret == __NR_getppid) {
			snprintf(out, size, "trap data=0x%x", trap);
			return;
		}
		if (!have_trap && ntraces == 1 && !notified && ret == ran) {
			snprintf(out, size, "trace data=0x%x", traces[0]);
			return;
		}
		if (!have_trap && !ntraces && notified && ret == NOTIF_REPLY) {
			snprintf(out, size, "notified");
			return;
		}
		if (!have_trap && !ntraces && !notified) {
			if (ret == ran)
				snprintf(out, size, "ran");
			else if (ret < 0)
				errno_effect(-ret, out, size);
			else
				snprintf(out, size, "ret=%ld", ret);
			return;
		}
	}
	/* Anything else, as the raw facts. */
	size_t at = snprintf(out, size, "odd: %s notes=[", end);
	for (const char *l = notes; *l && at < size; ) {
		size_t len = strcspn(l, "\n");
		at += snprintf(out + at, size - at, "%s%.*s", l == notes ? "" : "|", (int)len, l);
		l += len + (l[len] == '\n');
	}
	if (at < size)
		at += snprintf(out + at, size - at, "] trace-msgs=[");
	for (int i = 0; i < ntraces && at < size; i++)
		at += snprintf(out + at, size - at, "%s%u", i ? ", " : "", traces[i]);
	if (at < size)
		snprintf(out + at, size - at, "]");
}

/* Put the stack on a fresh subject and probe it: the subject installs
 * the filters oldest first and starts the probe thread, which reports its
 * tid and waits; the scenario seizes it with PTRACE_O_TRACESECCOMP when a
 * filter returns TRACE, lets it go, and reads what happened. */
static UNUSED void run_stack(const struct layer *layers, int n, char *out, size_t size)
{
	int traced = 0, notes[2], tid_p[2], go_p[2], ntraces = 0, status;
	struct probe_pipes pp;
	uint16_t traces[32];
	char notebuf[4096];
	pid_t pid, tid;
	ssize_t got = 0, r;

	for (int i = 0; i < n; i++)
		if ((layers[i].ret & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_TRACE)
			traced = 1;
	SETUP(pipe2(notes, O_CLOEXEC));
	SETUP(fcntl(notes[0], F_SETFL, O_NONBLOCK));
	SETUP(pipe2(tid_p, O_CLOEXEC));
	SETUP(pipe2(go_p, O_CLOEXEC));
	pid = SETUP(fork());
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		notes_tx = notes[1];
		pp = (struct probe_pipes){ tid_p[1], go_p[0] };
		_exit(stack_subject(layers, n, &pp));
	}
	close(tid_p[1]);
	while (got < (ssize_t)sizeof(tid) &&
	       ((r = read(tid_p[0], (char *)&tid + got, sizeof(tid) - got)) > 0 ||
		(r < 0 && errno == EINTR)))
		got += r > 0 ? r : 0;
	if (got < (ssize_t)sizeof(tid)) {
		/* No probe thread: an install was refused or setup failed. */
		status = wait_status(pid);
		while (!WIFEXITED(status) && !WIFSIGNALED(status))
			status = wait_status(pid);
		take_notes(notes[0], notebuf, sizeof(notebuf));
		classify(status, notebuf, NULL, 0, pid, out, size);
		goto out;
	}
	if (traced && ptrace(PTRACE_SEIZE, tid, 0,
			     PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL) < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		wait_exit(pid);
		skip_forbidden("cannot trace the subject's thread to see RET_TRACE (PTRACE_SEIZE: %s: %s)",
			       errno_name(e), strerror(e));
	}
	if (write(go_p[1], "g", 1) < 0)
		setup_failed("write(go)");
	if (traced)
		ntraces = follow(tid, traces, 32);
	do
		status = wait_status(pid);
	while (!WIFEXITED(status) && !WIFSIGNALED(status));
	take_notes(notes[0], notebuf, sizeof(notebuf));
	classify(status, notebuf, traces, ntraces, getpid(), out, size);
out:
	close(notes[0]);
	close(notes[1]);
	close(tid_p[0]);
	close(go_p[0]);
	close(go_p[1]);
}

/* "actions -> effect" for one stack. */
static UNUSED void ran(const struct layer *layers, int n, char *out, size_t size)
{
	char stack[256], effect[1024];
	describe_stack(layers, n, stack, sizeof(stack));
	run_stack(layers, n, effect, sizeof(effect));
	snprintf(out, size, "%s -> %s", stack, effect);
}

/* Both install orders of a and b: "a,b -> effect; b,a -> effect". */
static UNUSED void both_orders(struct layer a, struct layer b)
{
	struct layer ab[2] = { a, b }, ba[2] = { b, a };
	char first[1400], second[1400];
	ran(ab, 2, first, sizeof(first));
	ran(ba, 2, second, sizeof(second));
	observe("%s; %s", first, second);
}

/* One filter returning ret: "action -> effect". */
static UNUSED void alone(uint32_t ret)
{
	struct layer l = { ret, 0 };
	char text[1400];
	ran(&l, 1, text, sizeof(text));
	observe("%s", text);
}
