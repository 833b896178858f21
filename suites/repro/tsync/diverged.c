/*
 * A thread whose filter is not an ancestor of the caller's blocks TSYNC:
 * the kernel returns the tid of a blocking thread (any of several may be
 * named: "one-of(..)") and installs nothing anywhere, the caller's own
 * filter included (kernel/seccomp.c: seccomp_can_sync_threads).
 *
 *   one-of-2:      main installs 1, spawns 2 siblings; sibling-2 stacks 2;
 *                  main tries 3
 *   two-of-4:      main installs 1, spawns 4; sibling-2 stacks 2,
 *                  sibling-4 stacks 3; main tries 4
 *   caller-branch: sibling-1 spawned unfiltered, main installs 1 and
 *                  spawns sibling-2 (1), sibling-1 stacks 2 and tries 3
 *   descendants:   main installs 1, spawns sibling-1, which stacks 2 and
 *                  spawns sibling-2 (2); main tries 3
 */

static void run_instance(const char *params)
{
	struct crew crew = crew_of_this_thread();
	int caller, next, blocking[2], n;
	long ret;

	diverged_build(params, &crew, &caller, &next, blocking, &n);

	ret = crew_tsync(&crew, caller, next, 0);

	observe("tsync=%s probe=%s", crew_answer(&crew, ret, blocking, n), crew_probes(&crew));
}
