/*
 * user-notif: SECCOMP_RET_USER_NOTIF from the supervisor's side
 * (suites/src/user_notif.rs and suites/src/kit/notif.rs).
 *
 * A target process installs a filter that notifies on
 * getpgid(NOTIF_ARG, 1, 2, 3, 4, 5) (the extra arguments only show in the
 * notification) with SECCOMP_FILTER_FLAG_NEW_LISTENER, passes the
 * listener to the scenario over a unix socket (SCM_RIGHTS) and closes its
 * own copy, so the scenario (or a supervisor process it forks) is the
 * only supervisor. The target notes what its calls returned ("ret=42",
 * "errno=ENOSYS"); the scenario writes down what each ioctl on the
 * listener answered and what poll(2) said. Ids, pids and fd numbers vary,
 * so they are compared rather than printed.
 */
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)
#endif

/* The notifying call's first argument: no process has this pid, so a
 * getpgid() that really runs fails with ESRCH. */
#define NOTIF_ARG 0x7ffffff1u

/* getpgid(NOTIF_ARG, 1, 2, 3, 4, 5) as the raw return value (-errno). */
static UNUSED long notif_call(void)
{
	long rc = syscall(__NR_getpgid, (long)NOTIF_ARG, 1L, 2L, 3L, 4L, 5L);
	return rc < 0 ? -(long)errno : rc;
}

/* A return value as the target notes it: "ret=42", "errno=ENOSYS". */
static UNUSED const char *ret_text(long r)
{
	static char buf[48];
	if (r < 0)
		snprintf(buf, sizeof(buf), "errno=%s", errno_name(-r));
	else
		snprintf(buf, sizeof(buf), "ret=%ld", r);
	return buf;
}

/* The notifying filter, behind the arch and x32 checks: getpgid with a
 * first argument of NOTIF_ARG gets USER_NOTIF, everything else ALLOW. */
static UNUSED long install_notifying_filter(unsigned int flags)
{
	struct filter_rule rule = RULE_ARG0(__NR_getpgid, NOTIF_ARG, SECCOMP_RET_USER_NOTIF);
	return install_rules(&rule, 1, flags);
}

/* ---------------------------------------------------------------------
 * Notes: lines the target (its threads, its handlers) writes with one
 * write(2) each; the scenario reads them once the target is gone.
 */

static struct notes target_notes = { -1, -1 };

/* Async-signal-safe: one write(2). */
static UNUSED void note(const char *s)
{
	note_to(target_notes.tx, s);
}

/* ---------------------------------------------------------------------
 * The listener's ioctls (include/uapi/linux/seccomp.h).
 */

/* SECCOMP_IOCTL_NOTIF_RECV into a zeroed buffer; dirty sets a field the
 * kernel (since 5.5) wants zero, to keep the structure extensible. */
static UNUSED long notif_recv(int l, struct seccomp_notif *n, int dirty)
{
	memset(n, 0, sizeof(*n));
	if (dirty)
		n->flags = 1;
	return ioctl(l, SECCOMP_IOCTL_NOTIF_RECV, n);
}

/* RECV, where a failure is the scenario's (it expects a notification). */
static UNUSED struct seccomp_notif recv_one(int l)
{
	struct seccomp_notif n;
	if (notif_recv(l, &n, 0) < 0)
		setup_failed("ioctl(SECCOMP_IOCTL_NOTIF_RECV)");
	return n;
}

/* SECCOMP_IOCTL_NOTIF_SEND: the call returns error if it is not 0 (a
 * negative errno), else val; with FLAG_CONTINUE it runs after all. */
