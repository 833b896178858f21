/*
 * The tsync area's kit: tagged filters, the probe that reads a thread's
 * newest one, TSYNC itself, and a crew of threads driven from `main`
 * (suites/src/tsync.rs and suites/src/kit/crew.rs).
 *
 * Every filter a scenario installs is *tagged*: it answers the probe
 * syscall getpgid(PROBE_ARG) with ERRNO(PROBE_BASE + id). With filters
 * stacked, seccomp_run_filters() keeps the first strictly lower action
 * walking newest to oldest, so the newest filter's data wins: a thread
 * that calls the probe learns the id of its newest filter (0 for none).
 *
 * Threads are named, never numbered by tid: `main`, then `sibling-1`,
 * `sibling-2`, ... in creation order.
 */
#include <pthread.h>
#include <linux/futex.h>

/* getpgid(PROBE_ARG): no such process, so ESRCH without a filter. */
#define PROBE_ARG 0x7ffffff0u
#define PROBE_BASE 1000
/* getpgid(NOTIF_ARG) is the syscall listener filters notify about. */
#define NOTIF_ARG 0x7ffffff1u

/* A raw result: the value, or -errno (as kit/seccomp.rs raw_syscall). */
static UNUSED long neg_errno(long rc)
{
	return rc < 0 ? -errno : rc;
}

/* Install the filter tagged `id` (plus `extra` rules after its tag)
 * with seccomp(2) flags; NO_NEW_PRIVS is the caller's business. */
static UNUSED long install_tagged_with(int id, const struct filter_rule *extra, int n,
				       unsigned int flags)
{
	struct filter_rule rules[4] = {
		RULE_ARG0(__NR_getpgid, PROBE_ARG, SECCOMP_RET_ERRNO | (PROBE_BASE + id)),
	};
	for (int i = 0; i < n && i < 3; i++)
		rules[1 + i] = extra[i];
	return neg_errno(install_rules(rules, 1 + n, flags));
}

static UNUSED long install_tagged(int id, unsigned int flags)
{
	return install_tagged_with(id, NULL, 0, flags);
}

/* Set NO_NEW_PRIVS, then install filter `id` with TSYNC and `flags`:
 * 0, the tid of a thread that blocks the sync, or -errno. */
static UNUSED long tsync(int id, unsigned int flags)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return install_tagged(id, SECCOMP_FILTER_FLAG_TSYNC | flags);
}

/* The calling thread's newest tagged filter: its id, "0" for none. */
static UNUSED const char *probe(void)
{
	static __thread char buf[32];
	long r = neg_errno(syscall(__NR_getpgid, PROBE_ARG));
	if (r == -ESRCH)
		return "0";
	if (r <= -PROBE_BASE && r > -PROBE_BASE - 1000)
		snprintf(buf, sizeof(buf), "%ld", -PROBE_BASE - r);
	else
		snprintf(buf, sizeof(buf), "?%ld", r);
	return buf;
}

/* "0", an errno name, or a value, as tsync.rs result_text(). */
static UNUSED const char *result_text(long r)
{
	static char buf[32];
	if (r < 0)
		return errno_name(-r);
	snprintf(buf, sizeof(buf), "%ld", r);
	return buf;
}

/* A field of /proc/self/task/TID/status, trimmed; "?" if missing. */
static UNUSED const char *status_of(pid_t tid, const char *field)
{
	static char val[64];
	char path[64], line[256];
	size_t len = strlen(field);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", getpid(), tid);
	snprintf(val, sizeof(val), "?");
	f = fopen(path, "r");
	if (!f)
		return val;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, len) && line[len] == ':') {
			char *v = line + len + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = 0;
			snprintf(val, sizeof(val), "%s", v);
			break;
		}
	}
	fclose(f);
	return val;
}

/* ---------------------------------------------------------------------
 * The crew: member 0 is the calling thread (`main`), which runs its jobs
 * inline; the others are threads that run jobs handed to them over a
 * pipe and never exit on their own.
 */

#define CREW_MAX 8

struct job {
	long (*fn)(void *);
	void *arg;
	long ret;
	int done_fd;	/* where the member says the job is done */
};

struct member { pid_t tid; int jobs_tx; };

struct crew { int n; struct member m[CREW_MAX]; };

static UNUSED const char *crew_name(int i)
{
	static char buf[CREW_MAX][16];
	if (i == 0)
		return "main";
	snprintf(buf[i], sizeof(buf[i]), "sibling-%d", i);
	return buf[i];
}

