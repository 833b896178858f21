/*
 * A filter that traps seccomp() stops the task from stacking filters
 * through seccomp(): the handler sees the operation in arg0, makes the
 * call fail with EPERM, and no filter is added. prctl(PR_SET_SECCOMP,
 * SECCOMP_MODE_FILTER) is another syscall number the filter does not
 * name, and installs it (seccomp(2): filters must check every way in).
 *
 * params: seccomp-set-mode-filter, seccomp-get-action-avail,
 * prctl-set-seccomp.
 */

static int subject(void *arg)
{
	const char *p = arg;
	struct filter_rule trap[] = { RULE(__NR_seccomp, SECCOMP_RET_TRAP | 5) };
	/* The second filter: getppid() fails with ESRCH where it is in place. */
	struct filter_rule second[] = { RULE(__NR_getppid, SECCOMP_RET_ERRNO | ESRCH) };
	struct sock_filter f[32];
	struct sock_fprog prog = { filter_program(f, second, 1), f };
	char said[64];

	handle(SIGSYS, refusing_handler, 0, no_signals());
	install_rules_or_exit(trap, 1);

	if (!strcmp(p, "seccomp-set-mode-filter")) {
		long rc = seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog);
		snprintf(said, sizeof(said), "seccomp=%s", result_name(rc));
	} else if (!strcmp(p, "seccomp-get-action-avail")) {
		unsigned int action = SECCOMP_RET_LOG;
		long rc = seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action);
		snprintf(said, sizeof(said), "seccomp=%s", result_name(rc));
	} else {
		long rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
		snprintf(said, sizeof(said), "prctl=%s", result_name(rc));
	}
	note(said);
	note(getppid_raw() == -ESRCH ? "second-filter=installed" : "second-filter=absent");
	return 0;
}

static void run_instance(const char *params)
{
	char text[2048];
	run_subject(subject, (void *)params, text, sizeof(text));
	observe("%s", text);
}
