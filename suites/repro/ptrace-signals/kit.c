/*
 * ptrace-signals: what the twins of this area share (suites/src/kit/trace.rs,
 * task.rs, sig.rs and the tracer's side of suites/src/ptrace_signals.rs):
 * a traced subject, the tracer's log of its stops, notes the subject
 * leaves, and subject threads that park, exit alone or exit the group.
 */
#include <pthread.h>

/* The handler of sig::Disposition::Handled: notes "handler SIGUSR1
 * code=SI_USER" to notes_fd. */
static int notes_fd = -1;

static UNUSED void noting_handler(int sig, siginfo_t *info, void *ctx)
{
	char note[128];
	(void)ctx;
	int n = snprintf(note, sizeof(note), "handler %s code=%s", signame(sig),
			 code_name(info->si_signo, info->si_code));
	if (sig == SIGSYS && info->si_code == 1)
		snprintf(note + n, sizeof(note) - n, " errno=0x%x syscall=%d", info->si_errno,
			 info->si_syscall);
	note_to(notes_fd, note);
	if (sig == SIGSEGV)
		_exit(42);
}

/* sigaction(sig) with the noting handler, SA_SIGINFO; -1 on failure. */
static UNUSED int install_noting_handler(int sig, int fd)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	notes_fd = fd;
	sa.sa_sigaction = noting_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

/* ---------------------------------------------------------------------
 * A traced subject (kit::trace::Tracee::spawn).
 */

enum attach { ATTACH_TRACEME, ATTACH_ATTACH, ATTACH_SEIZE };

struct subject_start { enum attach how; struct gate go; int (*body)(void *); void *arg; };

static int traced_subject(void *p)
{
	struct subject_start *s = p;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (s->how == ATTACH_TRACEME) {
		SETUP(ptrace(PTRACE_TRACEME, 0, 0, 0));
		SETUP(raise(SIGSTOP));
	} else {
		gate_wait(&s->go);
	}
	return s->body(s->arg);
}

/* Fork a subject traced by us with options | PTRACE_O_EXITKILL; body(arg)
 * runs once the tracer is attached and the subject runs again. */
static UNUSED pid_t tracee_spawn(enum attach how, long options, int (*body)(void *), void *arg)
{
	struct subject_start s = { how, gate_new(), body, arg };
	pid_t pid = spawn(traced_subject, &s);
	options |= PTRACE_O_EXITKILL;
	if (how == ATTACH_SEIZE) {
		SETUP(ptrace(PTRACE_SEIZE, pid, 0, options));
	} else {
		int status;
		if (how == ATTACH_ATTACH)
			SETUP(ptrace(PTRACE_ATTACH, pid, 0, 0));
		status = wait_status(pid);
		if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP || status >> 16) {
			errno = EINVAL;
			setup_failed("subject did not stop for the tracer");
		}
		SETUP(ptrace(PTRACE_SETOPTIONS, pid, 0, options));
		SETUP(ptrace(PTRACE_CONT, pid, 0, 0));
	}
	gate_open(&s.go);
	return pid;
}

/* PTRACE_CONT delivering sig (0: none); the ptrace() result. */
static UNUSED long tracee_cont(pid_t pid, int sig)
{
	return ptrace(PTRACE_CONT, pid, 0, (long)sig);
}

/* The signal a plain signal-delivery/group stop carries (nix's
 * WaitStatus::Stopped), 0 for event and syscall stops. */
static UNUSED int stop_signal(int status)
{
	if (!WIFSTOPPED(status) || (status >> 16) != 0 || WSTOPSIG(status) == (SIGTRAP | 0x80))
		return 0;
	return WSTOPSIG(status);
}

/* A stop as the tracer logs it: EXIT stops carry PTRACE_GETEVENTMSG. */
static UNUSED const char *seen(pid_t pid, int status)
{
	static char buf[64];
	unsigned long msg;
	if (!is_event(status, PTRACE_EVENT_EXIT))
		return status_text(status);
	if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) < 0)
		snprintf(buf, sizeof(buf), "event EXIT msg=%s", errno_name(errno));
	else
		snprintf(buf, sizeof(buf), "event EXIT msg=0x%lx", msg);
	return buf;
}

/* The next state change of any task of ours (__WALL). */
static UNUSED int wait_any(pid_t *pid)
{
	int status;
	pid_t p;
	while ((p = waitpid(-1, &status, __WALL)) < 0)
		if (errno != EINTR)
			setup_failed("waitpid");
	*pid = p;
	return status;
}

/* ---------------------------------------------------------------------
 * A trail: one task's stops and the tracer's acts, joined by " -> ".
 */

static char trail[4096];

static UNUSED void trail_push(const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(trail);
	if (n)
		n += snprintf(trail + n, sizeof(trail) - n, " -> ");
	va_start(ap, fmt);
	vsnprintf(trail + n, sizeof(trail) - n, fmt, ap);
	va_end(ap);
}

