/*
 * A task that made itself non-dumpable (prctl(PR_SET_DUMPABLE, 0))
 * refuses a same-uid tracer without CAP_SYS_PTRACE (EPERM,
 * __ptrace_may_access()'s dumpability check); root, with
 * CAP_SYS_PTRACE, attaches.
 */

static void non_dumpable_target(void)
{
	become(NOBODY);
	allow_any_tracer();
	SETUP(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
}

static void run_instance(const char *params)
{
	int root = strstr(params, "/root") != NULL;
	struct try_args a = { .req = req_of(params) };
	char seen[256];

	if (root)
		yama_lets_root_in();
	else
		yama_lets_unprivileged_in();
	a.pid = parked_spawn(non_dumpable_target);
	if (root)
		try_on(a.req, a.pid, seen, sizeof(seen));
	else
		as_uid(NOBODY, try_on_fn, &a, seen, sizeof(seen));
	parked_kill(a.pid);
	observe("%s", seen);
}
