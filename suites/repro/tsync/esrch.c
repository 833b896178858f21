/*
 * With SECCOMP_FILTER_FLAG_TSYNC_ESRCH (5.7) a blocked
 * sync fails with -1/ESRCH instead of returning a tid (so the return
 * value can carry a listener fd) and still installs nothing anywhere;
 * an unblocked sync returns 0 as usual.
 *
 *   one-of-2, two-of-4: the diverged shapes of tsync/diverged
 *   ancestors:          main installs 1, spawns 2 siblings (1), syncs 2
 */

static void run_instance(const char *params)
{
	struct crew crew = crew_of_this_thread();
	int caller = 0, next = 2, blocking[2], n;
	long ret;

	if (!strcmp(params, "ancestors")) {
		crew_install(&crew, 0, 1);
		crew_spawn_n(&crew, 0, 2);
	} else {
		diverged_build(params, &crew, &caller, &next, blocking, &n);
	}

	ret = crew_tsync(&crew, caller, next, SECCOMP_FILTER_FLAG_TSYNC_ESRCH);

	observe("tsync=%s probe=%s", crew_answer(&crew, ret, NULL, 0), crew_probes(&crew));
}
