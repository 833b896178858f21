/*
 * NO_NEW_PRIVS is per thread, and TSYNC carries the caller's along with
 * the filter (kernel/seccomp.c seccomp_sync_threads sets no_new_privs on
 * each synced thread when the caller has it), so a thread cannot shed
 * it by setting it in a thread that then dies: synced threads get it if
 * the caller has it, keep what they had if not, and a failed sync
 * changes no thread.
 *
 *   after-success:    sibling-1 exists before main sets NNP; main syncs 1
 *   after-failure:    as above plus sibling-2, which sets NNP and installs
 *                     1 on its own; main sets NNP and tries to sync 2
 *   root-without-nnp: a root main without NNP (CAP_SYS_ADMIN lets it
 *                     install) syncs 1 onto sibling-1
 */

static void run_instance(const char *params)
{
	struct crew crew = crew_of_this_thread();
	int root_without_nnp = !strcmp(params, "root-without-nnp");
	int blocking[1] = { 2 }, n = 0, next = 1;
	long ret;

	if (root_without_nnp && geteuid() != 0)
		skip_forbidden("installing without NO_NEW_PRIVS needs CAP_SYS_ADMIN");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		skip_forbidden("the process already runs with NO_NEW_PRIVS, so no thread can lack it");
	crew_spawn_from(&crew, 0);
	if (!strcmp(params, "after-failure")) {
		crew_spawn_from(&crew, 0);
		crew_install(&crew, 2, 1);
		next = 2, n = 1;
	}

	if (root_without_nnp)
		ret = install_tagged(next, SECCOMP_FILTER_FLAG_TSYNC);
	else
		ret = tsync(next, 0);

	observe("tsync=%s nnp=%s probe=%s", crew_answer(&crew, ret, blocking, n),
		crew_status(&crew, "NoNewPrivs"), crew_probes(&crew));
}
