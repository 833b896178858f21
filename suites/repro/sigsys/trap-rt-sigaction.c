/*
 * A filter that traps rt_sigaction() leaves every disposition as it was:
 * the SIGSYS handler installed before stays (and keeps catching traps), a
 * new SIGUSR1 handler never arrives (the raise kills), and a task without
 * a SIGSYS handler cannot install one: that very call traps into SIG_DFL.
 *
 * params: ignore-sigsys, handle-sigusr1, sigsys-handler-after-filter.
 */

static int subject(void *arg)
{
	const char *p = arg;
	struct filter_rule traps[] = {
		RULE(__NR_rt_sigaction, SECCOMP_RET_TRAP | 9),
		RULE(__NR_getppid, SECCOMP_RET_TRAP | 2),
	};
	char said[64];

	if (strcmp(p, "sigsys-handler-after-filter"))
		handle(SIGSYS, refusing_handler, 0, no_signals());
	install_rules_or_exit(traps, 2);

	if (!strcmp(p, "ignore-sigsys")) {
		struct sigaction act;
		memset(&act, 0, sizeof(act));
		act.sa_handler = SIG_IGN;
		sigemptyset(&act.sa_mask);
		snprintf(said, sizeof(said), "sigaction=%s", result_name(sigaction(SIGSYS, &act, NULL)));
		note(said);
		getppid_raw();
	} else if (!strcmp(p, "handle-sigusr1")) {
		int rc = install(SIGUSR1, usr1_handler, 0, no_signals());
		snprintf(said, sizeof(said), "sigaction=%s", result_name(rc));
		note(said);
		raise(SIGUSR1);
	} else {
		int rc = install(SIGSYS, refusing_handler, 0, no_signals());
		snprintf(said, sizeof(said), "sigaction=%s", result_name(rc));
		note(said);
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
