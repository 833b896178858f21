/*
 * The sandboxed task traces its own child (fork() + PTRACE_SEIZE inside
 * the sandbox, the escape the seed thread worries about): the child
 * inherits the filter, and the sandboxed tracer can no more revive it
 * than an outside tracer can (see traced-by-parent).
 */

struct sandboxed_tracer {
	enum kill kill;
	enum threads threads;
	enum attempt attempt;
	struct notes report;
};

static int killed_child(void *p)
{
	struct sandboxed_tracer *t = p;
	return run_killed(t->threads);
}

/* Inside the sandbox: trace a child that makes the killed syscall. */
static int sandboxed_tracer(void *p)
{
	struct sandboxed_tracer *t = p;
	pid_t child;

	filter_kill_write(t->kill);
	child = tracee_seize(TRACE_OPTIONS, killed_child, t);
	notes_say(&t->report, follow_kill(child, t->attempt));
	return 0;
}

static void run_instance(const char *params)
{
	struct sandboxed_tracer t = { kill_of(params), threads_of(params), attempt_of(params) };
	const char *end;
	pid_t sandbox;

	effects_pipe();
	t.report = notes_new();
	sandbox = spawn(sandboxed_tracer, &t);
	end = wait_exit(sandbox);
	if (strcmp(end, "exit 0"))
		instance_error("the sandboxed tracer did not finish: %s", end);
	observe("%s; effects=%s", notes_summary(&t.report), notes_summary(&effects));
}
