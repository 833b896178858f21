/*
 * A trap while SIGSYS is blocked (in its own handler, or by another
 * handler's sa_mask) cannot be held pending: force_sig_info() unblocks it,
 * resets the handler to SIG_DFL, and the task dies with SIGSYS. With
 * SA_NODEFER the nested trap runs the handler again; after SA_RESETHAND
 * the second trap meets SIG_DFL.
 *
 * params: inside-handler, inside-nodefer-handler,
 * inside-other-handler-masking-sigsys, after-resethand-handler.
 */

static volatile int depth, nest;

static void nesting_handler(int sig, siginfo_t *info, void *ctx)
{
	char line[64];
	int d = ++depth;

	(void)sig;
	(void)info;
	(void)ctx;
	snprintf(line, sizeof(line), "handler depth=%d", d);
	note(line);
	if (d == 1 && nest) {
		getppid_raw(); /* traps again inside the handler */
		note("nested-returned");
	}
	depth--;
}

static int subject(void *arg)
{
	const char *p = arg;
	struct filter_rule trap[] = { RULE(__NR_getppid, SECCOMP_RET_TRAP | 2) };
	int flags = 0;
	sigset_t sys_only;

	if (!strcmp(p, "inside-nodefer-handler"))
		flags = SA_NODEFER;
	else if (!strcmp(p, "after-resethand-handler"))
		flags = SA_RESETHAND;
	nest = !strcmp(p, "inside-handler") || !strcmp(p, "inside-nodefer-handler");
	sigemptyset(&sys_only);
	sigaddset(&sys_only, SIGSYS);
	handle(SIGSYS, nesting_handler, flags, no_signals());
	handle(SIGUSR1, usr1_handler, 0, &sys_only);
	install_rules_or_exit(trap, 1);

	if (!strcmp(p, "inside-other-handler-masking-sigsys")) {
		raise(SIGUSR1);
	} else if (!strcmp(p, "after-resethand-handler")) {
		getppid_raw();
		note("after-first");
		getppid_raw();
	} else {
		getppid_raw();
	}
	note("after");
	return 0;
}

static void run_instance(const char *params)
{
	char text[2048];
	run_subject(subject, (void *)params, text, sizeof(text));
	observe("%s", text);
}
