/*
 * What the tracer does at the PTRACE_EVENT_SECCOMP stop decides whether
 * and how the syscall runs (seccomp(2), SECCOMP_RET_TRACE; ptrace(2)):
 * PTRACE_CONT lets it run; rax alone is overwritten by the syscall's own
 * result; orig_rax = -1 skips it (rax keeps the -ENOSYS the entry code put
 * there, or the value the tracer set); orig_rax = getppid runs that
 * instead; PTRACE_DETACH lets it go on untraced; SIGKILL means it never
 * runs.
 */

/* getregs, f, setregs, then PTRACE_CONT: "" when both worked, else what
 * each answered. */
static const char *edit(pid_t pid, long orig_rax, int set_orig, long rax, int set_rax)
{
	static char out[64];
	struct user_regs_struct regs;
	const char *r = "ok", *c;
	long rc = ptrace(PTRACE_GETREGS, pid, 0, &regs);

	if (rc < 0) {
		r = errno_name(errno);
	} else {
		if (set_orig)
			regs.orig_rax = orig_rax;
		if (set_rax)
			regs.rax = rax;
		if (ptrace(PTRACE_SETREGS, pid, 0, &regs) < 0) {
			rc = -1;
			r = errno_name(errno);
		}
	}
	if (ptrace(PTRACE_CONT, pid, 0, 0) < 0) {
		c = errno_name(errno);
	} else {
		c = "ok";
		if (rc == 0)
			return "";
	}
	snprintf(out, sizeof(out), " (setregs=%s cont=%s)", r, c);
	return out;
}

/* A request that answers only when it fails: " (name=ERRNO)". */
static const char *failed(const char *name, long rc)
{
	static char out[48];
	if (rc == 0)
		return "";
	snprintf(out, sizeof(out), " (%s=%s)", name, errno_name(errno));
	return out;
}

static void run_instance(const char *params)
{
	struct effects e = effects_new(1);
	struct notes notes = notes_new();
	struct traced t = one_rule(&e, &notes, SECCOMP_RET_TRACE | DATA);
	char log[1024] = "";
	const char *how;
	pid_t pid;

	pid = tracee_seize(PTRACE_O_TRACESECCOMP, traced_write, &t);
	seccomp_stop(pid);
	if (!strcmp(params, "allow"))
		how = failed("cont", ptrace(PTRACE_CONT, pid, 0, 0));
	else if (!strcmp(params, "set-rax-only"))
		how = edit(pid, 0, 0, 4242, 1);
	else if (!strcmp(params, "skip"))
		how = edit(pid, -1, 1, 0, 0);
	else if (!strcmp(params, "skip-fake-value"))
		how = edit(pid, -1, 1, 4242, 1);
	else if (!strcmp(params, "skip-fake-errno"))
		how = edit(pid, -1, 1, -EACCES, 1);
	else if (!strcmp(params, "redirect-nr"))
		how = edit(pid, __NR_getppid, 1, 0, 0);
	else if (!strcmp(params, "detach"))
		how = failed("detach", ptrace(PTRACE_DETACH, pid, 0, 0));
	else /* sigkill */
		how = failed("kill", kill(pid, SIGKILL));
	log_add(log, sizeof(log), " -> ", "event SECCOMP");
	log_add(log, sizeof(log), " -> ", "%s%s", params, how);
	if (!strcmp(params, "detach"))
		/* No longer ours to trace, still ours to reap. */
		log_add(log, sizeof(log), " -> ", "%s", wait_exit(pid));
	else
		follow_rest(pid, log, sizeof(log));
	observe("%s; notes=%s; effects=%s", log, notes_summary(&notes), notes_summary(&e.pipe));
}
