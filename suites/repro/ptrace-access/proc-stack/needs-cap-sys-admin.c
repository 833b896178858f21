/*
 * /proc/PID/stack runs the kernel's unwinder on the task: only a reader
 * that opened it with CAP_SYS_ADMIN in the initial namespace gets the
 * trace, EACCES from read() otherwise, its own stack included
 * (f8a00cef1720, "proc: restrict kernel stack dumps to root", v4.19,
 * CVE-2018-17972).
 */

/* Read the whole file: "read=trace", "read=empty" or "read=ERRNO" (of
 * the open or the read). */
static void read_stack(const char *path, char *out, size_t len)
{
	char buf[4096];
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(out, len, "read=%s", errno_name(errno));
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	if (n < 0)
		snprintf(out, len, "read=%s", errno_name(errno));
	else
		snprintf(out, len, "read=%s", total ? "trace" : "empty");
	close(fd);
}

static void read_own_stack(void *arg)
{
	char seen[64];
	(void)arg;
	read_stack("/proc/self/stack", seen, sizeof(seen));
	observe("%s", seen);
}

static const char *park_only(void *arg, char *note, size_t len)
{
	(void)arg, (void)note, (void)len;
	return NULL;
}

static void run_instance(const char *params)
{
	char path[64], seen[64] = "";
	struct target t;

	if (!strcmp(params, "unprivileged-self")) {
		as_uid(NOBODY, read_own_stack, NULL);
		return;
	}
	/* root-child. Only a task off the CPU has its stack walked (x86's
	 * unwinder gives up on one running on another CPU: an empty read);
	 * asleep per /proc it may still be switching out, so an empty read
	 * is retried while it stays asleep. */
	t = target_spawn(park_only, NULL);
	snprintf(path, sizeof(path), "/proc/%d/stack", t.pid);
	for (int i = 0; i < 20; i++) {
		wait_parked(&t);
		read_stack(path, seen, sizeof(seen));
		if (strcmp(seen, "read=empty"))
			break;
		usleep(5000);
	}
	observe("%s", seen);
	target_end(&t);
}
