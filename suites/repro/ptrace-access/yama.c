/*
 * Yama (security/yama/yama_lsm.c) decides every PTRACE_MODE_ATTACH
 * access of a same-uid, dumpable target by kernel.yama.ptrace_scope:
 * 0 nothing more; 1 the caller must be an ancestor of the target, or
 * named by the target's PR_SET_PTRACER (or descend from the one named;
 * PR_SET_PTRACER_ANY names everyone), or have CAP_SYS_PTRACE; 2
 * CAP_SYS_PTRACE only. process_vm_readv(), /proc/PID/mem and
 * PTRACE_ATTACH alike. The scope is global: the instance runs only
 * where the one it checks is in force.
 */

enum relation {
	DESCENDANT, SIBLING, DECLARED_ANCESTOR, DECLARED_ANY, DECLARED_UNRELATED,
	ROOT_SIBLING,
};

static pid_t instance_pid;

/* process_vm_readv(), /proc/PID/mem, then PTRACE_ATTACH (last: once
 * attached, Yama lets the tracer read anyway). */
static void all_three(pid_t pid)
{
	char readv[128], mem[128], attach[64];
	readv_text(pid, readv, sizeof(readv));
	proc_mem_text(pid, mem, sizeof(mem));
	attach_text(pid, attach, sizeof(attach));
	observe("%s %s %s", readv, mem, attach);
}

/* The instance's child, a sibling of the reader: NOBODY, dumpable,
 * declaring the tracer the relation says. */
static const char *sibling_setup(void *arg, char *note, size_t len)
{
	enum relation declare = *(enum relation *)arg;
	(void)note, (void)len;
	drop_to(NOBODY);
	SETUP(set_dumpable(1));
	if (declare == DECLARED_ANCESTOR)
		SETUP(prctl(PR_SET_PTRACER, instance_pid, 0, 0, 0));
	else if (declare == DECLARED_ANY)
		allow_any_tracer();
	else if (declare == DECLARED_UNRELATED)
		SETUP(prctl(PR_SET_PTRACER, getpid(), 0, 0, 0));
	set_mark();
	return NULL;
}

/* As NOBODY: reach for a child of one's own. */
static void read_own_child(void *arg)
{
	struct target t = target_spawn(marked_setup, NULL);
	(void)arg;
	all_three(t.pid);
	target_end(&t);
}

static void read_sibling(void *arg)
{
	all_three(*(pid_t *)arg);
}

static void run_instance(const char *params)
{
	static const char *const slugs[] = {
		"descendant", "sibling", "sibling-declared-ancestor",
		"sibling-declared-any", "sibling-declared-unrelated", "root-sibling",
	};
	int want = atoi(params + strlen("scope-")), scope = yama_scope();
	const char *rel = strchr(params, '/') + 1;
	enum relation relation = SIBLING;
	struct target t;

	for (unsigned i = 0; i < sizeof(slugs) / sizeof(slugs[0]); i++)
		if (!strcmp(rel, slugs[i]))
			relation = i;
	if (scope < 0)
		skip_lacks("no /proc/sys/kernel/yama: Yama is not built in (CONFIG_SECURITY_YAMA) or not enabled");
	if (scope != want)
		skip_forbidden("kernel.yama.ptrace_scope is %d here; this instance checks scope %d (kconform never changes it on the running kernel; under QEMU it does)",
			       scope, want);
	readv_exists();
	instance_pid = getpid();

	if (relation == DESCENDANT) {
		as_uid(NOBODY, read_own_child, NULL);
		return;
	}
	t = target_spawn(sibling_setup, relation == ROOT_SIBLING ? &(enum relation){ SIBLING }
								 : &relation);
	/* The instance process is the target's parent: a sibling of the
	 * target, another child of the instance, does the reading (as root
	 * for root-sibling, which has CAP_SYS_PTRACE). */
	as_uid(relation == ROOT_SIBLING ? 0 : NOBODY, read_sibling, &t.pid);
	target_end(&t);
}
