/*
 * A signal sent to a tracee stops it in a signal-delivery stop where the
 * tracer may suppress it, even SIGSTOP and a SIGSEGV sent with kill();
 * SIGKILL never stops there (the kernel acts on it when it is sent) and
 * the task dies without the tracer having a say (ptrace(2),
 * "Signal-delivery-stop").
 */

struct subject { int raise_sigkill; struct gate go; struct notes *notes; };

static int subject(void *arg)
{
	struct subject *s = arg;
	if (s->raise_sigkill)
		raise(SIGKILL);
	else
		gate_wait(&s->go);
	note_to(s->notes->tx, "after");
	return 0;
}

static void run_instance(const char *params)
{
	struct notes notes = notes_new();
	struct subject s = { !strcmp(params, "sigkill-raised-by-self"), gate_new(), &notes };
	int sig = 0, first;
	pid_t pid = tracee_spawn(ATTACH_SEIZE, 0, subject, &s);

	if (!strcmp(params, "sigkill"))
		sig = SIGKILL;
	else if (!strcmp(params, "sigterm"))
		sig = SIGTERM;
	else if (!strcmp(params, "sigstop"))
		sig = SIGSTOP;
	else if (!strcmp(params, "sigsegv"))
		sig = SIGSEGV;
	if (sig)
		SETUP(kill(pid, sig));

	first = trail_next(pid);
	if (stop_signal(first)) {
		SETUP(tracee_cont(pid, 0));
		trail_push("suppress");
		gate_open(&s.go);
		trail_finish(pid);
	}
	observe("%s; notes=%s", trail, notes_summary(&notes));
}
