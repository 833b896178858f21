/*
 * The exit status carries the core flag where the action dumps core
 * (seccomp(2)): SECCOMP_RET_KILL_PROCESS always; SECCOMP_RET_KILL_THREAD
 * only when it kills the last thread of the process (d7276e321ff8, 4.14:
 * "dump core when the last thread is killed"). A second thread killed by
 * KILL_THREAD leaves the main thread to exit 3, and no core.
 */

static void run_instance(const char *params)
{
	struct sandbox s = { kill_of(params), threads_of(params) };

	dumping(sandboxed, &s);
}
