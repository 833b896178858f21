/*
 * An unprivileged task never attaches to a usermode helper, even racing
 * its creation: request_module() (here from socket() of an address
 * family nobody registered, __sock_create()) runs
 * /proc/sys/kernel/modprobe, pointed at this very binary (by a symlink
 * named kconform-modprobe-probe, which makes it leave a marker and fail),
 * as a root task; racer threads on several CPUs try the pids about to be
 * handed out and every pid handed out since the trigger fired (from
 * /proc/sys/kernel/ns_last_pid) while it is born, execs and lingers.
 * A helper is a kernel-spawned task (PF_KTHREAD until it execs, then
 * root's credentials): ptrace_attach() must refuse it. A run where no
 * helper ran is skipped rather than passed.
 */

#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#define MODPROBE "/proc/sys/kernel/modprobe"
#define ITERATIONS 100	/* kconform's default --iterations */

/* The uid the racers run as. Not NOBODY: other tests may run same-uid
 * NOBODY subjects meanwhile, and a racer spraying attaches over fresh
 * pids would (rightly) get into those. No other task runs as this uid,
 * so any attach a racer makes is a regression. */
#define RACER 65532

/* ---------------------------------------------------------------------
 * /proc/sys/kernel/modprobe pointed at a symlink to this binary in a
 * fresh directory, where each helper run leaves helper-PID. A watchdog
 * outside the run's process group puts the old value back should the
 * run be killed first, so the host's module loading never stays broken.
 */

struct modprobe_probe {
	char old[PATH_MAX], dir[PATH_MAX], link[PATH_MAX + 32];
	int watchdog_tx, lock;
};

/* One run at a time owns the sysctl (kconform's instances too): the
 * owner holds an abstract unix socket name the kernel frees with it. */
static int modprobe_lock(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	static const char name[] = "kconform-modprobe-probe";
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
	struct timespec start, now;

	memcpy(addr.sun_path + 1, name, strlen(name));
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int fd = SETUP(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		if (bind(fd, (struct sockaddr *)&addr, len) == 0)
			return fd;
		close(fd);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (errno != EADDRINUSE || now.tv_sec - start.tv_sec >= 15)
			setup_failed("waiting for /proc/sys/kernel/modprobe");
		usleep(10000);
	}
}

static int write_sysctl(const char *path, const char *value)
{
	char line[PATH_MAX + 2];
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC), ok;
	if (fd < 0)
		return -1;
	snprintf(line, sizeof(line), "%s\n", value);
	ok = write(fd, line, strlen(line)) == (ssize_t)strlen(line);
	close(fd);
	return ok ? 0 : -1;
}

static void read_sysctl(const char *path, char *out, size_t len)
{
	int fd = SETUP(open(path, O_RDONLY | O_CLOEXEC));
	ssize_t n = SETUP(read(fd, out, len - 1));
	close(fd);
	out[n] = 0;
	out[strcspn(out, "\n")] = 0;
}

/* Put the old value back, unless someone else changed it since. */
static void restore_modprobe(const struct modprobe_probe *m)
{
	char now[PATH_MAX + 32] = "";
	int fd = open(MODPROBE, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, now, sizeof(now) - 1);
		now[n > 0 ? n : 0] = 0;
		now[strcspn(now, "\n")] = 0;
		close(fd);
	}
	if (!strcmp(now, m->link))
		write_sysctl(MODPROBE, m->old);
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX + 300];
	if (d) {
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
				unlink(path);
			}
		closedir(d);
	}
	rmdir(dir);
}

/* A process in a session of its own that waits for the returned pipe
 * end to close (the run done, or every process of it killed), then
 * restores modprobe and removes the directory; it holds the lock until
 * then, so the next run cannot save a value about to be restored. */
static int restore_watchdog(const struct modprobe_probe *m)
{
	int fds[2];
	pid_t pid;

	SETUP(pipe2(fds, O_CLOEXEC));
	pid = SETUP(fork());
	if (pid == 0) {
		char b;
		setsid();
		/* Hold no pipe the run's parent waits on. */
		for (int fd = 0; fd < 1024; fd++)
			if (fd != fds[0] && fd != m->lock)
				close(fd);
		while (read(fds[0], &b, 1) != 0)
			if (errno != EINTR)
				break;
		restore_modprobe(m);
		remove_dir(m->dir);
		_exit(0);
	}
	close(fds[0]);
	return fds[1];
}

