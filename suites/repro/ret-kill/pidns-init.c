/*
 * A pid-namespace init (pid 1 of a new namespace, traced by its parent
 * outside it) that SECCOMP_RET_KILL kills: the kernel protects an init
 * from signals it has not asked for (SIGNAL_UNKILLABLE: a SIGSYS it
 * raises itself is ignored), but not from a forced kill; it dies with
 * SIGSYS without running again, the tracer sees only its EXIT stop, and
 * its death takes the namespace down: zap_pid_ns_processes() SIGKILLs the
 * init's child (pid_namespaces(7)).
 */

struct init { enum kill kill; struct notes notes; int ready[2]; };

/* Make our next child the init of a new pid namespace: with a user
 * namespace of its own, so it works unprivileged where the kernel allows
 * that, else (root) a pid namespace alone. */
static void enter_new_pid_namespace(void)
{
	int e, e2;

	if (unshare(CLONE_NEWUSER | CLONE_NEWPID) == 0)
		return;
	e = errno;
	if (geteuid() != 0)
		skip_forbidden("cannot create a user and pid namespace unprivileged (%s): user "
			       "namespaces are off for unprivileged users here", errno_name(e));
	if (unshare(CLONE_NEWPID) == 0)
		return;
	e2 = errno;
	skip_lacks("cannot create a pid namespace: CLONE_NEWUSER|CLONE_NEWPID %s, "
		   "CLONE_NEWPID %s", errno_name(e), errno_name(e2));
}

/* The init: fork a child that pauses until killed (no PR_SET_PDEATHSIG,
 * so only the namespace's end can kill it), raise SIGSYS at itself (an
 * init ignores it), then make the killed write. */
static int init_body(void *p)
{
	struct init *in = p;
	struct sandbox s = { in->kill, SINGLE };
	char note[32], b;
	pid_t child;

	snprintf(note, sizeof(note), "pid=%d", getpid());
	notes_say(&in->notes, note);
	child = SETUP(fork());
	if (child == 0) {
		if (write(in->ready[1], "r", 1) < 0)
			_exit(1);
		for (;;)
			pause();
	}
	if (read(in->ready[0], &b, 1) < 0)
		b = 0;
	raise(SIGSYS);
	notes_say(&in->notes, "raise-survived");
	return sandboxed(&s);
}

/*
 * Follow the init and its child until both are gone: answer the init's
 * EXIT stop with the attempt, deliver signals, resume anything else. The
 * text is per task ("init: ...; child: ..."), the order across them being
 * a race; the stops that only set the child up (the init's FORK stop, the
 * child's first stop) are left out.
 */
static const char *follow_init(pid_t init, enum attempt a)
{
	static char out[2048 + 32];
	char init_log[1024] = "", child_log[1024] = "";
	int init_done = 0, child_done = 0, status;
	pid_t child = 0;

	for (int i = 0; i < 64 && !(init_done && child_done); i++) {
		pid_t pid = waitpid(-1, &status, __WALL);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			setup_failed("waitpid");
		}
		int is_init = pid == init, first = !is_init && !child;
		if (first)
			child = pid;
		char *log = is_init ? init_log : child_log;
		size_t size = is_init ? sizeof(init_log) : sizeof(child_log);

		if (is_final(status)) {
			log_add(log, size, ", ", "%s", status_text(status));
			if (is_init)
				init_done = 1;
			else
				child_done = 1;
		} else if (is_event(status, PTRACE_EVENT_FORK)) {
			ptrace(PTRACE_CONT, pid, 0, 0);
		} else if (is_event(status, PTRACE_EVENT_STOP) && first) {
			ptrace(PTRACE_CONT, pid, 0, 0);
		} else if (is_event(status, PTRACE_EVENT_EXIT)) {
			unsigned long msg;
			/* The exit code the task is leaving with. */
			if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) < 0)
				log_add(log, size, ", ", "event EXIT msg=%s", errno_name(errno));
			else
				log_add(log, size, ", ", "event EXIT msg=0x%lx", msg);
			if (is_init)
				log_add(log, size, ", ", "%s", attempt_apply(a, pid));
			else
				ptrace(PTRACE_CONT, pid, 0, 0);
		} else if (is_signal_stop(status)) {
			int sig = WSTOPSIG(status);
			log_add(log, size, ", ", "stop %s", signame(sig));
			ptrace(PTRACE_CONT, pid, 0, sig);
			log_add(log, size, ", ", "cont %s", signame(sig));
		} else {
			log_add(log, size, ", ", "%s", status_text(status));
			ptrace(PTRACE_CONT, pid, 0, 0);
		}
	}
	if (!(init_done && child_done))
		log_add(init_log, sizeof(init_log), ", ", "...");
	snprintf(out, sizeof(out), "init: %s; child: %s", init_log, child_log);
	return out;
}

static void run_instance(const char *params)
{
	struct init in = { .kill = kill_of(params) };
	const char *log;
	pid_t init;

	enter_new_pid_namespace();
	effects_pipe();
	in.notes = notes_new();
	SETUP(pipe(in.ready));
	init = tracee_seize(PTRACE_O_TRACEEXIT | PTRACE_O_TRACEFORK, init_body, &in);
	log = follow_init(init, attempt_of(params));
	observe("%s; notes=%s; effects=%s", log, notes_summary(&in.notes),
		notes_summary(&effects));
}
