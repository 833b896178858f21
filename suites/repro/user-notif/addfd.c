/*
 * SECCOMP_IOCTL_NOTIF_ADDFD (5.9, seccomp_unotify(2)) puts a file of the
 * supervisor's into the waiting task: at the lowest free number, at a
 * chosen one (SECCOMP_ADDFD_FLAG_SETFD), with O_CLOEXEC, or installed and
 * answered in one step (SECCOMP_ADDFD_FLAG_SEND, 5.14). The supervisor
 * makes a pipe after the target forked, so ADDFD is the only way the
 * target can hold its write end; the target's call returns the fd number
 * (the supervisor's answer, or ADDFD itself with SEND) and the target
 * writes into it.
 *
 * params: "plain", "setfd", "cloexec", "send".
 */

#define SETFD_AT 77

static int target(void)
{
	long r = notif_call();
	char line[48];

	snprintf(line, sizeof(line), "fd=%ld", r);
	note(line);
	if (r >= 0) {
		int f = fcntl(r, F_GETFD);
		snprintf(line, sizeof(line), "cloexec=%s",
			 f < 0 ? errno_name(errno) : yes(f & FD_CLOEXEC));
		note(line);
		note(write(r, "addfd", 5) == 5 ? "wrote" : "write-failed");
	}
	return 0;
}

static void run_instance(const char *params)
{
	uint32_t newfd = 0, newfd_flags = 0, flags = 0;
	int send = !strcmp(params, "send"), fds[2], l, e;
	char answered[48], added_text[32], target_said[4096] = "", end[64], got[17];
	struct seccomp_notif n;
	const char *notes;
	long added;
	ssize_t nread;
	pid_t pid;

	target_notes = notes_new();
	pid = spawn_target(0, target, &l);
	n = recv_one(l);
	SETUP(pipe2(fds, O_CLOEXEC));
	if (!strcmp(params, "setfd")) {
		newfd = SETFD_AT;
		flags = SECCOMP_ADDFD_FLAG_SETFD;
	} else if (!strcmp(params, "cloexec")) {
		newfd_flags = O_CLOEXEC;
	} else if (send) {
		flags = SECCOMP_ADDFD_FLAG_SEND;
	}
	added = notif_addfd(l, n.id, fds[1], newfd, newfd_flags, flags);
	e = errno;
	close(fds[1]);
	if (added < 0 && e == EINVAL) {
		notif_send(l, n.id, 0, -ENOSYS, 0);
		wait_exit(pid);
		skip_lacks(send ? "SECCOMP_ADDFD_FLAG_SEND (5.14) not supported"
				: "SECCOMP_IOCTL_NOTIF_ADDFD (5.9) not supported");
	}
	if (send)
		snprintf(answered, sizeof(answered), "id-valid=%s",
			 result_name(notif_id_valid(l, n.id)));
	else
		snprintf(answered, sizeof(answered), "send=%s",
			 result_name(notif_reply(l, n.id, added < 0 ? -1 : added)));
	snprintf(end, sizeof(end), "%s", wait_exit(pid));

	/* The fd number varies: "fd=added" when it is the one ADDFD gave. */
	notes = notes_joined(&target_notes);
	for (const char *s = notes; *s; ) {
		size_t len = strcspn(s, ","), at = strlen(target_said);
		char added_note[32];
		snprintf(added_note, sizeof(added_note), "fd=%ld", added);
		if (added >= 0 && len == strlen(added_note) && !strncmp(s, added_note, len))
			snprintf(target_said + at, sizeof(target_said) - at, "%sfd=added",
				 at ? "," : "");
		else
			snprintf(target_said + at, sizeof(target_said) - at, "%s%.*s",
				 at ? "," : "", (int)len, s);
		s += len + (s[len] == ',');
	}
	nread = read(fds[0], got, sizeof(got) - 1);
	got[nread > 0 ? nread : 0] = 0;
	if (added < 0)
		snprintf(added_text, sizeof(added_text), "%s", errno_name(e));
	else if (!strcmp(params, "setfd"))
		snprintf(added_text, sizeof(added_text), "%ld", added);
	else
		snprintf(added_text, sizeof(added_text), "ok");
	observe("addfd=%s %s; target %s %s; pipe=%s", added_text, answered, target_said, end, got);
}