/* Wait for the next stop of pid and log it. */
static UNUSED int trail_next(pid_t pid)
{
	int status = wait_status(pid);
	trail_push("%s", seen(pid, status));
	return status;
}

/* The next state change of pid if one comes within two seconds, else 0. */
static UNUSED int next_change_within_2s(pid_t pid, int *status)
{
	for (int ms = 0; ms < 2000; ms++) {
		pid_t p = waitpid(pid, status, __WALL | WNOHANG);
		if (p == pid)
			return 1;
		if (p < 0 && errno != EINTR)
			setup_failed("waitpid(WNOHANG)");
		usleep(1000);
	}
	return 0;
}

/* Resume through the remaining stops (delivering the signal of a
 * signal-delivery stop) and log them and the end. With pass_fleeting, a
 * syscall-stop the task is seen moving on from within two seconds is
 * passed over, neither logged nor resumed (see sigkill-ends-stop.c). */
static UNUSED void trail_resume(pid_t pid, int pass_fleeting)
{
	int status = 0, moved_on = 0, pending = 0;
	for (int i = 0; i < 16; i++) {
		status = pending ? moved_on : wait_status(pid);
		pending = 0;
		if (pass_fleeting && WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80) &&
		    next_change_within_2s(pid, &moved_on)) {
			pending = 1;
			continue;
		}
		trail_push("%s", seen(pid, status));
		if (is_final(status))
			return;
		tracee_cont(pid, stop_signal(status));
	}
	trail_push("...");
}

static UNUSED void trail_finish(pid_t pid)
{
	trail_resume(pid, 0);
}

/* ---------------------------------------------------------------------
 * Follow: every task of a traced subject, one log per task, until the
 * leader is reaped ("main: a, b; thread: c").
 */

struct follow {
	pid_t leader;
	char main[2048], thread[2048];
	pid_t known[16];
	int nknown;
};

static UNUSED void follow_init(struct follow *f, pid_t leader)
{
	memset(f, 0, sizeof(*f));
	f->leader = leader;
	f->known[f->nknown++] = leader;
}

static UNUSED void follow_log(struct follow *f, pid_t pid, const char *fmt, ...)
{
	char *log = pid == f->leader ? f->main : f->thread;
	size_t n = strlen(log);
	va_list ap;
	if (n)
		n += snprintf(log + n, sizeof(f->main) - n, ", ");
	va_start(ap, fmt);
	vsnprintf(log + n, sizeof(f->main) - n, fmt, ap);
	va_end(ap);
}

/* What the tracer does after the hook has seen a stop. */
enum then { THEN_RESUME, THEN_DONE };

/* Answer every stop until the leader is reaped: each stop is logged
 * (the leader's CLONE stop and a new thread's first STOP excepted), then
 * at() sees it; THEN_RESUME resumes it delivering a stop's signal. */
static UNUSED void follow_run(struct follow *f, enum then (*at)(struct follow *, pid_t, int, void *),
			      void *arg)
{
	for (int i = 0; i < 64; i++) {
		pid_t pid;
		int status = wait_any(&pid), first = 1, setup;
		for (int k = 0; k < f->nknown; k++)
			if (f->known[k] == pid)
				first = 0;
		if (first && f->nknown < 16)
			f->known[f->nknown++] = pid;
		if (is_final(status)) {
			/* A thread's own status is left out: which group code a
			 * not yet reaped thread gets is a race. */
			if (pid == f->leader) {
				follow_log(f, pid, "%s", status_text(status));
				return;
			}
			continue;
		}
		setup = is_event(status, PTRACE_EVENT_CLONE) ||
			(first && is_event(status, PTRACE_EVENT_STOP));
		if (!setup)
			follow_log(f, pid, "%s", seen(pid, status));
		if (at(f, pid, status, arg) == THEN_RESUME)
			tracee_cont(pid, stop_signal(status));
	}
	follow_log(f, f->leader, "...");
}

static UNUSED const char *follow_text(struct follow *f)
{
	static char out[4200];
	if (f->thread[0])
		snprintf(out, sizeof(out), "main: %s; thread: %s", f->main, f->thread);
	else
		snprintf(out, sizeof(out), "main: %s", f->main);
	return out;
}

/* Answer the leader's CLONE stop and the new thread's first stop of a
 * seized subject that starts one thread; the new thread's id. */
static UNUSED pid_t settle_new_thread(pid_t leader)
{
	int clone_seen = 0;
	pid_t thread = 0;
	while (!clone_seen || !thread) {
		pid_t pid;
		int status = wait_any(&pid);
		if (is_final(status)) {
			errno = ECHILD;
			setup_failed("subject ended early");
		}
		if (is_event(status, PTRACE_EVENT_CLONE))
			clone_seen = 1;
		else if (pid != leader)
			thread = pid;
		SETUP(ptrace(PTRACE_CONT, pid, 0, 0));
	}
	return thread;
}

/* ---------------------------------------------------------------------
 * Subject threads.
 */

/* Block the calling thread until a signal ends it. */
static UNUSED _Noreturn void park(void)
{
	for (;;)
		pause();
}