static UNUSED void run_job(struct job *j)
{
	j->ret = j->fn(j->arg);
	if (write(j->done_fd, "d", 1) != 1)
		_exit(SUBJECT_EXIT);
}

/* A member's life: run each job that arrives on its pipe. */
static UNUSED void *member_loop(void *arg)
{
	int jobs_rx = (int)(long)arg;
	struct job *j;
	for (;;) {
		ssize_t n = read(jobs_rx, &j, sizeof(j));
		if (n == sizeof(j))
			run_job(j);
		else if (n < 0 && errno != EINTR)
			setup_failed("read(crew jobs)");
	}
	return NULL;
}

/* Hand a job to member `who` (not main) without waiting. */
static UNUSED void crew_send(struct crew *c, int who, struct job *j)
{
	if (write(c->m[who].jobs_tx, &j, sizeof(j)) != sizeof(j))
		setup_failed("write(crew jobs)");
}

/* Run fn(arg) on member `who` and wait for what it returns. */
static UNUSED long crew_on(struct crew *c, int who, long (*fn)(void *), void *arg)
{
	int done[2];
	char b;
	struct job j = { fn, arg, 0, -1 };

	if (who == 0)
		return fn(arg);
	SETUP(pipe2(done, O_CLOEXEC));
	j.done_fd = done[1];
	crew_send(c, who, &j);
	while (read(done[0], &b, 1) < 0)
		if (errno != EINTR)
			setup_failed("read(crew done)");
	close(done[0]);
	close(done[1]);
	return j.ret;
}

/* Start a member thread from the calling thread: it shares this
 * thread's filter and NO_NEW_PRIVS, as clone() does. arg is the member
 * to fill in (its jobs pipe). */
static UNUSED long start_member(void *arg)
{
	struct member *m = arg;
	int jobs[2];
	pthread_t t;
	pthread_attr_t attr;

	SETUP(pipe2(jobs, O_CLOEXEC));
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	errno = pthread_create(&t, &attr, member_loop, (void *)(long)jobs[0]);
	if (errno)
		setup_failed("pthread_create");
	m->jobs_tx = jobs[1];
	return 0;
}

static UNUSED long my_tid(void *arg)
{
	(void)arg;
	return gettid();
}

static UNUSED struct crew crew_of_this_thread(void)
{
	struct crew c = { .n = 1 };
	c.m[0].tid = gettid();
	c.m[0].jobs_tx = -1;
	return c;
}

/* Member `by` creates a new member; returns its index. */
static UNUSED int crew_spawn_from(struct crew *c, int by)
{
	struct member *m = &c->m[c->n];
	if (c->n == CREW_MAX) {
		errno = EUSERS;
		setup_failed("crew_spawn_from (CREW_MAX threads already)");
	}
	crew_on(c, by, start_member, m);
	c->n++;
	m->tid = crew_on(c, c->n - 1, my_tid, NULL);
	return c->n - 1;
}

static UNUSED void crew_spawn_n(struct crew *c, int by, int n)
{
	for (int i = 0; i < n; i++)
		crew_spawn_from(c, by);
}

/* Member `who` sets NO_NEW_PRIVS and stacks tagged filter `id` on
 * itself alone (a failure is our setup's). */
static UNUSED long install_job(void *arg)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return install_tagged((int)(long)arg, 0);
}

static UNUSED void crew_install(struct crew *c, int who, int id)
{
	long r = crew_on(c, who, install_job, (void *)(long)id);
	if (r < 0) {
		errno = -r;
		setup_failed("seccomp(SET_MODE_FILTER) installing a tagged filter");
	}
}

/* Member `who` tries TSYNC of filter id with flags. */
struct tsync_args { int id; unsigned int flags; };

static UNUSED long tsync_job(void *arg)
{
	struct tsync_args *a = arg;
	return tsync(a->id, a->flags);
}

static UNUSED long crew_tsync(struct crew *c, int who, int id, unsigned int flags)
{
	struct tsync_args a = { id, flags };
	return crew_on(c, who, tsync_job, &a);
}

static UNUSED long probe_job(void *arg)
{
	snprintf(arg, 32, "%s", probe());
	return 0;
}

