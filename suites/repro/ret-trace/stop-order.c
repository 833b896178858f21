/*
 * Under PTRACE_SYSCALL the syscall-entry stop comes first, then the
 * seccomp stop, then the syscall-exit stop (4.8+; before 93e35efb8de4
 * "x86/ptrace: run seccomp after ptrace" seccomp ran before the entry
 * stop). A syscall skipped at the seccomp stop still has its exit stop;
 * PTRACE_CONT at the seccomp stop drops it. RET_ERRNO has no seccomp stop,
 * and RET_TRAP's SIGSYS comes after the exit stop.
 */

/* Whether the syscall-entry stop is that of write(fd, ...). */
static int is_entry_of_write_to(pid_t pid, int fd)
{
	struct __ptrace_syscall_info info;
	SETUP(ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info));
	return info.op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr == __NR_write &&
	       info.entry.args[0] == (unsigned long long)fd;
}

static int is_exit_stop(pid_t pid)
{
	struct __ptrace_syscall_info info;
	SETUP(ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info));
	return info.op == PTRACE_SYSCALL_INFO_EXIT;
}

static void run_instance(const char *params)
{
	struct effects e = effects_new(1);
	struct notes notes = notes_new();
	int skip = !strcmp(params, "ret-trace-skip"), cont = !strcmp(params, "ret-trace-cont");
	unsigned int ret = SECCOMP_RET_TRACE | DATA;
	long options = PTRACE_O_TRACESYSGOOD;
	int recording = 0, done = 0;
	char log[2048] = "";
	struct traced t;
	pid_t pid;

	if (!strcmp(params, "ret-errno"))
		ret = SECCOMP_RET_ERRNO | EACCES;
	else if (!strcmp(params, "ret-trap"))
		ret = SECCOMP_RET_TRAP | DATA;
	if (strcmp(params, "ret-trace-without-traceseccomp"))
		options |= PTRACE_O_TRACESECCOMP;
	t = one_rule(&e, &notes, ret);
	t.stop_first = 1;
	pid = tracee_seize(options, traced_write, &t);

	/* Until the traced write's entry stop: step over everything else.
	 * Then: log every stop; after its exit stop, run freely. */
	for (int i = 0; i < 64; i++) {
		int status = wait_status(pid);
		if (is_signal_stop(status) && WSTOPSIG(status) == SIGSTOP && !recording) {
			SETUP(ptrace(PTRACE_SYSCALL, pid, 0, 0));
		} else if (is_syscall_stop(status)) {
			if (!recording && !is_entry_of_write_to(pid, e.fds[A])) {
				SETUP(ptrace(PTRACE_SYSCALL, pid, 0, 0));
				continue;
			}
			recording = 1;
			log_add(log, sizeof(log), " -> ", "syscall-%s", syscall_info_text(pid, &e));
			if (is_exit_stop(pid)) {
				done = 1;
				SETUP(ptrace(PTRACE_CONT, pid, 0, 0));
			} else {
				SETUP(ptrace(PTRACE_SYSCALL, pid, 0, 0));
			}
		} else if (is_event(status, PTRACE_EVENT_SECCOMP)) {
			log_add(log, sizeof(log), " -> ", "event SECCOMP");
			if (skip) {
				struct user_regs_struct regs;
				SETUP(ptrace(PTRACE_GETREGS, pid, 0, &regs));
				regs.orig_rax = -1;
				SETUP(ptrace(PTRACE_SETREGS, pid, 0, &regs));
				log_add(log, sizeof(log), " -> ", "skip");
				SETUP(ptrace(PTRACE_SYSCALL, pid, 0, 0));
			} else if (cont) {
				log_add(log, sizeof(log), " -> ", "cont");
				SETUP(ptrace(PTRACE_CONT, pid, 0, 0));
			} else {
				SETUP(ptrace(done ? PTRACE_CONT : PTRACE_SYSCALL, pid, 0, 0));
			}
		} else if (is_signal_stop(status)) {
			int sig = WSTOPSIG(status);
			log_add(log, sizeof(log), " -> ", "stop %s", siginfo_text(pid, sig));
			/* A SIGSYS is suppressed so the subject reports its result. */
			if (sig == SIGSYS)
				log_add(log, sizeof(log), " -> ", "suppress");
			SETUP(ptrace(done ? PTRACE_CONT : PTRACE_SYSCALL, pid, 0,
				     sig == SIGSYS ? 0 : sig));
		} else if (is_final(status)) {
			log_add(log, sizeof(log), " -> ", "%s", status_text(status));
			observe("%s; notes=%s; effects=%s", log, notes_summary(&notes),
				notes_summary(&e.pipe));
			return;
		} else {
			log_add(log, sizeof(log), " -> ", "%s", status_text(status));
			SETUP(ptrace(PTRACE_CONT, pid, 0, 0));
		}
	}
	instance_error("no end after 64 stops: %s", log);
}
