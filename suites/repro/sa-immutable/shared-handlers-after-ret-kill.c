/*
 * When SECCOMP_RET_KILL_{PROCESS,THREAD} forces SIGSYS, the kernel resets
 * the handler to SIG_DFL and marks it SA_IMMUTABLE so nothing can catch
 * the fatal signal (force_sig_seccomp(), 5.16: 00b06da29cf9 and
 * e349d945fac7). A process that shares the handler table (CLONE_SIGHAND)
 * sees that: reading or changing its SIGSYS action fails with EINVAL.
 * Before 5.16 the kernel exited the task directly (do_exit(SIGSYS)) and
 * left the handler alone.
 *
 * params: kill-process or kill-thread.
 */

struct sharer { struct sock_fprog prog; };

/* The CLONE_VM | CLONE_SIGHAND child: raw calls only (it shares our
 * memory): filter getppid() with RET_KILL, and call it. */
static int killed_sharer(void *arg)
{
	struct sharer *s = arg;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		setup_failed("prctl(PR_SET_NO_NEW_PRIVS)");
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &s->prog) < 0)
		setup_failed("seccomp(SET_MODE_FILTER)");
	syscall(__NR_getppid);
	return 0;
}

struct subject_args { unsigned int action; int notes_tx; };

static int subject(void *arg)
{
	struct subject_args *a = arg;
	struct sock_filter f[16];
	struct sharer s;
	size_t stack_len = 64 * 1024;
	char *stack, end[64], line[160];
	const char *handler, *change;
	pid_t child;

	s.prog.len = one_rule_program(f, __NR_getppid, a->action);
	s.prog.filter = f;
	apply_disposition(HANDLED, SIGSYS, a->notes_tx);
	/* Without a dump to write, the coredump path never runs; before 5.16
	 * it would also have killed every task sharing the mm. */
	SETUP(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
	stack = malloc(stack_len);
	if (!stack) {
		errno = ENOMEM;
		setup_failed("malloc(stack)");
	}
	child = clone(killed_sharer, stack + stack_len, CLONE_VM | CLONE_SIGHAND | SIGCHLD, &s);
	if (child < 0)
		setup_failed("clone(CLONE_VM | CLONE_SIGHAND)");
	snprintf(end, sizeof(end), "%s", wait_exit(child));

	/* What the sharer's RET_KILL left in the shared handler table. */
	handler = handler_name(SIGSYS);
	change = try_install_handler(SIGSYS, a->notes_tx);
	snprintf(line, sizeof(line), "sharer %s; handler=%s sigaction=%s", end, handler, change);
	note_to(a->notes_tx, line);
	free(stack);
	return 0;
}

static void run_instance(const char *params)
{
	struct notes notes = notes_new();
	struct subject_args a = {
		!strcmp(params, "kill-thread") ? SECCOMP_RET_KILL_THREAD
					       : SECCOMP_RET_KILL_PROCESS,
		notes.tx,
	};
	pid_t pid = spawn(subject, &a);
	const char *end = wait_exit(pid);

	if (strcmp(end, "exit 0")) {
		instance_error("the subject did not finish");
	}
	observe("%s", notes_summary(&notes));
}
