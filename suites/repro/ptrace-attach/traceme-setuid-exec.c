/*
 * PTRACE_TRACEME under an unprivileged tracer, then exec of a setuid-root
 * program: the kernel does not honour the setuid bit (euid stays the
 * caller's; bprm's LSM_UNSAFE_PTRACE, cap_bprm_creds_from_file()), while
 * the same program run untraced gets euid 0.
 */

/* The control: the euid the copy runs with when NOBODY execs it
 * untraced; skips unless it is 0. */
static long untraced_euid(struct setuid_copy *c)
{
	int fds[2];
	char out[256];
	pid_t pid;

	SETUP(pipe2(fds, O_CLOEXEC));
	pid = SETUP(fork());
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		become(NOBODY);
		SETUP(dup2(fds[1], 1));
		exec_probe(c->exe, "ids");
	}
	close(fds[1]);
	read_all(fds[0], out, sizeof(out));
	close(fds[0]);
	wait_exit(pid);
	if (euid_of(out) != 0)
		setuid_not_honoured(c, out);
	return 0;
}

/* The tracer, dropped to NOBODY: its child asks to be traced and execs
 * the setuid copy; every stop is answered until the child is gone. */
static int tracer(struct setuid_copy *c, int out_fd)
{
	pid_t subject;

	become(NOBODY);
	subject = SETUP(fork());
	if (subject == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		SETUP(ptrace(PTRACE_TRACEME, 0, 0, 0));
		SETUP(dup2(out_fd, 1));
		exec_probe(c->exe, "ids");
	}
	for (;;) {
		int status = wait_status(subject);
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return 0;
		if (WIFSTOPPED(status) && WSTOPSIG(status) != SIGTRAP)
			ptrace(PTRACE_CONT, subject, 0, WSTOPSIG(status));
		else
			ptrace(PTRACE_CONT, subject, 0, 0);
	}
}

static void run_instance(const char *params)
{
	struct setuid_copy copy;
	char out[256];
	const char *end;
	long untraced, traced;
	int fds[2];
	pid_t pid;

	(void)params;
	/* The tracer runs as NOBODY: Yama's scope 2 refuses its
	 * PTRACE_TRACEME (no CAP_SYS_PTRACE), scope 3 everyone's. */
	yama_lets_unprivileged_in();
	setuid_copy_make(&copy);
	untraced = untraced_euid(&copy);

	SETUP(pipe2(fds, O_CLOEXEC));
	pid = SETUP(fork());
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(tracer(&copy, fds[1]));
	}
	close(fds[1]);
	read_all(fds[0], out, sizeof(out));
	close(fds[0]);
	end = wait_exit(pid);
	setuid_copy_remove(&copy);
	if (strcmp(end, "exit 0")) {
		errno = ECHILD;
		setup_failed("the tracer subject");
	}
	traced = euid_of(out);
	if (traced < 0) {
		errno = ENOEXEC;
		setup_failed("the traced probe's line");
	}
	observe("untraced euid=%ld; traced euid=%ld", untraced, traced);
}
