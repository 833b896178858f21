/*
 * A tracer with PTRACE_O_TRACEFORK, TRACEVFORK or TRACECLONE is told of
 * each new task (PTRACE_EVENT_FORK, VFORK or CLONE, the new pid in the
 * event message) and traces it from birth: it starts in a SIGSTOP
 * signal-delivery stop, or a PTRACE_EVENT_STOP when the tracer seized
 * (ptrace(2); ptrace_init_task()). Without the options the new task runs
 * untraced. With TRACEEXEC the tracee stops at PTRACE_EVENT_EXEC before
 * the new program has run; without it a task that was not seized gets a
 * SIGTRAP after the exec.
 *
 * Params: {fork,vfork,thread,exec}/{seize,traceme}/{with,without}-options.
 * Observations are per task ("main: ...; new: ..."), each in its own
 * order: which of two tasks stops first is a race.
 */
#include <sched.h>

static pid_t tracer;
static int notes_tx, out_rx, out_tx;
static const char *makes;

/* In the new task: who traces it, as a note. */
static void note_tracer(void)
{
	char path[64], line[256], note[32] = "tracer=other";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", getpid(), gettid());
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		int pid;
		if (sscanf(line, "TracerPid: %d", &pid) == 1) {
			if (pid == 0)
				snprintf(note, sizeof(note), "tracer=none");
			else if (pid == tracer)
				snprintf(note, sizeof(note), "tracer=ours");
			break;
		}
	}
	if (f)
		fclose(f);
	strcat(note, "\n");
	if (write(notes_tx, note, strlen(note)) < 0)
		_exit(SUBJECT_EXIT);
}

static int forked_child(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	note_tracer();
	return 0;
}

static int vforked_child(void *arg)
{
	(void)arg;
	note_tracer();
	_exit(0);
}

static void *thread_child(void *arg)
{
	(void)arg;
	note_tracer();
	return NULL;
}

/* The traced task: make the new task (or exec the probe). */
static int traced_body(void *arg)
{
	static char stack[256 * 1024];
	sigset_t chld;
	pthread_t t;
	pid_t made;

	(void)arg;
	/* The child's exit would queue SIGCHLD here, and a traced task stops
	 * for every signal, ignored ones included: blocked, it leaves no stop
	 * whose place among the others would be a race. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	SETUP(sigprocmask(SIG_BLOCK, &chld, NULL));
	if (!strcmp(makes, "fork")) {
		made = spawn(forked_child, NULL);
	} else if (!strcmp(makes, "vfork")) {
		made = SETUP(clone(vforked_child, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD,
				   NULL));
	} else if (!strcmp(makes, "thread")) {
		errno = pthread_create(&t, NULL, thread_child, NULL);
		if (errno)
			setup_failed("pthread_create");
		return pthread_join(t, NULL) ? 124 : 0;
	} else {
		SETUP(dup2(out_tx, 1));
		return exec_probe(probe_exe(), "ids");
	}
	return ended_well(made) ? 0 : 123;
}

/* At the exec stop: has the new program written anything yet? */
static const char *output_so_far(void)
{
	char b[64];
	return read(out_rx, b, sizeof(b)) > 0 ? "output=some" : "output=none";
}

static void run_instance(const char *params)
{
	char kind[16], attach[16], follow[32], main_log[1024], new_log[1024], notes[256];
	char rest[1024];
	long options = 0;
	int notes_p[2], out_p[2], n;
	pid_t pid;

	if (sscanf(params, "%15[^/]/%15[^/]/%31s", kind, attach, follow) != 3) {
		errno = EINVAL;
		setup_failed("params");
	}
	makes = kind;
	if (geteuid() == 0)
		yama_lets_root_in();
	else
		yama_lets_unprivileged_in();
	if (!strcmp(follow, "with-options"))
		options = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEVFORKDONE |
			  PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC;
	tracer = getpid();
	SETUP(pipe2(notes_p, O_CLOEXEC));
	SETUP(fcntl(notes_p[0], F_SETFL, O_NONBLOCK));
	notes_tx = notes_p[1];
	SETUP(pipe2(out_p, O_CLOEXEC | O_NONBLOCK));
	out_rx = out_p[0], out_tx = out_p[1];

	pid = tracee_spawn(!strcmp(attach, "traceme"), options, traced_body, NULL);
	close(out_tx);
	follow_tracee(pid, output_so_far, main_log, new_log, sizeof(main_log));

	/* The notes, joined by ",", or "none". */
	read_all(notes_p[0], notes, sizeof(notes));
	n = strlen(notes);
	while (n > 0 && notes[n - 1] == '\n')
		notes[--n] = 0;
	for (char *c = notes; *c; c++)
		if (*c == '\n')
			*c = ',';
	if (!*notes)
		snprintf(notes, sizeof(notes), "none");
	if (!strcmp(makes, "exec")) {
		read_all(out_rx, rest, sizeof(rest));
		observe("main: %s; program ran=%s", main_log, strstr(rest, "euid=") ? "yes" : "no");
	} else if (!*new_log) {
		observe("main: %s; new: untraced, %s", main_log, notes);
	} else {
		observe("main: %s; new: %s, %s", main_log, new_log, notes);
	}
}
