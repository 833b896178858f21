/*
 * An unprivileged parent traces its child (PTRACE_TRACEME, asked as
 * NOBODY) and reads its memory with PTRACE_PEEKDATA at the child's next
 * stop. ptrace_access_vm() (kernel/ptrace.c) wants the tracee's mm
 * dumpable or the tracer's recorded credentials capable over
 * mm->user_ns, else EIO: a trace established while the tracee was
 * readable does not keep reading it once it turned non-dumpable
 * (PR_SET_DUMPABLE 0, or an exec of a program its tracer may not read),
 * since 84d77d3f06e7 ("ptrace: Don't allow accessing an undumpable mm",
 * v4.10).
 */

enum before { DUMPABLE, PRCTL_0, EXECUTE_ONLY_EXEC };

struct peek_case {
	enum before before;
	const char *exe;
};

/* As NOBODY: fork the tracee, wait for its stop, peek. */
static void trace_and_peek(void *arg)
{
	const struct peek_case *c = arg;
	char seen[64];
	uint64_t word;
	int status;
	pid_t tracee = subject();

	if (tracee == 0) {
		SETUP(ptrace(PTRACE_TRACEME, 0, 0, 0));
		set_mark();
		if (c->before == EXECUTE_ONLY_EXEC)
			exec_probe(c->exe, "state");
		if (c->before == PRCTL_0)
			SETUP(set_dumpable(0));
		SETUP(raise(SIGSTOP));
		_exit(0);
	}
	status = wait_status(tracee);
	if (WIFSTOPPED(status) && (status >> 16) == 0 && WSTOPSIG(status) == SIGSTOP) {
		/* The stop the tracee raised: its mark. */
		if (peek(tracee, mark_address(), &word) == 0)
			snprintf(seen, sizeof(seen), "peek=ok %s", what_was_read(word));
		else
			snprintf(seen, sizeof(seen), "peek=%s", errno_name(errno));
	} else if (WIFSTOPPED(status) && (status >> 16) == 0 && WSTOPSIG(status) == SIGTRAP) {
		/* The exec's SIGTRAP: the new image at its entry. */
		snprintf(seen, sizeof(seen), "peek=%s", peek_at_rip(tracee));
	} else {
		char what[64];
		snprintf(what, sizeof(what), "%s", status_text(status));
		kill(tracee, SIGKILL);
		wait_exit(tracee);
		instance_error("the tracee did not stop for its tracer: %s", what);
	}
	kill(tracee, SIGKILL);
	wait_exit(tracee);
	observe("%s", seen);
}

static void run_instance(const char *params)
{
	char exe[PATH_MAX] = "";
	struct peek_case c = { DUMPABLE, exe };

	if (!strcmp(params, "tracee-prctl-0"))
		c.before = PRCTL_0;
	else if (!strcmp(params, "tracee-execute-only-exec"))
		c.before = EXECUTE_ONLY_EXEC;
	/* Yama's scope 2 refuses an unprivileged parent's PTRACE_TRACEME. */
	yama_lets_unprivileged_in();
	if (c.before == EXECUTE_ONLY_EXEC) {
		suid_dumpable_resets();
		probe_copy(0711, exe, sizeof(exe));
	}
	as_uid(NOBODY, trace_and_peek, &c);
	cleanup();
}
