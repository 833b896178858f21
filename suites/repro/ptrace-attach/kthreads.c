/*
 * No task attaches to a kernel thread, root included: ptrace_attach()
 * refuses PF_KTHREAD with EPERM before it looks at credentials
 * (kernel/ptrace.c). Every kernel thread in /proc is tried; one that
 * exits meanwhile (ESRCH and gone) is left out.
 */

#define PF_KTHREAD 0x00200000UL
#define MAX_KTHREADS 4096

/* PF_KTHREAD in /proc/PID/stat's flags (field 9); false once gone. */
static int is_kthread(pid_t pid)
{
	char path[64], stat[1024], *p;
	unsigned long flags;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	stat[n] = 0;
	p = strrchr(stat, ')');
	if (!p)
		return 0;
	/* state ppid pgrp session tty_nr tpgid flags */
	if (sscanf(p + 2, "%*s %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return 0;
	return (flags & PF_KTHREAD) != 0;
}

static int cmp_pid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

static int kernel_threads(pid_t *out)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < MAX_KTHREADS) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name)
			continue;
		if (is_kthread(pid))
			out[n++] = pid;
	}
	closedir(d);
	qsort(out, n, sizeof(out[0]), cmp_pid);
	return n;
}

static void comm(pid_t pid, char *out, size_t len)
{
	char path[64];
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	snprintf(out, len, "?");
	f = fopen(path, "r");
	if (f) {
		if (!fgets(out, len, f))
			snprintf(out, len, "?");
		out[strcspn(out, "\n")] = 0;
		fclose(f);
	}
}

struct kthreads { enum req req; pid_t *pids; int n; };

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Make req of every kernel thread: "refused=all errno=EPERM", or what
 * else happened (an attached kernel thread is released at once). */
static void attach_each_kthread(void *arg, char *out, size_t len)
{
	struct kthreads *k = arg;
	const char *errnos[64];
	int nerrnos = 0;
	char attached[2048] = "", errtext[512] = "";

	for (int i = 0; i < k->n; i++) {
		pid_t pid = k->pids[i];
		long rc = req_make(k->req, pid);
		int e = errno;

		if (rc < 0 && e == ESRCH && !is_kthread(pid))
			continue;	/* vanished */
		if (rc < 0) {
			const char *name = errno_name(e);
			int seen = 0;
			for (int j = 0; j < nerrnos; j++)
				seen |= !strcmp(errnos[j], name);
			if (!seen && nerrnos < 64)
				errnos[nerrnos++] = strdup(name);
			continue;
		}
		int still_kthread = is_kthread(pid);
		release(k->req, pid);
		if (still_kthread) {
			char c[64];
			comm(pid, c, sizeof(c));
			snprintf(attached + strlen(attached), sizeof(attached) - strlen(attached),
				 "%s%d %s", attached[0] ? ", " : "", pid, c);
		}
		/* else: it exited and a user task got its pid */
	}
	qsort(errnos, nerrnos, sizeof(errnos[0]), cmp_str);
	for (int j = 0; j < nerrnos; j++)
		snprintf(errtext + strlen(errtext), sizeof(errtext) - strlen(errtext), "%s%s",
			 j ? "," : "", errnos[j]);
	if (!attached[0])
		snprintf(out, len, "refused=all errno=%s", errtext);
	else
		snprintf(out, len, "refused=some errno=%s attached=[%s]", errtext, attached);
}

static void run_instance(const char *params)
{
	static pid_t pids[MAX_KTHREADS];
	struct kthreads k = { .req = req_of(params), .pids = pids };
	char seen[4096];

	k.n = kernel_threads(pids);
	if (k.n == 0)
		skip_forbidden("no kernel threads visible in /proc (needs the initial pid namespace, no hidepid)");
	if (strstr(params, "/root"))
		attach_each_kthread(&k, seen, sizeof(seen));	/* root, CAP_SYS_PTRACE */
	else
		as_uid(NOBODY, attach_each_kthread, &k, seen, sizeof(seen));
	observe("%s", seen);
}
