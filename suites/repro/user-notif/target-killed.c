/*
 * A notification whose task was killed is gone: the task leaves
 * seccomp_do_user_notification() and takes its notification off the list,
 * so ID_VALID, SEND and ADDFD find nothing by its id (ENOENT); once no
 * task uses the filter, poll reports HUP (5.8). A notification killed
 * before RECV leaves RECV's semaphore raised: RECV returns ENOENT instead
 * of blocking.
 *
 * params: "before-recv", "after-recv".
 */

static int target(void)
{
	notif_call();
	return 0;
}

static void run_instance(const char *params)
{
	char end[64], a[32], b[32], c[32];
	pid_t pid;
	int l;

	pid = spawn_target(0, target, &l);
	if (!strcmp(params, "before-recv")) {
		struct seccomp_notif n;
		char pending[32], poll[32];
		snprintf(pending, sizeof(pending), "%s", wait_pending(l));
		snprintf(end, sizeof(end), "%s", kill_and_reap(pid));
		snprintf(poll, sizeof(poll), "%s", poll_now(l));
		observe("pending=%s; target %s; poll=%s recv=%s", pending, end, poll,
			result_name(notif_recv(l, &n, 0)));
	} else {
		struct seccomp_notif n = recv_one(l);
		int fds[2];
		char before[32];
		snprintf(before, sizeof(before), "%s", result_name(notif_id_valid(l, n.id)));
		snprintf(end, sizeof(end), "%s", kill_and_reap(pid));
		snprintf(a, sizeof(a), "%s", result_name(notif_id_valid(l, n.id)));
		snprintf(b, sizeof(b), "%s", result_name(notif_reply(l, n.id, 1)));
		SETUP(pipe2(fds, O_CLOEXEC));
		snprintf(c, sizeof(c), "%s", result_name(notif_addfd(l, n.id, fds[1], 0, 0, 0)));
		observe("id-valid=%s; target %s; id-valid=%s send=%s addfd=%s poll=%s", before, end,
			a, b, c, poll_now(l));
	}
}
