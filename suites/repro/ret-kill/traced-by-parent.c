/*
 * A tracer outside the sandbox cannot bring a RET_KILL'd task back to
 * life: it sees the killed task's PTRACE_EVENT_EXIT stop and its death,
 * never a SIGSYS signal-delivery stop it could suppress, and nothing it
 * tries at the EXIT stop (PTRACE_CONT, a new instruction pointer,
 * PTRACE_SYSCALL, PTRACE_DETACH, PTRACE_INTERRUPT+LISTEN, SIGCONT) makes
 * the task run again: the kill is a SIGKILL-like forced exit
 * (do_exit()/do_group_exit() in __seccomp_filter).
 */

static void run_instance(const char *params)
{
	struct sandbox s = { kill_of(params), threads_of(params) };
	enum attempt a = attempt_of(params);
	const char *log;
	pid_t pid;

	effects_pipe();
	pid = tracee_seize(TRACE_OPTIONS, sandboxed, &s);
	log = follow_kill(pid, a);
	observe("%s; effects=%s", log, notes_summary(&effects));
}
