/*
 * At a syscall-entry stop PTRACE_GET_SYSCALL_INFO writes the 80 bytes of
 * an entry record (op, 3 padding bytes, arch, ip, sp, nr, args) into a
 * buffer the tracer filled with 0xaa, and leaves the rest alone. The
 * padding after `op` is a named field set to zero since 0032ce0f85a2;
 * before, it was a hole whose content came from the kernel stack.
 */

static int subject(void *arg)
{
	(void)arg;
	SETUP(raise(SIGSTOP));
	syscall(SYS_getppid);
	return 0;
}

static void run_instance(const char *params)
{
	pid_t pid = tracee_spawn(ATTACH_SEIZE, PTRACE_O_TRACESYSGOOD, subject, NULL);
	uint8_t buf[88];
	char text[128];
	int status;
	long size;

	(void)params;
	status = wait_status(pid);
	if (stop_signal(status) != SIGSTOP) {
		errno = EINVAL;
		setup_failed("no SIGSTOP to start from");
	}
	SETUP(ptrace(PTRACE_SYSCALL, pid, 0, 0));
	status = wait_status(pid);
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != (SIGTRAP | 0x80)) {
		errno = EINVAL;
		setup_failed("expected a syscall-entry stop");
	}

	memset(buf, 0xaa, sizeof(buf));
	size = ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(buf), buf);
	if (size < 0) {
		snprintf(text, sizeof(text), "get-syscall-info=%s", errno_name(errno));
	} else {
		static const char *const ops[] = { "none", "entry", "exit", "seccomp" };
		char op[8];
		const char *pad = "nonzero", *tail = "untouched";
		size_t end = (size_t)size < sizeof(buf) ? (size_t)size : sizeof(buf);
		if (buf[0] < 4)
			snprintf(op, sizeof(op), "%s", ops[buf[0]]);
		else
			snprintf(op, sizeof(op), "%u", buf[0]);
		if (!buf[1] && !buf[2] && !buf[3])
			pad = "zero";
		else if (buf[1] == 0xaa && buf[2] == 0xaa && buf[3] == 0xaa)
			pad = "unwritten";
		for (size_t i = end; i < sizeof(buf); i++)
			if (buf[i] != 0xaa)
				tail = "written";
		snprintf(text, sizeof(text), "op=%s size=%ld pad=%s tail=%s", op, size, pad, tail);
	}
	SETUP(kill(pid, SIGKILL));
	do
		status = wait_status(pid);
	while (!is_final(status));
	observe("%s -> sigkill -> %s", text, status_text(status));
}
