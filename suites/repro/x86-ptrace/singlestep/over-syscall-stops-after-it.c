/*
 * PTRACE_SINGLESTEP over a syscall instruction reports the step when the
 * syscall returns, at the next instruction: a SIGTRAP with rip two bytes
 * past the syscall instruction.
 */

/* int3 (the tracer's stop), getpid by syscall, then two nops. */
static int subject(void *arg)
{
	long nr = SYS_getpid;
	(void)arg;
	__asm__ volatile("int3\n\tsyscall\n\tnop\n\tnop" : "+a"(nr) : : "rcx", "r11", "memory");
	return 0;
}

static void run_instance(const char *params)
{
	pid_t pid = tracee_spawn(subject, NULL);
	struct user_regs_struct regs;
	unsigned long long at;
	char log[256];
	int status;

	(void)params;
	status = wait_status(pid);
	if (!WIFSTOPPED(status) || status >> 16 || WSTOPSIG(status) != SIGTRAP) {
		errno = EINVAL;
		setup_failed("subject did not stop at its int3");
	}
	/* At the int3 stop rip is the syscall instruction's address. */
	SETUP(ptrace(PTRACE_GETREGS, pid, 0, &regs));
	at = regs.rip;
	SETUP(ptrace(PTRACE_SINGLESTEP, pid, 0, 0));
	status = wait_status(pid);
	snprintf(log, sizeof(log), "%s", status_text(status));
	if (WIFSTOPPED(status) && !(status >> 16) && WSTOPSIG(status) == SIGTRAP) {
		siginfo_t si;
		SETUP(ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
		SETUP(ptrace(PTRACE_GETREGS, pid, 0, &regs));
		snprintf(log, sizeof(log), "stop %s at syscall%+lld", siginfo_text(&si),
			 (long long)(regs.rip - at));
	}
	observe("int3 -> singlestep over syscall -> %s -> %s", log, finish(pid));
}
