/*
 * A seized process that is group-stopped and resumed by its tracer
 * (PTRACE_CONT from the group-stop) is still stopped as a process
 * (SIGNAL_STOP_STOPPED); a thread it creates joins the group-stop and,
 * seized through PTRACE_O_TRACECLONE, reports PTRACE_EVENT_STOP with the
 * stop signal: status 0x80137f (7b3c36fc4c23; before, the thread trapped
 * with no signal, 0x80007f, and do_jobctl_trap() warned).
 */

/* Stops itself, then, once resumed, starts a thread. */
static int subject(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	SETUP(raise(SIGSTOP));
	start_thread(parked_thread, 0);
	park();
}

static int waitpid_raw(pid_t pid, int options, pid_t *who)
{
	int status;
	pid_t r;
	while ((r = waitpid(pid, &status, options)) < 0)
		if (errno != EINTR)
			setup_failed("waitpid");
	if (who)
		*who = r;
	return status;
}

/* SIGKILL the subject and log how the leader ended. */
static void end(pid_t pid)
{
	kill(pid, SIGKILL);
	for (;;) {
		pid_t who;
		int status = waitpid_raw(-1, __WALL, &who);
		if (who == pid && is_final(status)) {
			trail_push("%s", status_text(status));
			return;
		}
	}
}

static void run_instance(const char *params)
{
	pid_t pid = spawn(subject, NULL), who;
	long seized;
	int status;

	(void)params;
	trail_push("%s", status_text(waitpid_raw(pid, WUNTRACED, NULL)));
	seized = ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL);
	trail_push("seize=%s", result_name(seized));
	if (seized < 0) {
		end(pid);
		observe("%s", trail);
		return;
	}
	trail_push("%s", status_text(waitpid_raw(pid, __WALL, NULL)));
	SETUP(ptrace(PTRACE_CONT, pid, 0, 0));
	trail_push("cont");
	trail_push("%s", status_text(waitpid_raw(pid, __WALL, NULL)));
	status = waitpid_raw(-1, __WALL, &who);
	trail_push("%s: %s (%#x)", who == pid ? "leader" : "thread", status_text(status), status);
	trail_push("sigkill");
	end(pid);
	observe("%s", trail);
}
