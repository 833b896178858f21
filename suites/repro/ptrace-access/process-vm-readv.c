/*
 * process_vm_readv() follows the ptrace access rules (mm_access() with
 * PTRACE_MODE_ATTACH_REALCREDS, mm/process_vm_access.c): the caller's
 * own memory, a dumpable task of its uid, or anything with
 * CAP_SYS_PTRACE; EPERM otherwise.
 */

static void run_instance(const char *params)
{
	readv_exists();
	reach_run(params, readv_text);
}
