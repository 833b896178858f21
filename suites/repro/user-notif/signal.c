/*
 * A signal while the notifying call waits (seccomp_unotify(2), NOTES).
 * The waiting task sleeps interruptibly: a signal takes the notification
 * off the list (its id turns invalid) and the call returns -ERESTARTSYS,
 * so after the handler it is made again (SA_RESTART: a new notification
 * with a new id) or fails with EINTR. With
 * SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19) the wait turns killable
 * once the supervisor has received the notification: the signal waits
 * for the answer and the handler runs after the call returns; before
 * RECV it still interrupts.
 *
 * params: "after-recv/sa-restart", "after-recv/no-restart",
 * "after-recv/wait-killable-recv", "before-recv/wait-killable-recv".
 */

/* Only a kernel that fails to deliver the signal makes this wait out. */
#define PATIENCE_MS 5000

static int handled_tx = -1, restart;

static void on_usr1(int sig)
{
	(void)sig;
	note("handler");
	latch_set(handled_tx);
}

static int target(void)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = restart ? SA_RESTART : 0 };
	sigemptyset(&sa.sa_mask);
	SETUP(sigaction(SIGUSR1, &sa, NULL));
	note(ret_text(notif_call()));
	return 0;
}

/* Is this SECCOMP_SET_MODE_FILTER flag known? A null program then fails
 * with EFAULT, an unknown flag with EINVAL. */
static int filter_flag_known(unsigned int flags)
{
	return seccomp(SECCOMP_SET_MODE_FILTER, flags, NULL) < 0 && errno == EFAULT;
}

static void run_instance(const char *params)
{
	int killable = strstr(params, "wait-killable-recv") != NULL, l;
	unsigned int flags = 0;
	struct latch handled;
	pid_t pid;

	if (killable) {
		if (!filter_flag_known(SECCOMP_FILTER_FLAG_NEW_LISTENER |
				       SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV))
			skip_lacks("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19) not supported");
		flags = SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	}
	target_notes = notes_new();
	handled = latch_new();
	handled_tx = handled.tx;
	restart = strcmp(params, "after-recv/no-restart") != 0;
	pid = spawn_target(flags, target, &l);
	latch_forked(&handled);

	if (!killable) {
		struct seccomp_notif n1 = recv_one(l), n2;
		char old[128], target_text[4300];
		int ran;

		SETUP(kill(pid, SIGUSR1));
		ran = latch_wait(&handled, PATIENCE_MS);
		snprintf(old, sizeof(old), "handler-ran=%s old-id-valid=%s", yes(ran),
			 result_name(notif_id_valid(l, n1.id)));
		snprintf(old + strlen(old), sizeof(old) - strlen(old), " old-send=%s",
			 result_name(notif_reply(l, n1.id, 1)));
		if (restart && ran) {
			char send[32];
			int same;
			n2 = recv_one(l);
			same = n2.data.nr == n1.data.nr &&
			       !memcmp(n2.data.args, n1.data.args, sizeof(n1.data.args));
			snprintf(send, sizeof(send), "%s", result_name(notif_reply(l, n2.id, 7)));
			snprintf(target_text, sizeof(target_text), "%s", target_end(pid));
			observe("%s; renotified same-call=%s new-id=%s send=%s; %s", old, yes(same),
				yes(n2.id != n1.id), send, target_text);
		} else {
			snprintf(target_text, sizeof(target_text), "%s", target_end(pid));
			observe("%s; %s; poll=%s", old, target_text, poll_now(l));
		}
	} else if (!strncmp(params, "after-recv/", 11)) {
		struct seccomp_notif n = recv_one(l);
		char valid[32], send[32];
		SETUP(kill(pid, SIGUSR1));
		snprintf(valid, sizeof(valid), "%s", result_name(notif_id_valid(l, n.id)));
		snprintf(send, sizeof(send), "%s", result_name(notif_reply(l, n.id, 5)));
		observe("id-valid=%s send=%s; %s", valid, send, target_end(pid));
	} else {
		struct seccomp_notif n;
		char pending[32], send[32];
		int ran;
		snprintf(pending, sizeof(pending), "%s", wait_pending(l));
		SETUP(kill(pid, SIGUSR1));
		ran = latch_wait(&handled, PATIENCE_MS);
		/* The interrupted notification left RECV's semaphore raised:
		 * receive only once the restarted call's notification is
		 * listed, or RECV may find nothing (ENOENT). */
		wait_pending(l);
		n = recv_one(l);
		snprintf(send, sizeof(send), "%s", result_name(notif_reply(l, n.id, 6)));
		observe("pending=%s handler-ran-before-recv=%s send=%s; %s", pending, yes(ran), send,
			target_end(pid));
	}
}
