/*
 * waitid(P_ALL, 0, &si, WEXITED | WNOHANG, &ru) with one child that has
 * nothing to report (alive) or has exited. waitid(2) fills the rusage
 * buffer only for a child it reaps; with WNOHANG and nothing to report it
 * returns 0, zeroes si_signo and si_pid and leaves the rusage alone.
 * 4.13 (ce72a16fa705) copied its uninitialised kernel rusage out whenever
 * the call succeeded, leaking kernel stack (6c85501f2fab, CVE-2017-14954).
 * The raw syscall: glibc's waitid() has no rusage argument.
 */

static int live_child(void *arg)
{
	gate_wait(arg);
	return 0;
}

/* Wait for the child's exit without reaping it. */
static void wait_exit_unreaped(pid_t child)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, child, &si, WEXITED | WNOWAIT) < 0)
		if (errno != EINTR)
			setup_failed("waitid(WEXITED | WNOWAIT)");
}

static int i32_at(const unsigned char *b, size_t off)
{
	int v;
	memcpy(&v, b + off, sizeof(v));
	return v;
}

static int all_aa(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0xaa)
			return 0;
	return 1;
}

static void run_instance(const char *params)
{
	struct gate go = gate_new();
	pid_t child = spawn(live_child, &go);
	unsigned char si[128], ru[sizeof(struct rusage)];
	char text[256], end[64];
	long rc;
	int status;

	if (!strcmp(params, "child-exited")) {
		gate_open(&go);
		wait_exit_unreaped(child);
	}
	memset(si, 0xaa, sizeof(si));
	memset(ru, 0xaa, sizeof(ru));
	rc = syscall(SYS_waitid, P_ALL, 0, si, WEXITED | WNOHANG, ru);
	if (rc < 0) {
		snprintf(text, sizeof(text), "waitid=%s", errno_name(errno));
	} else {
		int signo = i32_at(si, 0), from = i32_at(si, 16); /* si_pid at 16 */
		snprintf(text, sizeof(text), "waitid=0 si_signo=%s si_pid=%s rusage=%s",
			 signo == 0 ? "0" : signame(signo),
			 from == 0 ? "0" : from == child ? "child" : "other",
			 all_aa(ru, sizeof(ru)) ? "untouched" : "written");
	}

	gate_open(&go);
	for (;;) {
		if (waitpid(child, &status, 0) >= 0) {
			snprintf(end, sizeof(end), "%s", status_text(status));
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != ECHILD)
			setup_failed("waitpid");
		snprintf(end, sizeof(end), "reaped");
		break;
	}
	observe("%s; child %s", text, end);
}
