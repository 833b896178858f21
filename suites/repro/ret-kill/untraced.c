/*
 * Without a tracer, a task that SECCOMP_RET_KILL_THREAD or _PROCESS kills
 * dies at the syscall, which has no effect (seccomp(2): "the system call
 * is not executed"), and nothing after it runs. KILL_THREAD from a second
 * thread ends only that thread: the main thread joins it and exits 3;
 * KILL_PROCESS ends the whole group with SIGSYS (4d3b0b05aae9, 4.14).
 */

static void run_instance(const char *params)
{
	struct sandbox s = { kill_of(params), threads_of(params) };
	pid_t pid;
	const char *end;

	effects_pipe();
	pid = spawn(sandboxed, &s);
	end = wait_exit(pid);
	observe("%s; effects=%s", end, notes_summary(&effects));
}
