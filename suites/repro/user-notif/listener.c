/*
 * The listener fd (seccomp_unotify(2)): one per filter chain (a second
 * NEW_LISTENER filter is refused with EBUSY while one has a listener; a
 * filter without one installs; once the first listener is closed a new
 * one may be made), what the fd is (an anon inode "seccomp notify",
 * O_CLOEXEC, read-write), its poll states through a notification's life,
 * RECV's check that its buffer is zeroed (5.5), and the ABI sizes
 * SECCOMP_GET_NOTIF_SIZES reports.
 *
 * params: "second-listener", "fd", "poll-states", "dirty-recv", "sizes".
 */

static const char *which;
static struct gate go, hold;
static int returned_tx = -1;

/* second-listener and fd: the subject checks its own listener and notes
 * what it found. */
static int filtered_subject(void *arg)
{
	char line[256];
	long first;

	(void)arg;
	SETUP(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	first = install_notifying_filter(SECCOMP_FILTER_FLAG_NEW_LISTENER);
	if (first < 0) {
		snprintf(line, sizeof(line), "first=%s", errno_name(errno));
		note(line);
		return 0;
	}
	if (!strcmp(which, "second-listener")) {
		char second[32], plain[32];
		snprintf(second, sizeof(second), "%s",
			 result_name(install_notifying_filter(SECCOMP_FILTER_FLAG_NEW_LISTENER)));
		snprintf(plain, sizeof(plain), "%s", result_name(install_notifying_filter(0)));
		close(first);
		snprintf(line, sizeof(line), "second=%s without-listener=%s after-close=%s", second,
			 plain,
			 result_name(install_notifying_filter(SECCOMP_FILTER_FLAG_NEW_LISTENER)));
	} else {
		char path[64], kind[128];
		const char *cloexec = "?", *mode = "?";
		ssize_t n;
		int fd_flags, fl_flags;

		snprintf(path, sizeof(path), "/proc/self/fd/%ld", first);
		n = readlink(path, kind, sizeof(kind) - 1);
		if (n < 0)
			snprintf(kind, sizeof(kind), "unreadable(%s)", strerror(errno));
		else
			kind[n] = 0;
		for (char *c = kind; *c; c++)
			if (*c == ' ')
				*c = '-';
		fd_flags = fcntl(first, F_GETFD);
		fl_flags = fcntl(first, F_GETFL);
		if (fd_flags >= 0)
			cloexec = yes(fd_flags & FD_CLOEXEC);
		if (fl_flags >= 0)
			mode = (fl_flags & O_ACCMODE) == O_RDWR ? "rdwr" :
			       (fl_flags & O_ACCMODE) == O_RDONLY ? "rdonly" : "wronly";
		snprintf(line, sizeof(line), "kind=%s cloexec=%s mode=%s", kind, cloexec, mode);
	}
	note(line);
	return 0;
}

static void in_filtered_subject(void)
{
	pid_t pid = spawn(filtered_subject, NULL);
	const char *end = wait_exit(pid), *notes;
	if (strcmp(end, "exit 0")) {
		errno = 0;
		setup_failed("the subject");
	}
	notes = notes_joined(&target_notes);
	observe("%s", notes[0] ? notes : "none");
}

/* poll-states: call once let go, say it returned, stay until let go
 * again (so "answered" is not mistaken for "no users"). */
static int poll_target(void)
{
	gate_wait(&go);
	notif_call();
	latch_set(returned_tx);
	gate_wait(&hold);
	return 0;
}

static void poll_states(void)
{
	struct latch returned;
	struct seccomp_notif n;
	char idle[16], pending[16], received[16], answered[16], end[64];
	pid_t pid;
	int l;

	go = gate_new();
	hold = gate_new();
	returned = latch_new();
	returned_tx = returned.tx;
	pid = spawn_target(0, poll_target, &l);
	latch_forked(&returned);
	snprintf(idle, sizeof(idle), "%s", poll_now(l));
	gate_open(&go);
	snprintf(pending, sizeof(pending), "%s", wait_pending(l));
	n = recv_one(l);
	snprintf(received, sizeof(received), "%s", poll_now(l));
	SETUP(notif_reply(l, n.id, 0));
	snprintf(answered, sizeof(answered), "%s",
		 latch_wait(&returned, -1) ? poll_now(l) : "target-gone");
	gate_open(&hold);
	snprintf(end, sizeof(end), "%s", wait_exit(pid));
	observe("idle=%s pending=%s received=%s answered=%s; target %s; gone=%s", idle, pending,
		received, answered, end, poll_now(l));
}

static int calling_target(void)
{
	notif_call();
	return 0;
}

/* dirty-recv: a kernel that takes the dirty buffer hands the
 * notification out with it; that one is answered, as no second RECV
 * would get it. */
static void dirty_recv(void)
{
	struct seccomp_notif n;
	char pending[16], dirty[32], zeroed[32];
	pid_t pid;
	int l;

	pid = spawn_target(0, calling_target, &l);
	snprintf(pending, sizeof(pending), "%s", wait_pending(l));
	if (notif_recv(l, &n, 1) == 0) {
		snprintf(dirty, sizeof(dirty), "ok");
		SETUP(notif_reply(l, n.id, 0));
		snprintf(zeroed, sizeof(zeroed), "not-tried");
	} else {
		snprintf(dirty, sizeof(dirty), "%s", errno_name(errno));
		if (notif_recv(l, &n, 0) == 0) {
			snprintf(zeroed, sizeof(zeroed), "ok");
			SETUP(notif_reply(l, n.id, 0));
		} else {
			snprintf(zeroed, sizeof(zeroed), "%s", errno_name(errno));
			kill(pid, SIGKILL);
		}
	}
	observe("pending=%s dirty=%s zeroed=%s; target %s", pending, dirty, zeroed, wait_exit(pid));
}

static void sizes(void)
{
	unsigned short s[3];
	SETUP(seccomp(SECCOMP_GET_NOTIF_SIZES, 0, s));
	observe("seccomp_notif=%u seccomp_notif_resp=%u seccomp_data=%u", s[0], s[1], s[2]);
}

static void run_instance(const char *params)
{
	which = params;
	target_notes = notes_new();
	if (!strcmp(params, "second-listener") || !strcmp(params, "fd"))
		in_filtered_subject();
	else if (!strcmp(params, "poll-states"))
		poll_states();
	else if (!strcmp(params, "dirty-recv"))
		dirty_recv();
	else
		sizes();
}
