/*
 * Group-stop under ptrace (ptrace(2), "Group-stop", PTRACE_LISTEN,
 * PTRACE_INTERRUPT): what the tracer sees and what it may do. A seized
 * tracee's group-stop is PTRACE_EVENT_STOP and takes LISTEN; an attached
 * one's looks like a signal stop and LISTEN and INTERRUPT are refused.
 */

struct subject { struct notes *notes; int rx; };

/* ---- The subject raises SIGSTOP; the tracer delivers it and reads the
 * group-stop, then does what the instance says. */

static int raising_subject(void *arg)
{
	struct subject *s = arg;
	raise(SIGSTOP);
	note_to(s->notes->tx, "after");
	return 0;
}

/* The state letter of /proc/PID/status (t is a ptrace-stop). */
static const char *state(pid_t pid)
{
	static char letter[8];
	char path[64], line[256];
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	snprintf(letter, sizeof(letter), "?");
	f = fopen(path, "r");
	if (!f)
		return letter;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "State:", 6)) {
			sscanf(line + 6, " %7s", letter);
			break;
		}
	fclose(f);
	return letter;
}

static void raised_sigstop(const char *params)
{
	struct notes notes = notes_new();
	struct subject s = { &notes, -1 };
	int attached = !strcmp(params, "attach/listen-and-interrupt-refused");
	pid_t pid = tracee_spawn(attached ? ATTACH_ATTACH : ATTACH_SEIZE, 0, raising_subject, &s);
	siginfo_t si;

	trail_next(pid);
	SETUP(tracee_cont(pid, SIGSTOP));
	trail_push("cont SIGSTOP");
	trail_next(pid);
	/* A classic group-stop has no siginfo (EINVAL); a seized tracee's
	 * PTRACE_EVENT_STOP carries one with the stop signal. */
	if (ptrace(PTRACE_GETSIGINFO, pid, 0, &si) == 0)
		trail_push("siginfo=%s", signame(si.si_signo));
	else
		trail_push("siginfo=%s", errno_name(errno));

	if (!strcmp(params, "seize/listen-then-sigcont")) {
		trail_push("listen=%s", result_name(ptrace(PTRACE_LISTEN, pid, 0, 0)));
		trail_push("state=%s", state(pid));
		trail_push("sigcont=%s", result_name(kill(pid, SIGCONT)));
		trail_next(pid);
		SETUP(tracee_cont(pid, 0));
		trail_push("cont");
	} else if (!strcmp(params, "seize/listen-then-cont")) {
		trail_push("listen=%s", result_name(ptrace(PTRACE_LISTEN, pid, 0, 0)));
		trail_push("cont=%s", result_name(tracee_cont(pid, 0)));
		trail_push("interrupt=%s", result_name(ptrace(PTRACE_INTERRUPT, pid, 0, 0)));
		trail_next(pid);
		trail_push("sigcont=%s", result_name(kill(pid, SIGCONT)));
		SETUP(tracee_cont(pid, 0));
		trail_push("cont");
	} else if (!strcmp(params, "seize/sigcont-without-listen")) {
		int status;
		pid_t r;
		trail_push("sigcont=%s", result_name(kill(pid, SIGCONT)));
		r = waitpid(pid, &status, __WALL | WNOHANG);
		if (r == 0)
			trail_push("reported=none");
		else if (r > 0)
			trail_push("reported=%s", status_text(status));
		else
			trail_push("reported=%s", errno_name(errno));
		trail_push("state=%s", state(pid));
		SETUP(tracee_cont(pid, 0));
		trail_push("cont");
	} else if (!strcmp(params, "seize/cont-from-group-stop")) {
		SETUP(tracee_cont(pid, 0));
		trail_push("cont");
	} else {
		trail_push("listen=%s", result_name(ptrace(PTRACE_LISTEN, pid, 0, 0)));
		trail_push("interrupt=%s", result_name(ptrace(PTRACE_INTERRUPT, pid, 0, 0)));
		SETUP(tracee_cont(pid, 0));
		trail_push("cont");
	}
	trail_finish(pid);
	observe("%s; notes=%s", trail, notes_summary(&notes));
}

/* ---- PTRACE_INTERRUPT stops a tracee blocked in read(), and the read
 * goes on transparently after PTRACE_CONT. */

static int reading_subject(void *arg)
{
	struct subject *s = arg;
	char b, note[64];
	ssize_t r = read(s->rx, &b, 1);
	if (r < 0)
		snprintf(note, sizeof(note), "read=%s", errno_name(errno));
	else
		snprintf(note, sizeof(note), "read=%zd", r);
	note_to(s->notes->tx, note);
	return 0;
}

static void interrupt_blocked_read(void)
{
	struct notes notes = notes_new();
	int fds[2];
	struct subject s = { &notes, -1 };
	pid_t pid;

	SETUP(pipe(fds));
	s.rx = fds[0];
	pid = tracee_spawn(ATTACH_SEIZE, 0, reading_subject, &s);
	trail_push("interrupt=%s", result_name(ptrace(PTRACE_INTERRUPT, pid, 0, 0)));
	trail_next(pid);
	SETUP(tracee_cont(pid, 0));
	trail_push("cont");
	SETUP(write(fds[1], "x", 1));
	trail_finish(pid);
	observe("%s; notes=%s", trail, notes_summary(&notes));
}

/* ---- Two threads: one signal-delivery stop for SIGSTOP, then a
 * group-stop in every thread. Which thread dequeues the process-directed
 * SIGSTOP is a race, so the stops are counted, not named. */

static int threaded_subject(void *arg)
{
	(void)arg;
	start_thread(parked_thread, 0);
	park();
}

static void group_stop_threads(void)
{
	pid_t leader = tracee_spawn(ATTACH_SEIZE, PTRACE_O_TRACECLONE, threaded_subject, NULL);
	pid_t stopped[2], pid;
	int delivery = 0, nstopped = 0, status;
	char listened[64] = "";

	settle_new_thread(leader);
	SETUP(kill(leader, SIGSTOP));
	while (nstopped < 2) {
		status = wait_any(&pid);
		if (stop_signal(status) == SIGSTOP) {
			delivery++;
			SETUP(tracee_cont(pid, SIGSTOP));
		} else if (is_event(status, PTRACE_EVENT_STOP) && WSTOPSIG(status) == SIGSTOP) {
			stopped[nstopped++] = pid;
		} else {
			errno = EINVAL;
			setup_failed("unexpected stop in the group-stop");
		}
	}
	for (int i = 0; i < nstopped; i++)
		snprintf(listened + strlen(listened), sizeof(listened) - strlen(listened), "%s%s",
			 i ? "," : "", result_name(ptrace(PTRACE_LISTEN, stopped[i], 0, 0)));
	SETUP(kill(leader, SIGKILL));
	do
		status = wait_any(&pid);
	while (!(is_final(status) && pid == leader));
	observe("signal-delivery stops=%d group-stops=%d -> listen=%s -> sigkill -> %s",
		delivery, nstopped, listened, status_text(status));
}

static void run_instance(const char *params)
{
	if (!strcmp(params, "seize/interrupt-blocked-read"))
		interrupt_blocked_read();
	else if (!strcmp(params, "seize/multi-thread"))
		group_stop_threads();
	else
		raised_sigstop(params);
}
