/*
 * A filter that traps rt_sigreturn(): the SIGSYS handler runs, but
 * returning from it is a trapped syscall made with SIGSYS still blocked
 * (the handler's mask is only lifted by the sigreturn itself), so the
 * forced SIGSYS meets a blocked signal and the task dies with SIGSYS.
 */

static int subject(void *arg)
{
	struct filter_rule traps[] = {
		RULE(__NR_rt_sigreturn, SECCOMP_RET_TRAP | 15),
		RULE(__NR_getppid, SECCOMP_RET_TRAP | 2),
	};

	(void)arg;
	handle(SIGSYS, refusing_handler, 0, no_signals());
	install_rules_or_exit(traps, 2);
	getppid_raw();
	note("after");
	return 0;
}

static void run_instance(const char *params)
{
	char text[2048];
	(void)params;
	run_subject(subject, NULL, text, sizeof(text));
	observe("%s", text);
}
