/*
 * A SIGKILL sent to a task stopped at PTRACE_EVENT_EXIT. Since 6.1
 * (9a95f78eab70, "ptrace: Stop supporting SIGKILL for PTRACE_EVENT_EXIT")
 * a signal sent to a group that is already exiting is dropped, so the
 * stop holds until the tracer resumes it; before, the SIGKILL woke the
 * task out of the stop. A thread that exits alone is not a group exit:
 * there the SIGKILL kills the group and ends the thread's stop on every
 * kernel.
 */

struct at_exit { int to_thread, sent; };

/* SIGKILL to the process (kill), or to the stopped thread (tgkill). */
static long sigkill(pid_t leader, pid_t tid, int to_thread)
{
	if (to_thread)
		return syscall(SYS_tgkill, leader, tid, SIGKILL);
	return kill(leader, SIGKILL);
}

static enum then kill_at_exit_stop(struct follow *f, pid_t pid, int status, void *arg)
{
	struct at_exit *a = arg;
	unsigned long msg;
	long rc;

	if (a->sent || !is_event(status, PTRACE_EVENT_EXIT))
		return THEN_RESUME;
	a->sent = 1;
	rc = sigkill(f->leader, pid, a->to_thread);
	follow_log(f, pid, "sigkill=%s", result_name(rc));
	/* GETEVENTMSG works only on a task still in a ptrace-stop. */
	if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) == 0)
		follow_log(f, pid, "stop=held");
	else
		follow_log(f, pid, "stop=%s", errno == ESRCH ? "gone" : errno_name(errno));
	rc = tracee_cont(pid, 0);
	follow_log(f, pid, "cont=%s", result_name(rc));
	return THEN_DONE;
}

static void run_instance(const char *params)
{
	char ending[64];
	const char *to = strrchr(params, '/');
	struct at_exit a = { to && !strcmp(to, "/tgkill"), 0 };
	enum ending e;
	struct follow f;
	pid_t pid;

	snprintf(ending, sizeof(ending), "%.*s", (int)(to - params), params);
	e = ending_of(ending);
	pid = ending_spawn(&e);
	follow_init(&f, pid);
	follow_run(&f, kill_at_exit_stop, &a);
	observe("%s", follow_text(&f));
}