static UNUSED long notif_send(int l, uint64_t id, int64_t val, int32_t error, uint32_t flags)
{
	struct seccomp_notif_resp resp = { .id = id, .val = val, .error = error, .flags = flags };
	return ioctl(l, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

static UNUSED long notif_reply(int l, uint64_t id, int64_t val)
{
	return notif_send(l, id, val, 0, 0);
}

/* SECCOMP_IOCTL_NOTIF_ID_VALID: is id a notification received and not
 * answered, from a task still waiting? */
static UNUSED long notif_id_valid(int l, uint64_t id)
{
	return ioctl(l, SECCOMP_IOCTL_NOTIF_ID_VALID, &id);
}

/* SECCOMP_IOCTL_NOTIF_ADDFD: a copy of srcfd in the notifying task;
 * returns the fd number it got there. */
static UNUSED long notif_addfd(int l, uint64_t id, int srcfd, uint32_t newfd,
			       uint32_t newfd_flags, uint32_t flags)
{
	struct seccomp_notif_addfd a = {
		.id = id, .flags = flags, .srcfd = srcfd, .newfd = newfd,
		.newfd_flags = newfd_flags,
	};
	return ioctl(l, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
}

static UNUSED const char *poll_text(short revents)
{
	static char buf[32];
	static const struct { short flag; const char *name; } names[] = {
		{ POLLIN, "IN" }, { POLLOUT, "OUT" }, { POLLHUP, "HUP" }, { POLLERR, "ERR" },
	};
	buf[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (revents & names[i].flag)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
				 buf[0] ? "|" : "", names[i].name);
	return buf[0] ? buf : "none";
}

static UNUSED short poll_flags(int l, short events, int timeout)
{
	struct pollfd p = { .fd = l, .events = events };
	for (;;) {
		int rc = poll(&p, 1, timeout);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return POLLERR;
		return p.revents;
	}
}

/* What poll(2) says now: IN (a notification waits to be received), OUT
 * (one received, not answered), HUP (no task uses the filter, 5.8). */
static UNUSED const char *poll_now(int l)
{
	return poll_text(poll_flags(l, POLLIN | POLLOUT, 0));
}

/* Block until a notification waits to be received (or no users are
 * left); what poll said. */
static UNUSED const char *wait_pending(int l)
{
	return poll_text(poll_flags(l, POLLIN, -1));
}

/* ---------------------------------------------------------------------
 * The target and the channel that hands its listener over.
 */

/* In the target: pass a copy of fd over the unix socket (SCM_RIGHTS). */
static UNUSED void send_fd(int sock, int fd)
{
	char byte = 'f', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	SETUP(sendmsg(sock, &msg, 0));
}

/* In the scenario: the passed fd, or -1 when the target went away
 * without passing one. */
static UNUSED int recv_fd(int sock)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	while (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0)
		if (errno != EINTR)
			return -1;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
			return fd;
		}
	}
	return -1;
}

/* Fork a target that installs the notifying filter with NEW_LISTENER (and
 * flags), hands the listener over, closes its copy, and exits with what
 * body returns. *listener is the scenario's listener. */
static UNUSED pid_t spawn_target(unsigned int flags, int (*body)(void), int *listener)
{
	int sv[2];
	pid_t pid;

	SETUP(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = SETUP(fork());
	if (pid == 0) {
		long fd;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		SETUP(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
		fd = install_notifying_filter(SECCOMP_FILTER_FLAG_NEW_LISTENER | flags);
		if (fd < 0)
			setup_failed(flags ? "seccomp(SET_MODE_FILTER, NEW_LISTENER | WAIT_KILLABLE_RECV)"
					   : "seccomp(SET_MODE_FILTER, NEW_LISTENER)");
		send_fd(sv[0], fd);
		close(fd);
		_exit(body());
	}
	close(sv[0]);
	*listener = recv_fd(sv[1]);
	close(sv[1]);
	if (*listener < 0) {
		wait_exit(pid);
		errno = ENODATA;
		setup_failed("the target handed over no listener");
	}
	return pid;
}

/* The target's notes and how it ended: "target ret=42 exit 0". */
static UNUSED const char *target_end(pid_t pid)
{
	static char buf[4200];
	char end[64];
	snprintf(end, sizeof(end), "%s", wait_exit(pid));
	snprintf(buf, sizeof(buf), "target %s %s", notes_joined(&target_notes), end);
	return buf;
}

static UNUSED const char *kill_and_reap(pid_t pid)
{
	kill(pid, SIGKILL);
	return wait_exit(pid);
}

static UNUSED const char *yes(int b)
{
	return b ? "yes" : "no";
}

/* ---------------------------------------------------------------------
 * A latch: a one-shot signal from a child that reads as "no" when the
 * child dies without giving it (the scenario closes its write end once
 * the child is forked).
 */

struct latch { int rx, tx; };

static UNUSED struct latch latch_new(void)
{
	int fds[2];
	SETUP(pipe2(fds, O_CLOEXEC));
	return (struct latch){ fds[0], fds[1] };
}

/* In the scenario, after forking: only children can set it now. */
static UNUSED void latch_forked(struct latch *l)
{
	close(l->tx);
	l->tx = -1;
}

/* In a child (async-signal-safe). */
static UNUSED void latch_set(int tx)
{
	if (write(tx, "s", 1) < 0)
		return;
}

/* Set within timeout_ms (-1: no limit)? */
static UNUSED int latch_wait(struct latch *l, int timeout_ms)
{
	struct pollfd p = { .fd = l->rx, .events = POLLIN };
	char b;
	int rc;
	while ((rc = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (rc <= 0)
		return 0;
	return read(l->rx, &b, 1) == 1;
}
