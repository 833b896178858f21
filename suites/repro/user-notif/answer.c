/*
 * SECCOMP_IOCTL_NOTIF_SEND decides what the notifying call returns,
 * exactly once (seccomp_unotify(2)): a value, or an error (which wins over
 * a value); SECCOMP_USER_NOTIF_FLAG_CONTINUE (5.5) lets the call run
 * after all, and CONTINUE with a value is refused with EINVAL, leaving
 * the notification pending. Once answered the id is invalid (ENOENT).
 *
 * params: "value", "error", "error-and-value", "continue",
 * "continue-with-value".
 */

static int target(void)
{
	note(ret_text(notif_call()));
	return 0;
}

static void run_instance(const char *params)
{
	int cont = !strncmp(params, "continue", 8), l;
	struct seccomp_notif n;
	char send[128], valid_after[32], target_text[4300];
	pid_t pid;

	target_notes = notes_new();
	pid = spawn_target(0, target, &l);
	n = recv_one(l);
	/* An id far from any the filter handed out probes what SEND accepts. */
	if (cont && notif_send(l, n.id + (1ULL << 40), 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE) < 0 &&
	    errno == EINVAL) {
		notif_reply(l, n.id, 0);
		wait_exit(pid);
		skip_lacks("SECCOMP_USER_NOTIF_FLAG_CONTINUE (5.5) not supported");
	}
	if (!strcmp(params, "value")) {
		snprintf(send, sizeof(send), "%s", result_name(notif_send(l, n.id, 42, 0, 0)));
	} else if (!strcmp(params, "error")) {
		snprintf(send, sizeof(send), "%s", result_name(notif_send(l, n.id, 0, -EPERM, 0)));
	} else if (!strcmp(params, "error-and-value")) {
		snprintf(send, sizeof(send), "%s", result_name(notif_send(l, n.id, 42, -EPERM, 0)));
	} else if (!strcmp(params, "continue")) {
		snprintf(send, sizeof(send), "%s",
			 result_name(notif_send(l, n.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)));
	} else {
		char refused[32], pending[32];
		snprintf(refused, sizeof(refused), "%s",
			 result_name(notif_send(l, n.id, 42, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)));
		snprintf(pending, sizeof(pending), "%s", result_name(notif_id_valid(l, n.id)));
		snprintf(send, sizeof(send), "%s id-valid=%s then-value-7=%s", refused, pending,
			 result_name(notif_reply(l, n.id, 7)));
	}
	snprintf(valid_after, sizeof(valid_after), "%s", result_name(notif_id_valid(l, n.id)));
	snprintf(target_text, sizeof(target_text), "%s", target_end(pid));
	observe("send=%s id-valid=%s; %s; send-again=%s", send, valid_after, target_text,
		result_name(notif_reply(l, n.id, 1)));
}
