/*
 * The tracer reads the rule's SECCOMP_RET_DATA as the event message
 * (PTRACE_GETEVENTMSG at PTRACE_EVENT_SECCOMP), and
 * PTRACE_GET_SYSCALL_INFO (5.3, 201766a20e30) describes the seccomp stop
 * with the syscall, its arguments and the same data; rax holds -ENOSYS
 * until the syscall runs. With two filters that both RET_TRACE the
 * write (data 0x1, then 0x2), the actions are equal and the newest
 * filter's data wins: seccomp_run_filters() walks newest first and keeps
 * the first of equals.
 */

static const char *regs_text(pid_t pid, struct effects *e)
{
	static char out[128];
	struct user_regs_struct r;

	if (ptrace(PTRACE_GETREGS, pid, 0, &r) < 0)
		return errno_name(errno);
	snprintf(out, sizeof(out), "orig_rax=%s rax=%s rdi=%s", syscall_name(r.orig_rax),
		 result_text((long)r.rax), effects_name(e, r.rdi));
	return out;
}

static void run_instance(const char *params)
{
	struct effects e = effects_new(1);
	struct notes notes = notes_new();
	struct traced t;
	char log[1024] = "";
	pid_t pid;

	if (!strcmp(params, "stacked-newest-wins")) {
		t = one_rule(&e, &notes, SECCOMP_RET_TRACE | 0x1);
		t.filters[1] = t.filters[0];
		t.filters[1].rules[0].ret = SECCOMP_RET_TRACE | 0x2;
		t.nfilters = 2;
	} else {
		/* data-0x0, data-0xffff */
		t = one_rule(&e, &notes, SECCOMP_RET_TRACE | strtoul(params + 5, NULL, 16));
	}
	pid = tracee_seize(PTRACE_O_TRACESECCOMP, traced_write, &t);
	seccomp_stop(pid);
	log_add(log, sizeof(log), " -> ", "event SECCOMP msg=0x%lx info=%s regs=%s",
		event_msg(pid), syscall_info_text(pid, &e), regs_text(pid, &e));
	SETUP(ptrace(PTRACE_CONT, pid, 0, 0));
	follow_rest(pid, log, sizeof(log));
	observe("%s; notes=%s; effects=%s", log, notes_summary(&notes), notes_summary(&e.pipe));
}
