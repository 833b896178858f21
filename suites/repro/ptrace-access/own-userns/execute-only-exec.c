/*
 * NOBODY unshares a user namespace (its uid owns it, with every
 * capability in it) and execs a program it may run but not read: the
 * image is non-dumpable and its mm->user_ns is the initial namespace
 * (the program's owner, root, is not mapped in the new one), so NOBODY,
 * outside, still may not attach, though it is capable in the task's
 * namespace: bfedb589252c ("mm: Add a user_ns owner to mm_struct and
 * fix ptrace permission checks", v4.10, CVE-2015-8709).
 */

static const char *unshare_then_exec(void *arg, char *note, size_t len)
{
	allow_any_tracer();
	if (unshare(CLONE_NEWUSER) < 0) {
		snprintf(note, len, "unshare=%s", errno_name(errno));
		return NULL;
	}
	return arg;
}

struct userns_case {
	const char *exe;
	int suid_dumpable;
};

static void reach_for_it(void *arg)
{
	const struct userns_case *c = arg;
	struct target t = target_spawn(unshare_then_exec, (void *)c->exe);
	char dumpable[64], want[64], attach[64];

	if (!strncmp(t.note, "unshare=", strlen("unshare="))) {
		target_end(&t);
		skip_forbidden("unprivileged unshare(CLONE_NEWUSER) refused here (%s): user namespaces off (user.max_user_namespaces, kernel.unprivileged_userns_clone)",
			       t.note + strlen("unshare="));
	}
	pick(t.state, "dumpable", dumpable, sizeof(dumpable));
	snprintf(want, sizeof(want), "dumpable=%d", c->suid_dumpable);
	if (!strcmp(dumpable, want))
		snprintf(dumpable, sizeof(dumpable), "dumpable=suid_dumpable");
	attach_text(t.pid, attach, sizeof(attach));
	observe("%s %s", dumpable, attach);
	target_end(&t);
}

static void run_instance(const char *params)
{
	char exe[PATH_MAX];
	struct userns_case c = { exe, 0 };

	(void)params;
	yama_lets_unprivileged_in();
	c.suid_dumpable = suid_dumpable_resets();
	probe_copy(0711, exe, sizeof(exe));
	as_uid(NOBODY, reach_for_it, &c);
	cleanup();
}
