/*
 * A task whose only credential change was its effective gid (back to
 * the tracer's gid, after dumpability was switched on again) is
 * non-dumpable (commit_creds() resets it on an egid change) and refuses
 * the unprivileged tracer.
 */

static void egid_changed(void)
{
	allow_any_tracer();
	SETUP(setgroups(0, NULL));
	SETUP(setresgid(NOBODY, OTHER, NOBODY));
	SETUP(setresuid(NOBODY, NOBODY, NOBODY));
	/* Undo what the uid change did to dumpability ... */
	SETUP(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
	/* ... so only this egid change (OTHER -> NOBODY) clears it. */
	SETUP(setresgid(NOBODY, NOBODY, NOBODY));
}

static void run_instance(const char *params)
{
	struct try_args a = { .req = req_of(params) };
	char seen[256];

	yama_lets_unprivileged_in();
	suid_dumpable_resets();
	a.pid = parked_spawn(egid_changed);
	as_uid(NOBODY, try_on_fn, &a, seen, sizeof(seen));
	parked_kill(a.pid);
	observe("%s", seen);
}
