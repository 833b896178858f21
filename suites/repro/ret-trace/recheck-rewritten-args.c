/*
 * The tracer changes only an argument (the fd) at the seccomp stop, so the
 * syscall number stays the same: the filters must still run again on the
 * reloaded arguments (__seccomp_filter(..., NULL, true), 93e35efb8de4)
 * and apply the rule the new arguments meet. A RET_TRACE on that second
 * pass means "allow" (recheck_after_trace), never a second stop.
 */

static void run_instance(const char *params)
{
	struct effects e = effects_new(5);
	struct notes notes = notes_new();
	struct traced t = { .nfilters = 1, .effects = &e, .notes = &notes };
	struct user_regs_struct regs;
	char log[1024] = "", why[32] = "";
	int target;
	pid_t pid;

	if (!strcmp(params, "to-ret-errno"))
		target = C;
	else if (!strcmp(params, "to-ret-trace"))
		target = D;
	else if (!strcmp(params, "to-ret-trap"))
		target = E;
	else /* to-allowed: no rule */
		target = B;
	t.filters[0] = (struct filter){ {
		{ __NR_write, 1, e.fds[A], SECCOMP_RET_TRACE | 0x1 },
		{ __NR_write, 1, e.fds[C], SECCOMP_RET_ERRNO | EACCES },
		{ __NR_write, 1, e.fds[D], SECCOMP_RET_TRACE | 0x2 },
		{ __NR_write, 1, e.fds[E], SECCOMP_RET_TRAP | 0x3 },
	}, 4 };
	pid = tracee_seize(PTRACE_O_TRACESECCOMP, traced_write, &t);
	seccomp_stop(pid);

	/* Point the write at another fd and its label. */
	if (ptrace(PTRACE_GETREGS, pid, 0, &regs) == 0) {
		regs.rdi = e.fds[target];
		regs.rsi = (unsigned long)LABELS[target];
		if (ptrace(PTRACE_SETREGS, pid, 0, &regs) < 0)
			snprintf(why, sizeof(why), " (%s)", errno_name(errno));
	} else {
		snprintf(why, sizeof(why), " (%s)", errno_name(errno));
	}
	log_add(log, sizeof(log), " -> ", "event SECCOMP msg=0x%lx", event_msg(pid));
	log_add(log, sizeof(log), " -> ", "rewrite A=>%c%s", LABELS[target][0], why);
	SETUP(ptrace(PTRACE_CONT, pid, 0, 0));
	follow_rest(pid, log, sizeof(log));
	observe("%s; notes=%s; effects=%s", log, notes_summary(&notes), notes_summary(&e.pipe));
}
