/*
 * After a PTRACE_SINGLESTEP trap the tracer reads DR6 with PEEKUSER and
 * finds DR_STEP (BS, bit 14) set: the #DB came from the single step.
 */

#define DR6_BS (1ULL << 14)

static void run_instance(const char *params)
{
	pid_t pid = stopped(stop_self, NULL);
	char log[256];
	int status;

	(void)params;
	SETUP(ptrace(PTRACE_SINGLESTEP, pid, 0, 0));
	status = wait_status(pid);
	snprintf(log, sizeof(log), "%s", status_text(status));
	if (WIFSTOPPED(status) && !(status >> 16) && WSTOPSIG(status) == SIGTRAP) {
		siginfo_t si;
		uint64_t dr6;
		SETUP(ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
		SETUP(peek(pid, debugreg_offset(6), &dr6));
		snprintf(log, sizeof(log), "stop %s DR6.BS=%d", siginfo_text(&si), !!(dr6 & DR6_BS));
	}
	observe("singlestep -> %s -> %s", log, finish(pid));
}