static void modprobe_probe_install(struct modprobe_probe *m)
{
	const char *tmp = getenv("TMPDIR");
	char target[PATH_MAX];

	m->lock = modprobe_lock();
	read_sysctl(MODPROBE, m->old, sizeof(m->old));
	if (!realpath(probe_exe(), target))
		setup_failed("realpath(/proc/self/exe)");
	snprintf(m->dir, sizeof(m->dir), "%.4000s/kconform-umh-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(m->dir))
		setup_failed("mkdtemp(kconform-umh-XXXXXX)");
	snprintf(m->link, sizeof(m->link), "%s/%s", m->dir, MODPROBE_PROBE_NAME);
	SETUP(symlink(target, m->link));
	m->watchdog_tx = restore_watchdog(m);
	SETUP(write_sysctl(MODPROBE, m->link));
}

static void modprobe_probe_remove(struct modprobe_probe *m)
{
	restore_modprobe(m);
	remove_dir(m->dir);
	close(m->watchdog_tx);
	close(m->lock);
}

/* How many helper-PID markers there are (pids only grow between two
 * looks here, so a count difference is the helpers that ran between). */
static int helper_runs(const struct modprobe_probe *m, pid_t *pids, int max)
{
	DIR *d = opendir(m->dir);
	struct dirent *e;
	int n = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max)
		if (!strncmp(e->d_name, "helper-", 7))
			pids[n++] = atoi(e->d_name + 7);
	closedir(d);
	return n;
}

/* An address family below AF_MAX the kernel has not registered: socket()
 * of it calls request_module("net-pf-N") and fails with EAFNOSUPPORT.
 * Families no kernel registers first (AF_IB, AF_MPLS, AF_WANPIPE,
 * AF_SNA, AF_ASH, AF_SECURITY, AF_NETBEUI). */
static int unregistered_family(void)
{
	static const int candidates[] = { 27, 28, 25, 22, 18, 14, 13 };
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		int fd = socket(candidates[i], SOCK_STREAM, 0);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (errno == EAFNOSUPPORT)
			return candidates[i];
	}
	return -1;
}

/* ---------------------------------------------------------------------
 * The race, in a process running as RACER.
 */

struct race {
	enum req req;
	int last_fd, loadavg;
	int done;
	unsigned long fired;	/* the trigger under way */
	int since;		/* the last pid handed out before it fired */
	unsigned char *refused;	/* a bit per pid that refused (shared) */
};

/* pid_max's ceiling on 64-bit (PID_MAX_LIMIT): a bit each. */
#define PIDS (4 * 1024 * 1024)

#define MAX_ATTACHED 64

struct tally {
	struct race *race;
	unsigned long won_at;	/* 0: never got in */
	char attached[MAX_ATTACHED][96];
	int nattached;
};

/* The last pid the kernel handed out in our pid namespace:
 * ns_last_pid (CONFIG_CHECKPOINT_RESTORE), else /proc/loadavg's last
 * field. */
static int last_pid(struct race *r)
{
	char buf[128], *field = buf;
	ssize_t n = pread(r->last_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	if (r->loadavg && strrchr(buf, ' '))
		field = strrchr(buf, ' ') + 1;
	return atoi(field);
}

/* "PID COMM uid=U" of a task a racer got into. */
static void task_line(pid_t pid, char *out, size_t len)
{
	char path[64], line[256], comm[64] = "?", uid[32] = "?";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if ((f = fopen(path, "r"))) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "Uid:", 4))
				sscanf(line + 4, "%31s", uid);
		fclose(f);
	}
	snprintf(out, len, "%d %s uid=%s", pid, comm, uid);
}

/* How far back from the last pid handed out a racer sweeps, at most. */
#define SWEEP_BACK 256

/* One racer: read the last pid handed out, then try, newest first, the
 * next few pids and every pid handed out since the trigger fired: the
 * helper is among those from its birth to its exit, however many other
 * tasks are started meanwhile. */
static void *racer(void *arg)
{
	struct tally *t = arg;
	struct race *r = t->race;

	while (!__atomic_load_n(&r->done, __ATOMIC_RELAXED)) {
		int last = last_pid(r);
		if (last < 0)
			break;
		int since = __atomic_load_n(&r->since, __ATOMIC_RELAXED);
		/* A pid number that wrapped since the trigger: the pids just below. */
		int oldest = since < last ? since + 1 : last - 1;
		if (oldest < last - SWEEP_BACK)
			oldest = last - SWEEP_BACK;
		if (oldest < 2)
			oldest = 2;
		for (int pid = last + 6; pid >= oldest; pid--) {
			if (req_make(r->req, pid) != 0) {
				/* EPERM: refused; ESRCH: no task */
				/* Atomic: racers on other CPUs set bits of the same bytes. */
				if (errno == EPERM && pid < PIDS)
					__atomic_fetch_or(&r->refused[pid / 8], (unsigned char)(1 << (pid % 8)),
							  __ATOMIC_RELAXED);
				continue;
			}
			char line[96];
			int seen = 0;
			if (!t->won_at)
				t->won_at = __atomic_load_n(&r->fired, __ATOMIC_RELAXED) + 1;
			task_line(pid, line, sizeof(line));
			release(r->req, pid);
			for (int i = 0; i < t->nattached; i++)
				seen |= !strcmp(t->attached[i], line);
			if (!seen && t->nattached < MAX_ATTACHED)
				snprintf(t->attached[t->nattached++], sizeof(t->attached[0]), "%s", line);
		}
	}
	return NULL;
}