static UNUSED void *parked_thread(void *arg)
{
	(void)arg;
	park();
}

static UNUSED void send_byte(int fd)
{
	if (write(fd, "r", 1) < 0) {
		/* the other side never goes on: the run times out */
	}
}

static UNUSED void await_byte(int fd)
{
	char b;
	while (read(fd, &b, 1) < 0 && errno == EINTR)
		;
}

/* A pthread running body(arg); the subject gives up if it cannot. */
static UNUSED pthread_t start_thread(void *(*body)(void *), long arg)
{
	pthread_t t;
	int rc = pthread_create(&t, NULL, body, (void *)arg);
	if (rc) {
		errno = rc;
		setup_failed("pthread_create");
	}
	return t;
}

/* ---------------------------------------------------------------------
 * How a traced subject comes to exit (ptrace_signals.rs Ending), shared
 * by event-exit and sigkill-at-event-exit.
 */

enum ending {
	END_EXIT,		/* exit_group(5) from the only thread */
	END_EXIT_UNTRACED,	/* the same without PTRACE_O_TRACEEXIT */
	END_THREAD_EXIT,	/* a second thread exit(6)s alone */
	END_GROUP_FROM_THREAD,	/* a second thread exit_group(7)s */
	END_GROUP_FROM_LEADER,	/* the leader exit_group(7)s, a thread parked */
	END_SIGKILL,		/* the tracer SIGKILLs the parked subject */
	END_SIGKILL_THREADS,	/* the same, a second thread parked too */
	END_FATAL_SIGNAL,	/* the tracer sends SIGTERM (default action) */
};

static UNUSED enum ending ending_of(const char *slug)
{
	static const char *const slugs[] = {
		"exit", "exit-without-traceexit", "thread-exit", "exit-group-from-thread",
		"exit-group-from-leader", "sigkill", "sigkill-multi-thread", "fatal-signal",
	};
	for (int i = 0; i < 8; i++)
		if (!strcmp(slug, slugs[i]))
			return i;
	errno = EINVAL;
	setup_failed("unknown ending");
	return END_EXIT;
}

static UNUSED int ending_threads(enum ending e)
{
	return e == END_THREAD_EXIT || e == END_GROUP_FROM_THREAD ||
	       e == END_GROUP_FROM_LEADER || e == END_SIGKILL_THREADS;
}

/* exit(6) of this thread alone; the group lives on. */
static void *self_exiting_thread(void *arg)
{
	(void)arg;
	syscall(SYS_exit, 6);
	return NULL;
}

/* exit_group(7) from a thread once the leader wrote to the pipe. */
static void *group_exiting_thread(void *fd)
{
	await_byte((int)(long)fd);
	syscall(SYS_exit_group, 7);
	return NULL;
}

/* Write to the pipe, then park. */
static void *announcing_thread(void *fd)
{
	send_byte((int)(long)fd);
	park();
}

/* A pipe between the subject's threads: "I am past this point". */
static void handshake(int fds[2])
{
	SETUP(pipe(fds));
}

/* The subject's code. The group exits wait until the other thread is
 * past its set-up stop: a SIGKILL that moves a task from a stop the
 * tracer read but has not answered into its EXIT stop would have the
 * tracer's answer resume the EXIT stop unseen. */
static int ending_subject(void *arg)
{
	enum ending e = *(enum ending *)arg;
	int fds[2];

	switch (e) {
	case END_EXIT:
	case END_EXIT_UNTRACED:
		return 5;
	case END_THREAD_EXIT:
		pthread_join(start_thread(self_exiting_thread, 0), NULL);
		return 0;
	case END_GROUP_FROM_THREAD:
		handshake(fds);
		start_thread(group_exiting_thread, fds[0]);
		send_byte(fds[1]);
		park();
	case END_GROUP_FROM_LEADER:
		handshake(fds);
		start_thread(announcing_thread, fds[1]);
		await_byte(fds[0]);
		syscall(SYS_exit_group, 7);
		return 0;
	case END_SIGKILL_THREADS:
		start_thread(parked_thread, 0);
		park();
	case END_SIGKILL:
	case END_FATAL_SIGNAL:
		park();
	}
	return 0;
}

/* Start the subject seized by us: TRACEEXIT (but for exit-without-
 * traceexit), TRACECLONE where it has threads; then the signal that
 * ends it, if the tracer sends one. */
static UNUSED pid_t ending_spawn(enum ending *e)
{
	long options = *e == END_EXIT_UNTRACED ? 0 : PTRACE_O_TRACEEXIT;
	pid_t pid;
	if (ending_threads(*e))
		options |= PTRACE_O_TRACECLONE;
	pid = tracee_spawn(ATTACH_SEIZE, options, ending_subject, e);
	if (*e == END_SIGKILL)
		SETUP(kill(pid, SIGKILL));
	else if (*e == END_FATAL_SIGNAL)
		SETUP(kill(pid, SIGTERM));
	return pid;
}
