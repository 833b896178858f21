/*
 * At a signal-delivery stop the tracer decides the signal's fate: 0
 * suppresses it, another number delivers that signal instead (with a
 * fresh SI_USER siginfo), and PTRACE_SETSIGINFO rewrites what the handler
 * receives (ptrace(2), "Signal injection and suppression").
 */

struct subject { struct gate ready, go; struct notes *notes; };

static int subject(void *arg)
{
	struct subject *s = arg;
	int usr1 = install_noting_handler(SIGUSR1, s->notes->tx);
	int usr2 = install_noting_handler(SIGUSR2, s->notes->tx);
	/* Open whatever happened, so the tracer never waits for good. */
	gate_open(&s->ready);
	SETUP(usr1);
	SETUP(usr2);
	gate_wait(&s->go);
	note_to(s->notes->tx, "after");
	return 0;
}

static void run_instance(const char *params)
{
	struct notes notes = notes_new();
	struct subject s = { gate_new(), gate_new(), &notes };
	const char *action = strchr(params, '/') + 1;
	int sig = !strncmp(params, "sigusr1/", 8) ? SIGUSR1 : SIGTERM, deliver, first;
	siginfo_t si;
	pid_t pid = tracee_spawn(ATTACH_SEIZE, 0, subject, &s);

	gate_wait(&s.ready);
	SETUP(kill(pid, sig));
	first = wait_status(pid);
	if (stop_signal(first) != sig) {
		observe("%s", status_text(first));
		return;
	}
	if (ptrace(PTRACE_GETSIGINFO, pid, 0, &si) == 0)
		trail_push("stop %s code=%s", signame(si.si_signo), code_name(si.si_signo, si.si_code));
	else
		trail_push("%s (GETSIGINFO %s)", status_text(first), errno_name(errno));

	if (!strcmp(action, "suppress")) {
		deliver = 0;
	} else if (!strcmp(action, "deliver")) {
		deliver = sig;
	} else if (!strcmp(action, "change-to-sigusr2")) {
		deliver = SIGUSR2;
	} else if (!strcmp(action, "change-to-sigkill")) {
		deliver = SIGKILL;
	} else {
		/* rewrite-siginfo: si_code SI_QUEUE, then deliver. */
		long rc = ptrace(PTRACE_GETSIGINFO, pid, 0, &si);
		if (rc == 0) {
			si.si_code = SI_QUEUE;
			rc = ptrace(PTRACE_SETSIGINFO, pid, 0, &si);
		}
		trail_push("setsiginfo=%s", result_name(rc));
		deliver = sig;
	}
	SETUP(tracee_cont(pid, deliver));
	if (deliver)
		trail_push("cont %s", signame(deliver));
	else
		trail_push("cont");
	gate_open(&s.go);
	trail_finish(pid);
	observe("%s; notes=%s", trail, notes_summary(&notes));
}
