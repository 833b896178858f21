/*
 * TSYNC succeeds when every other thread runs an ancestor of the
 * caller's filter (or none: NULL is the root ancestor), and afterwards
 * every thread's newest filter is the one just synced
 * (kernel/seccomp.c: seccomp_can_sync_threads, seccomp_sync_threads).
 *
 *   shared:       main installs 1, spawns the siblings (they share 1); main syncs 2
 *   unfiltered:   nobody has a filter; main syncs 1
 *   mixed:        sibling-1 spawned unfiltered, main installs 1, spawns
 *                 sibling-2 (1); main syncs 2
 *   older:        the siblings share 1, main stacks 2 on its own; main syncs 3
 *   caller-ahead: everyone shares 1, sibling-1 stacks 2 and syncs 3
 */

static void run_instance(const char *params)
{
	struct crew crew = crew_of_this_thread();
	int siblings = atoi(strstr(params, "siblings-") + strlen("siblings-"));
	int caller = 0, next;
	long ret;

	if (!strncmp(params, "shared/", 7)) {
		crew_install(&crew, 0, 1);
		crew_spawn_n(&crew, 0, siblings);
		next = 2;
	} else if (!strncmp(params, "unfiltered/", 11)) {
		crew_spawn_n(&crew, 0, siblings);
		next = 1;
	} else if (!strncmp(params, "mixed/", 6)) {
		crew_spawn_from(&crew, 0);
		crew_install(&crew, 0, 1);
		crew_spawn_n(&crew, 0, siblings - 1);
		next = 2;
	} else if (!strncmp(params, "older/", 6)) {
		crew_install(&crew, 0, 1);
		crew_spawn_n(&crew, 0, siblings);
		crew_install(&crew, 0, 2);
		next = 3;
	} else { /* caller-ahead */
		crew_install(&crew, 0, 1);
		crew_spawn_n(&crew, 0, siblings);
		crew_install(&crew, 1, 2);
		caller = 1;
		next = 3;
	}

	ret = crew_tsync(&crew, caller, next, 0);

	observe("tsync=%s probe=%s", crew_answer(&crew, ret, NULL, 0), crew_probes(&crew));
}
