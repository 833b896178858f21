/*
 * A task's dumpability after a change, as the task reads it
 * (PR_GET_DUMPABLE, in its state line) and as /proc shows it (the owner
 * of /proc/PID/mem: root while the task is not dumpable,
 * task_dump_owner() in fs/proc/base.c).
 *
 * PR_SET_DUMPABLE takes 0 or 1 (prctl(2)); commit_creds() resets
 * dumpability to fs.suid_dumpable when the euid, egid, fsuid or fsgid
 * change; exec sets it to 1, or to fs.suid_dumpable for a program the
 * caller may not read (would_dump() in fs/exec.c, the interpreter of a
 * #! script included); a fork copies it with the mm.
 */

enum change {
	PRCTL_0, PRCTL_0_THEN_1, PRCTL_2, SETRESUID, SETFSUID, EXECUTE_ONLY_EXEC,
	PRCTL_0_THEN_EXEC, PRCTL_0_THEN_FORK, UNREADABLE_INTERPRETER,
};

struct how {
	enum change change;
	const char *exe;	/* what the target execs (state-park), or NULL */
	const char *dir;	/* where it execs it from (the script's) */
};

/* Whether the change sets dumpability to fs.suid_dumpable. */
static int resets(enum change c)
{
	return c == SETRESUID || c == SETFSUID || c == EXECUTE_ONLY_EXEC ||
	       c == UNREADABLE_INTERPRETER;
}

/* `dumpable=D mem-owner=root|self|uid=N`; D is `suid_dumpable` where it
 * equals that sysctl (suid_dumpable >= 0: the value a reset must give). */
static void dumpable_words(const struct target *t, int suid_dumpable)
{
	char d[64], euid[64], want[64], path[64], owner[128];
	struct stat st;

	pick(t->state, "dumpable", d, sizeof(d));
	snprintf(want, sizeof(want), "dumpable=%d", suid_dumpable);
	if (suid_dumpable >= 0 && !strcmp(d, want))
		snprintf(d, sizeof(d), "dumpable=suid_dumpable");
	pick(t->state, "euid", euid, sizeof(euid));
	snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
	if (stat(path, &st) < 0) {
		snprintf(owner, sizeof(owner), "%s (os error %d)", strerror(errno), errno);
	} else if (st.st_uid == 0) {
		snprintf(owner, sizeof(owner), "root");
	} else {
		snprintf(want, sizeof(want), "euid=%u", st.st_uid);
		if (!strcmp(want, euid))
			snprintf(owner, sizeof(owner), "self");
		else
			snprintf(owner, sizeof(owner), "uid=%u", st.st_uid);
	}
	observe("%s%s mem-owner=%s", t->note, d, owner);
}

static const char *change_then_park_or_exec(void *arg, char *note, size_t len)
{
	const struct how *how = arg;

	switch (how->change) {
	case SETRESUID:
		drop_to(NOBODY);
		break;
	case SETFSUID:
		setfsuid(OTHER);
		break;
	default:
		drop_to(NOBODY);
		SETUP(set_dumpable(1));
	}
	switch (how->change) {
	case PRCTL_0:
	case PRCTL_0_THEN_EXEC:
		SETUP(set_dumpable(0));
		break;
	case PRCTL_0_THEN_1:
		SETUP(set_dumpable(0));
		SETUP(set_dumpable(1));
		break;
	case PRCTL_2:
		/* SUID_DUMP_ROOT: only the sysctl may set it. */
		snprintf(note, len, "prctl(2)=%s ", result_name(set_dumpable(2)));
		break;
	default:
		break;
	}
	if (how->dir)
		SETUP(chdir(how->dir));
	return how->exe;
}

static const char *just_park(void *arg, char *note, size_t len)
{
	(void)arg, (void)note, (void)len;
	return NULL;
}

/* As NOBODY: PR_SET_DUMPABLE 0, then fork the target. */
static void forked_by_non_dumpable(void *arg)
{
	struct target t;
	(void)arg;
	SETUP(set_dumpable(0));
	t = target_spawn(just_park, NULL);
	dumpable_words(&t, -1);
	target_end(&t);
}

static void run_instance(const char *params)
{
	static const char *const slugs[] = {
		"prctl-0", "prctl-0-then-1", "prctl-2", "setresuid", "setfsuid",
		"execute-only-exec", "prctl-0-then-exec", "prctl-0-then-fork",
		"unreadable-interpreter",
	};
	char copy[PATH_MAX] = "", dir[PATH_MAX] = "";
	struct how how = { 0 };
	int suid_dumpable = -1;
	struct target t;

	for (unsigned i = 0; i < sizeof(slugs) / sizeof(slugs[0]); i++)
		if (!strcmp(params, slugs[i]))
			how.change = i;
	if (resets(how.change))
		suid_dumpable = suid_dumpable_resets();

	if (how.change == EXECUTE_ONLY_EXEC || how.change == UNREADABLE_INTERPRETER)
		probe_copy(0711, copy, sizeof(copy));
	else if (how.change == PRCTL_0_THEN_EXEC && geteuid() == 0 && !world_runnable(probe_exe()))
		/* NOBODY must be able to read the program, or the exec itself
		 * makes it non-dumpable. */
		probe_copy(0755, copy, sizeof(copy));

	if (how.change == UNREADABLE_INTERPRETER) {
		/* Exec'd by its relative name from its directory, the script
		 * `state-park` makes binfmt_script run
		 * `INTERPRETER __probe state-park ...`. */
		script_new("state-park", copy, "__probe", dir, sizeof(dir));
		how.exe = "state-park";
		how.dir = dir;
	} else if (copy[0]) {
		how.exe = copy;
	} else if (how.change == PRCTL_0_THEN_EXEC) {
		how.exe = probe_exe();
	}

	if (how.change == PRCTL_0_THEN_FORK) {
		as_uid(NOBODY, forked_by_non_dumpable, NULL);
	} else {
		t = target_spawn(change_then_park_or_exec, &how);
		dumpable_words(&t, suid_dumpable);
		target_end(&t);
	}
	cleanup();
}
