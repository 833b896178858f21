/*
 * A dumpable task of another uid refuses an unprivileged tracer: the
 * tracer's uid must equal the target's real, effective and saved uid
 * (__ptrace_may_access(), kernel/ptrace.c).
 */

static void other_uid_target(void)
{
	become(OTHER);
	allow_any_tracer();
	SETUP(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
}

static void run_instance(const char *params)
{
	struct try_args a = { .req = req_of(params) };
	char seen[256];

	yama_lets_unprivileged_in();
	a.pid = parked_spawn(other_uid_target);
	as_uid(NOBODY, try_on_fn, &a, seen, sizeof(seen));
	parked_kill(a.pid);
	observe("%s", seen);
}
