/*
 * SECCOMP_FILTER_FLAG_NEW_LISTENER with TSYNC: a failed sync's tid and a
 * listener fd would be indistinguishable, so without TSYNC_ESRCH the
 * kernel refuses the combination with EINVAL and installs nothing
 * (seccomp_set_mode_filter). With TSYNC_ESRCH (5.7) it
 * returns a listener fd whose filter every thread now runs: a sibling's
 * notifying syscall reaches it, and the answer sent back reaches the
 * sibling. A blocked sync fails with ESRCH and leaves no fd behind.
 *
 *   without-esrch:      NEW_LISTENER|TSYNC onto an unfiltered sibling-1
 *   with-esrch:         NEW_LISTENER|TSYNC|TSYNC_ESRCH onto it
 *   with-esrch-blocked: the same onto a sibling-1 with a filter of its own
 */
#include <dirent.h>
#include <sys/ioctl.h>

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2; /* "." and ".." */
}

/* "listener" for a seccomp notify fd, else what it is. */
static const char *fd_kind(int fd)
{
	static char kind[PATH_MAX + 8];
	char path[64], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return "fd(unreadable)";
	target[n] = 0;
	if (!strcmp(target, "anon_inode:seccomp notify"))
		return "listener";
	snprintf(kind, sizeof(kind), "fd(%s)", target);
	return kind;
}

static long notifying_call(void *arg)
{
	(void)arg;
	return neg_errno(syscall(__NR_getpgid, NOTIF_ARG));
}

/* Member `who` makes the notifying syscall; the listener receives it,
 * answers 42; say from which thread it came and what the thread got. */
static const char *relay_one_notification(struct crew *c, int who, int fd)
{
	static char out[128];
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	struct pending p;
	const char *from;

	crew_begin(c, who, notifying_call, NULL, &p);
	memset(&req, 0, sizeof(req));
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
		snprintf(out, sizeof(out), "notif-recv=%s", errno_name(errno));
		return out;
	}
	from = crew_name_of(c, req.pid);
	memset(&resp, 0, sizeof(resp));
	resp.id = req.id;
	resp.val = 42;
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0) {
		snprintf(out, sizeof(out), "notif-from=%s notif-send=%s", from, errno_name(errno));
		return out;
	}
	snprintf(out, sizeof(out), "notif-from=%s answered=%ld", from, crew_finish(&p));
	return out;
}

static void run_instance(const char *params)
{
	struct crew crew = crew_of_this_thread();
	unsigned int flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
	struct filter_rule notif = RULE_ARG0(__NR_getpgid, NOTIF_ARG, SECCOMP_RET_USER_NOTIF);
	char probes[256], one[32], want[32];
	int next = 1, fds_before;
	long ret;

	crew_spawn_from(&crew, 0);
	if (strcmp(params, "without-esrch"))
		flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
	if (!strcmp(params, "with-esrch-blocked")) {
		crew_install(&crew, 1, 1);
		next = 2;
	}
	fds_before = open_fds();

	ret = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? -errno
		: install_tagged_with(next, &notif, 1, SECCOMP_FILTER_FLAG_TSYNC | flags);

	snprintf(probes, sizeof(probes), "%s", crew_probes(&crew));
	if (ret > 0) {
		const char *kind = fd_kind(ret);
		/* Only a sibling that runs the filter would ever notify;
		 * otherwise waiting for its notification would hang. */
		crew_on(&crew, 1, probe_job, one);
		snprintf(want, sizeof(want), "%d", next);
		if (!strcmp(one, want))
			observe("tsync=%s probe=%s %s", kind, probes,
				relay_one_notification(&crew, 1, ret));
		else
			observe("tsync=%s probe=%s notif=not-synced", kind, probes);
		return;
	}
	observe("tsync=%s new-fds=%d probe=%s", crew_answer(&crew, ret, NULL, 0),
		open_fds() - fds_before, probes);
}