/* Every member's newest tagged filter, "[1,1,2]". */
static UNUSED const char *crew_probes(struct crew *c)
{
	static char out[256];
	char one[32];
	int n = snprintf(out, sizeof(out), "[");
	for (int i = 0; i < c->n; i++) {
		crew_on(c, i, probe_job, one);
		n += snprintf(out + n, sizeof(out) - n, "%s%s", i ? "," : "", one);
	}
	snprintf(out + n, sizeof(out) - n, "]");
	return out;
}

/* A /proc status field of every member, "[1,0,1]". */
static UNUSED const char *crew_status(struct crew *c, const char *field)
{
	static char out[256];
	int n = snprintf(out, sizeof(out), "[");
	for (int i = 0; i < c->n; i++)
		n += snprintf(out + n, sizeof(out) - n, "%s%s", i ? "," : "",
			      status_of(c->m[i].tid, field));
	snprintf(out + n, sizeof(out) - n, "]");
	return out;
}

static UNUSED int crew_index_of(struct crew *c, long tid)
{
	for (int i = 0; i < c->n; i++)
		if (c->m[i].tid == tid)
			return i;
	return -1;
}

static UNUSED const char *crew_name_of(struct crew *c, long tid)
{
	int i = crew_index_of(c, tid);
	return i < 0 ? "unknown-tid" : crew_name(i);
}

/* What a TSYNC returned: "0", an errno name, or the member whose tid
 * came back; "one-of(sibling-2,sibling-4)" when it is one of several in
 * any_of (n of them), where the kernel may name any. */
static UNUSED const char *crew_answer(struct crew *c, long r, const int *any_of, int n)
{
	static char out[128];
	int i, len;

	if (r <= 0)
		return result_text(r);
	i = crew_index_of(c, r);
	if (i < 0)
		return "unknown-tid";
	for (int k = 0; n > 1 && k < n; k++) {
		if (any_of[k] != i)
			continue;
		len = snprintf(out, sizeof(out), "one-of(");
		for (int j = 0; j < n; j++)
			len += snprintf(out + len, sizeof(out) - len, "%s%s", j ? "," : "",
					crew_name(any_of[j]));
		snprintf(out + len, sizeof(out) - len, ")");
		return out;
	}
	return crew_name(i);
}

/* The diverged shapes (tsync/diverged, tsync/esrch): set one up; the
 * caller, the filter it will try to sync and the threads that block. */
static UNUSED void diverged_build(const char *shape, struct crew *c, int *caller, int *next,
				  int blocking[2], int *n)
{
	*n = 2;
	if (!strcmp(shape, "one-of-2")) {
		crew_install(c, 0, 1);
		crew_spawn_n(c, 0, 2);
		crew_install(c, 2, 2);
		*caller = 0, *next = 3, blocking[0] = 2, *n = 1;
	} else if (!strcmp(shape, "two-of-4")) {
		crew_install(c, 0, 1);
		crew_spawn_n(c, 0, 4);
		crew_install(c, 2, 2);
		crew_install(c, 4, 3);
		*caller = 0, *next = 4, blocking[0] = 2, blocking[1] = 4;
	} else if (!strcmp(shape, "caller-branch")) {
		crew_spawn_from(c, 0);
		crew_install(c, 0, 1);
		crew_spawn_from(c, 0);
		crew_install(c, 1, 2);
		*caller = 1, *next = 3, blocking[0] = 0, blocking[1] = 2;
	} else { /* descendants */
		crew_install(c, 0, 1);
		crew_spawn_from(c, 0);
		crew_install(c, 1, 2);
		crew_spawn_from(c, 1);
		*caller = 0, *next = 3, blocking[0] = 1, blocking[1] = 2;
	}
}

/* A job started on member `who` (not main) without waiting for it;
 * crew_finish() waits and returns what it returned. */
struct pending { struct job job; int done_rx; };

static UNUSED void crew_begin(struct crew *c, int who, long (*fn)(void *), void *arg,
			      struct pending *p)
{
	int done[2];
	SETUP(pipe2(done, O_CLOEXEC));
	p->job = (struct job){ fn, arg, 0, done[1] };
	p->done_rx = done[0];
	crew_send(c, who, &p->job);
}

static UNUSED long crew_finish(struct pending *p)
{
	char b;
	while (read(p->done_rx, &b, 1) < 0)
		if (errno != EINTR)
			setup_failed("read(crew done)");
	close(p->done_rx);
	close(p->job.done_fd);
	return p->job.ret;
}