/* One racer per CPU but one, 1 to 4: the helper being raced needs a CPU
 * of its own. */
static int racer_count(void)
{
	cpu_set_t set;
	int n = 2;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	n -= 1;
	return n < 1 ? 1 : n > 4 ? 4 : n;
}

struct race_args { enum req req; int family; unsigned char *refused; };

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* racers threads attach to pids about to be (or just) allocated while
 * this thread starts helpers: at most ITERATIONS triggers, one
 * millisecond each ("attached=0", or who got in and when). */
static void race(void *arg, char *out, size_t len)
{
	struct race_args *a = arg;
	struct race r = { .req = a->req, .refused = a->refused };
	int racers = racer_count(), nall = 0;
	static struct tally tallies[4];
	pthread_t threads[4];
	const char *all[4 * MAX_ATTACHED];
	unsigned long triggers = 0, won_at = 0;
	struct timespec start, now;

	r.last_fd = open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
	if (r.last_fd < 0) {
		r.last_fd = SETUP(open("/proc/loadavg", O_RDONLY | O_CLOEXEC));
		r.loadavg = 1;
	}
	r.since = last_pid(&r);
	for (int i = 0; i < racers; i++) {
		tallies[i].race = &r;
		if (pthread_create(&threads[i], NULL, racer, &tallies[i])) {
			errno = EAGAIN;
			setup_failed("pthread_create");
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (triggers >= ITERATIONS || ms >= (ITERATIONS < 2000 ? ITERATIONS : 2000))
			break;
		int last = last_pid(&r);
		if (last >= 0)
			__atomic_store_n(&r.since, last, __ATOMIC_RELAXED);
		int fd = socket(a->family, SOCK_STREAM, 0);
		if (fd >= 0)
			close(fd);
		triggers++;
		__atomic_store_n(&r.fired, triggers, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&r.done, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < racers; i++) {
		pthread_join(threads[i], NULL);
		if (tallies[i].won_at && (!won_at || tallies[i].won_at < won_at))
			won_at = tallies[i].won_at;
		for (int j = 0; j < tallies[i].nattached; j++) {
			int seen = 0;
			for (int k = 0; k < nall; k++)
				seen |= !strcmp(all[k], tallies[i].attached[j]);
			if (!seen)
				all[nall++] = tallies[i].attached[j];
		}
	}
	/* Tasks, not attempts: a racer may get into the same task often. */
	if (nall == 0) {
		snprintf(out, len, "attached=0");
		return;
	}
	qsort(all, nall, sizeof(all[0]), cmp_line);
	size_t n = snprintf(out, len, "attached=%d [", nall);
	for (int k = 0; k < nall && k < 4; k++)
		n += snprintf(out + n, len - n, "%s%s", k ? ", " : "", all[k]);
	snprintf(out + n, len - n, "%s] first at trigger %lu of %lu", nall > 4 ? ", ..." : "",
		 won_at, triggers);
}

static void run_instance(const char *params)
{
	struct race_args a = { .req = req_of(params) };
	struct modprobe_probe m;
	pid_t before[4096], after[4096];
	int nbefore, nafter, scope, helpers = 0, reached = 0;
	char raced[1024];

	if (access(MODPROBE, F_OK))
		skip_lacks("no %s: the kernel lacks usermode helpers", MODPROBE);
	scope = yama_scope();
	if (scope > 0)
		skip_forbidden("Yama ptrace_scope=%d refuses attaching to non-descendants for its own reasons; run with kernel.yama.ptrace_scope=0",
			       scope);
	modprobe_probe_install(&m);
	a.family = unregistered_family();
	if (a.family < 0) {
		modprobe_probe_remove(&m);
		skip_lacks("every candidate address family is registered, so socket() starts no helper");
	}
	nbefore = helper_runs(&m, before, 4096);
	/* Written by the racers, in the subject as_uid() forks. */
	a.refused = mmap(NULL, PIDS / 8, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (a.refused == MAP_FAILED)
		setup_failed("mmap(MAP_SHARED | MAP_ANONYMOUS)");
	as_uid(RACER, race, &a, raced, sizeof(raced));
	nafter = helper_runs(&m, after, 4096);
	for (int i = 0; i < nafter; i++) {
		int old = 0;
		for (int j = 0; j < nbefore; j++)
			old |= after[i] == before[j];
		helpers += !old;
		if (!old && after[i] < PIDS)
			reached += (a.refused[after[i] / 8] >> (after[i] % 8)) & 1;
	}
	modprobe_probe_remove(&m);
	if (helpers == 0)
		skip_lacks("no usermode helper ran: unprivileged socket(family %d) never started %s (CONFIG_STATIC_USERMODEHELPER, or module autoloading disabled?)",
			   a.family, m.link);
	/* Refused or not, no helper met a racer: nothing was checked. */
	if (reached == 0 && !strcmp(raced, "attached=0"))
		instance_error("no racer found any of the %d helpers alive: the race checked nothing (rerun it)",
			       helpers);
	observe("helpers=ran %s", raced);
}
