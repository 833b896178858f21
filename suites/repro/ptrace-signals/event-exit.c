/*
 * PTRACE_O_TRACEEXIT: every exiting task stops at PTRACE_EVENT_EXIT once,
 * whatever ends it (its own exit, another thread's exit_group, SIGKILL, a
 * fatal signal), and PTRACE_GETEVENTMSG there gives the wait status it
 * will exit with: the group's status for every thread a group exit takes
 * along (ptrace(2), PTRACE_O_TRACEEXIT).
 */

struct killer { enum ending e; int killed; };

/* sigkill-multi-thread: the second thread exists once the leader's CLONE
 * stop is in; resume the leader, then SIGKILL the group. */
static enum then kill_after_clone(struct follow *f, pid_t pid, int status, void *arg)
{
	struct killer *k = arg;
	if (k->e == END_SIGKILL_THREADS && pid == f->leader &&
	    is_event(status, PTRACE_EVENT_CLONE) && !k->killed) {
		k->killed = 1;
		tracee_cont(pid, 0);
		kill(f->leader, SIGKILL);
		return THEN_DONE;
	}
	return THEN_RESUME;
}

static void run_instance(const char *params)
{
	struct killer k = { ending_of(params), 0 };
	struct follow f;
	pid_t pid = ending_spawn(&k.e);

	follow_init(&f, pid);
	follow_run(&f, kill_after_clone, &k);
	observe("%s", follow_text(&f));
}
