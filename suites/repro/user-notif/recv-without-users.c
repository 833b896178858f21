/*
 * A filter whose every user has exited can never notify again, so a
 * supervisor calling RECV gets ENOENT instead of waiting for good
 * (95036a79e7b5, 6.11, with bfafe5efa975 releasing an exited task's
 * filters at exit instead of when it is reaped). Kernels before 6.11 only
 * woke poll() (HUP, 5.8, and only once the task was reaped); RECV blocked
 * until a signal ended it: here a SIGALRM after RECV_DEADLINE_MS.
 *
 * params: "target-reaped", "target-zombie" (exited, not yet reaped).
 */

#define RECV_DEADLINE_MS 500

static int target(void)
{
	return 0;
}

static void ignore_alarm(int sig)
{
	(void)sig;
}

static void arm(long ms)
{
	struct itimerval t = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };
	SETUP(setitimer(ITIMER_REAL, &t, NULL));
}

/* RECV with a SIGALRM (no SA_RESTART) after the deadline: "blocked" when
 * the alarm had to end it. */
static const char *recv_or_blocked(int l)
{
	static char text[48];
	struct sigaction sa = { .sa_handler = ignore_alarm }, old;
	struct seccomp_notif n;
	long rc;
	int e;

	sigemptyset(&sa.sa_mask);
	SETUP(sigaction(SIGALRM, &sa, &old));
	arm(RECV_DEADLINE_MS);
	rc = notif_recv(l, &n, 0);
	e = errno;
	arm(0);
	sigaction(SIGALRM, &old, NULL);
	if (rc == 0)
		snprintf(text, sizeof(text), "notification nr=%d", n.data.nr);
	else if (e == EINTR)
		snprintf(text, sizeof(text), "blocked");
	else
		snprintf(text, sizeof(text), "%s", errno_name(e));
	return text;
}

static void run_instance(const char *params)
{
	int zombie = !strcmp(params, "target-zombie"), l;
	char target_text[80], poll[32];
	pid_t pid;

	pid = spawn_target(0, target, &l);
	if (zombie) {
		siginfo_t si;
		SETUP(waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
		snprintf(target_text, sizeof(target_text), "target zombie");
	} else {
		snprintf(target_text, sizeof(target_text), "target %s", wait_exit(pid));
	}
	snprintf(poll, sizeof(poll), "%s", poll_now(l));
	observe("%s; poll=%s recv=%s", target_text, poll, recv_or_blocked(l));
	if (zombie)
		wait_exit(pid);
}
