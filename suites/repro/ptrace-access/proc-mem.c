/*
 * Opening /proc/PID/mem follows the ptrace access rules (mm_access()
 * with PTRACE_MODE_ATTACH, fs/proc/base.c), refused with EACCES: by the
 * file's owner and mode (root's while the target is not dumpable,
 * task_dump_owner()) or by the ptrace check itself.
 */

static void run_instance(const char *params)
{
	reach_run(params, proc_mem_text);
}
