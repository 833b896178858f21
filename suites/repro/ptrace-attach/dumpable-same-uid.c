/*
 * The control for the refusals: a dumpable task of the tracer's own uid
 * and gid accepts an unprivileged tracer (__ptrace_may_access(),
 * kernel/ptrace.c).
 */

static void dumpable_target(void)
{
	become(NOBODY);
	allow_any_tracer();
	SETUP(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
}

static void run_instance(const char *params)
{
	struct try_args a = { .req = req_of(params) };
	char seen[256];

	yama_lets_unprivileged_in();
	a.pid = parked_spawn(dumpable_target);
	as_uid(NOBODY, try_on_fn, &a, seen, sizeof(seen));
	parked_kill(a.pid);
	observe("%s", seen);
}
