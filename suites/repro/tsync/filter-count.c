/*
 * /proc/PID/task/TID/status Seccomp_filters counts the filters a thread
 * runs (5.9); after a sync every thread runs the caller's
 * whole chain, so every count becomes the caller's, and a failed sync
 * changes none. Counts are relative to the process's own at the start
 * (a container's filter is not ours).
 *
 *   after-success: sibling-1 spawned unfiltered, main installs 1 and 2,
 *                  spawns sibling-2; main syncs 3
 *   after-failure: main installs 1, spawns 2 siblings; sibling-2 stacks
 *                  2; main tries to sync 3
 */

static long filter_count_of(pid_t tid)
{
	const char *v = status_of(tid, "Seccomp_filters");
	char *end;
	long n = strtol(v, &end, 10);
	return end == v || *end ? -1 : n;
}

/* Every member's Seccomp_filters minus base, "[2,0,2]". */
static const char *filter_counts(struct crew *c, long base, char *out, size_t size)
{
	int n = snprintf(out, size, "[");
	for (int i = 0; i < c->n; i++)
		n += snprintf(out + n, size - n, "%s%ld", i ? "," : "",
			      filter_count_of(c->m[i].tid) - base);
	snprintf(out + n, size - n, "]");
	return out;
}

static void run_instance(const char *params)
{
	long base = filter_count_of(gettid()), ret;
	struct crew crew = crew_of_this_thread();
	int blocking[1] = { 2 }, n = 0;
	char before[128], after[128];

	if (!strcmp(params, "after-success")) {
		crew_spawn_from(&crew, 0);
		crew_install(&crew, 0, 1);
		crew_install(&crew, 0, 2);
		crew_spawn_from(&crew, 0);
	} else {
		crew_install(&crew, 0, 1);
		crew_spawn_n(&crew, 0, 2);
		crew_install(&crew, 2, 2);
		n = 1;
	}
	filter_counts(&crew, base, before, sizeof(before));

	ret = crew_tsync(&crew, 0, 3, 0);

	observe("before=%s tsync=%s after=%s", before, crew_answer(&crew, ret, blocking, n),
		filter_counts(&crew, base, after, sizeof(after)));
}
