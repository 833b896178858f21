/*
 * PTRACE_KILL kills the tracee wherever it is: it sends SIGKILL
 * (6a2d90ba027a). Before, it resumed the tracee from a ptrace-stop with
 * SIGKILL as the signal to deliver, which does nothing to a tracee that
 * is not stopped: the call returned 0 and the tracee lived on. The tracer
 * then asks PTRACE_INTERRUPT: a tracee still alive stops for it.
 */

struct subject { struct gate ready; int running; };

static int subject(void *arg)
{
	struct subject *s = arg;
	gate_open(&s->ready);
	if (s->running)
		for (;;)
			__asm__ volatile("pause");
	park();
}

static void run_instance(const char *params)
{
	struct subject s = { gate_new(), !strcmp(params, "running") };
	pid_t pid = tracee_spawn(ATTACH_SEIZE, 0, subject, &s);
	int status;

	gate_wait(&s.ready);
	if (!strcmp(params, "signal-delivery-stop")) {
		SETUP(kill(pid, SIGUSR1));
		trail_next(pid);
	}
	trail_push("ptrace-kill=%s", result_name(ptrace(PTRACE_KILL, pid, 0, 0)));
	/* A tracee that is still alive traps for this; a dying one never does. */
	ptrace(PTRACE_INTERRUPT, pid, 0, 0);
	status = trail_next(pid);
	if (!is_final(status)) {
		SETUP(kill(pid, SIGKILL));
		trail_push("sigkill");
		trail_finish(pid);
	}
	observe("%s", trail);
}
