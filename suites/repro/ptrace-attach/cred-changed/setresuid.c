/*
 * A task that started as root and setresuid() to the tracer's uid is
 * non-dumpable (commit_creds() reset it to fs.suid_dumpable) and
 * refuses the unprivileged tracer, though every id now matches.
 */

static void dropped_from_root(void)
{
	allow_any_tracer();
	become(NOBODY);
}

static void run_instance(const char *params)
{
	struct try_args a = { .req = req_of(params) };
	char seen[256];

	yama_lets_unprivileged_in();
	suid_dumpable_resets();
	a.pid = parked_spawn(dropped_from_root);
	as_uid(NOBODY, try_on_fn, &a, seen, sizeof(seen));
	parked_kill(a.pid);
	observe("%s", seen);
}
