/*
 * SIGKILL ends any ptrace-stop other than PTRACE_EVENT_EXIT at once,
 * without the tracer resuming the task; the dying task then stops at
 * PTRACE_EVENT_EXIT with SIGKILL as its status (ptrace(2), BUGS: "A
 * SIGKILL signal may still cause a PTRACE_EVENT_EXIT stop before actual
 * signal death").
 */
#include <sys/user.h>

static int syscalls;

static int subject(void *arg)
{
	(void)arg;
	if (syscalls) {
		/* A fixed point for the tracer to start PTRACE_SYSCALL from. */
		SETUP(raise(SIGSTOP));
		syscall(SYS_getppid);
	}
	park();
}

/* Wait for a syscall-stop and name it ("syscall-entry getppid"). */
static const char *syscall_stop(pid_t pid, const char *which)
{
	static char buf[64];
	struct user_regs_struct regs;
	int status = wait_status(pid);
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != (SIGTRAP | 0x80)) {
		errno = EINVAL;
		setup_failed("expected a syscall-stop");
	}
	SETUP(ptrace(PTRACE_GETREGS, pid, 0, &regs));
	if (regs.orig_rax == SYS_getppid)
		snprintf(buf, sizeof(buf), "syscall-%s getppid", which);
	else
		snprintf(buf, sizeof(buf), "syscall-%s nr%llu", which, regs.orig_rax);
	return buf;
}

static void run_instance(const char *params)
{
	long options = PTRACE_O_TRACEEXIT;
	pid_t pid;

	syscalls = !strncmp(params, "syscall-", 8);
	if (syscalls)
		options |= PTRACE_O_TRACESYSGOOD;
	pid = tracee_spawn(ATTACH_SEIZE, options, subject, NULL);

	if (!strcmp(params, "signal-delivery-stop")) {
		SETUP(kill(pid, SIGUSR1));
		trail_next(pid);
	} else if (!strcmp(params, "group-stop") || !strcmp(params, "listening")) {
		SETUP(kill(pid, SIGSTOP));
		trail_next(pid);
		SETUP(tracee_cont(pid, SIGSTOP));
		trail_push("cont SIGSTOP");
		trail_next(pid);
		if (!strcmp(params, "listening"))
			trail_push("listen=%s", result_name(ptrace(PTRACE_LISTEN, pid, 0, 0)));
	} else if (!strcmp(params, "interrupt-stop")) {
		SETUP(ptrace(PTRACE_INTERRUPT, pid, 0, 0));
		trail_next(pid);
	} else {
		int status = wait_status(pid);
		if (stop_signal(status) != SIGSTOP) {
			errno = EINVAL;
			setup_failed("no SIGSTOP to start from");
		}
		SETUP(ptrace(PTRACE_SYSCALL, pid, 0, 0));
		trail_push("%s", syscall_stop(pid, "entry"));
		if (!strcmp(params, "syscall-exit-stop")) {
			SETUP(ptrace(PTRACE_SYSCALL, pid, 0, 0));
			trail_push("%s", syscall_stop(pid, "exit"));
		}
	}
	trail_push("sigkill=%s", result_name(kill(pid, SIGKILL)));
	/* Before 2500ad1c7fa4 ("ptrace: Don't change __state", 5.19), a task
	 * killed in its syscall-entry stop still made its syscall-exit report:
	 * ptrace_stop() notified the tracer and only schedule() refused to
	 * sleep with SIGKILL pending. A tracer could see a syscall-stop the
	 * task never stayed in, and resuming it could resume the EXIT stop
	 * reached meanwhile instead: such a stop is passed over. */
	trail_resume(pid, 1);
	observe("%s", trail);
}
