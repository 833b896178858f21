/*
 * When the last listener fd closes (seccomp_notify_release() ->
 * seccomp_notify_detach()), every notification not yet answered is
 * answered with ENOSYS and the filter's notification state is freed:
 * later calls fail with ENOSYS at once, and the filter no longer counts
 * as a listener, so a new NEW_LISTENER filter may be installed below it.
 *
 * params: "closed-before-call" (the scenario closes the listener first),
 * "dies-before-recv", "dies-after-recv" (a supervisor process holding the
 * only listener is killed before or after it received the call).
 */

static struct gate go;

static int target(void)
{
	char line[64];
	long relisten;

	gate_wait(&go);
	snprintf(line, sizeof(line), "first %s", ret_text(notif_call()));
	note(line);
	snprintf(line, sizeof(line), "second %s", ret_text(notif_call()));
	note(line);
	relisten = install_notifying_filter(SECCOMP_FILTER_FLAG_NEW_LISTENER);
	snprintf(line, sizeof(line), "new-listener=%s", result_name(relisten));
	note(line);
	return 0;
}

/* The supervisor: see the call (received, or only pending), say so, and
 * hold the listener until killed. */
static void supervise(int l, int after_recv, int seen_tx)
{
	struct seccomp_notif n;
	int got = after_recv ? notif_recv(l, &n, 0) == 0 : !strcmp(wait_pending(l), "IN");
	if (got)
		latch_set(seen_tx);
	for (;;)
		pause();
}

static void run_instance(const char *params)
{
	char supervisor[64] = "";
	pid_t pid;
	int l;

	target_notes = notes_new();
	go = gate_new();
	pid = spawn_target(0, target, &l);
	if (!strcmp(params, "closed-before-call")) {
		close(l);
		gate_open(&go);
	} else {
		struct latch seen = latch_new();
		pid_t s = SETUP(fork());
		if (s == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			supervise(l, !strcmp(params, "dies-after-recv"), seen.tx);
		}
		latch_forked(&seen);
		close(l);
		gate_open(&go);
		if (!latch_wait(&seen, -1)) {
			kill_and_reap(s);
			kill_and_reap(pid);
			errno = 0;
			setup_failed("the supervisor never saw the call");
		}
		snprintf(supervisor, sizeof(supervisor), "supervisor %s; ", kill_and_reap(s));
	}
	observe("%s%s", supervisor, target_end(pid));
}
