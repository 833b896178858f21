/*
 * ptrace-attach: who may attach to whom (kernel/ptrace.c).
 *
 * ptrace_attach() refuses a PF_KTHREAD task outright (EPERM, root too);
 * otherwise __ptrace_may_access() lets a tracer in only if its real uid
 * and gid equal the target's real, effective and saved ids (or it has
 * CAP_SYS_PTRACE over the target), and then only if the target is
 * dumpable (SUID_DUMP_USER) or the tracer has CAP_SYS_PTRACE.
 * commit_creds() resets dumpability to fs.suid_dumpable whenever euid,
 * egid, fsuid or fsgid change.
 *
 * Unprivileged tracers run as NOBODY in a process of their own; targets
 * allow any tracer under Yama (PR_SET_PTRACER_ANY), so a Yama scope of 1
 * cannot turn a refusal the core code must make into one Yama made.
 */

#include <dirent.h>
#include <sys/statvfs.h>

#define OTHER 65533

enum req { ATTACH, SEIZE };

static UNUSED const char *req_name(enum req req)
{
	return req == ATTACH ? "attach" : "seize";
}

/* "attach..." or "seize..." at the start of params. */
static UNUSED enum req req_of(const char *params)
{
	return strncmp(params, "seize", 5) == 0 ? SEIZE : ATTACH;
}

/* PTRACE_ATTACH, or PTRACE_SEIZE with no options: 0 or -1 with errno. */
static UNUSED long req_make(enum req req, pid_t pid)
{
	if (req == ATTACH)
		return ptrace(PTRACE_ATTACH, pid, 0, 0);
	return ptrace(PTRACE_SEIZE, pid, 0, 0);
}

/* Undo a request that succeeded: stop a seized tracee, wait (at most
 * 200 ms) for its stop, detach without a signal. A tracee that never
 * stops is left to the tracer's exit, which detaches it. */
static UNUSED void release(enum req req, pid_t pid)
{
	struct timespec start, now;
	int status;

	if (req == SEIZE)
		ptrace(PTRACE_INTERRUPT, pid, 0, 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t rc = waitpid(pid, &status, WNOHANG | __WALL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - start.tv_sec) * 1000 +
			  (now.tv_nsec - start.tv_nsec) / 1000000;
		if (rc == 0 && ms < 200) {
			usleep(1000);
			continue;
		}
		if (rc > 0 && (WIFEXITED(status) || WIFSIGNALED(status)))
			return;
		break;
	}
	ptrace(PTRACE_DETACH, pid, 0, 0);
}

/* Make the request and let go again: "attach=ok", "seize=EPERM". */
static UNUSED void try_on(enum req req, pid_t pid, char *out, size_t len)
{
	long rc = req_make(req, pid);
	int e = errno;

	if (rc == 0)
		release(req, pid);
	snprintf(out, len, "%s=%s", req_name(req), rc == 0 ? "ok" : errno_name(e));
}

/* Let any process reach the caller as far as Yama is concerned (EINVAL,
 * a no-op, without Yama). */
static UNUSED void allow_any_tracer(void)
{
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
}

/* Run fn(arg, out, len) in a child that first drops to uid (all ids, no
 * groups; uid 0 stays root); what it wrote to out comes back here. */
static UNUSED void as_uid(uid_t uid, void (*fn)(void *arg, char *out, size_t len),
			  void *arg, char *out, size_t len)
{
	int fds[2];
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	SETUP(pipe2(fds, O_CLOEXEC));
	pid = SETUP(fork());
	if (pid == 0) {
		char buf[1024] = "";
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		become(uid);
		fn(arg, buf, sizeof(buf));
		if (write(fds[1], buf, strlen(buf)) < 0)
			_exit(SUBJECT_EXIT);
		_exit(0);
	}
	close(fds[1]);
	while (got < len - 1 && (n = read(fds[0], out + got, len - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += n;
	}
	out[got] = 0;
	close(fds[0]);
	wait_exit(pid);
	if (got == 0)
		setup_failed("the tracer subject ended before it reported");
}

/* The tracer's part of most scenarios here: try_on() the target. */
struct try_args { enum req req; pid_t pid; };

static UNUSED void try_on_fn(void *arg, char *out, size_t len)
{
	struct try_args *a = arg;
	try_on(a->req, a->pid, out, len);
}

/* Fork a target that runs setup() and then blocks in pause() until it
 * is killed; returns once setup() is done. setup() uses SETUP() for
 * its calls (a failure there ends the run as "setup failed"). */
static UNUSED pid_t parked_spawn(void (*setup)(void))
{
	int fds[2];
	char b;
	pid_t pid;

	SETUP(pipe2(fds, O_CLOEXEC));
	pid = SETUP(fork());
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		setup();
		if (write(fds[1], "r", 1) < 0)
			_exit(SUBJECT_EXIT);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (read(fds[0], &b, 1) != 1) {
		errno = ESRCH;
		setup_failed("the target died during setup");
	}
	close(fds[0]);
	return pid;
}

static UNUSED void parked_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	wait_exit(pid);
}

/* ---------------------------------------------------------------------
 * A root-owned mode 4755 copy of this very binary (it answers the
 * probe modes), in a fresh directory on a mount honouring setuid.
 */

struct setuid_copy { char dir[PATH_MAX]; char exe[PATH_MAX + 8]; };

static int honours_setuid(const char *dir)
{
	struct statvfs s;
	return statvfs(dir, &s) == 0 && !(s.f_flag & (ST_NOSUID | ST_NOEXEC));
}

static UNUSED void setuid_copy_make(struct setuid_copy *c)
{
	char candidates[3][PATH_MAX], *slash;
	const char *tmp = getenv("TMPDIR");
	int in = -1, out = -1;
	char buf[65536];
	ssize_t n;

	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		skip_forbidden("kconform itself runs under no_new_privs, so no setuid exec can gain privilege");
	snprintf(candidates[0], PATH_MAX, "%s", tmp && *tmp ? tmp : "/tmp");
	snprintf(candidates[1], PATH_MAX, "%s", probe_exe());
	slash = strrchr(candidates[1], '/');
	if (slash)
		*slash = 0;
	snprintf(candidates[2], PATH_MAX, "/");
	c->dir[0] = 0;
	for (int i = 0; i < 3 && !c->dir[0]; i++) {
		if (!honours_setuid(candidates[i]))
			continue;
		snprintf(c->dir, sizeof(c->dir), "%.4000s/kconform-probe-XXXXXX",
			 strcmp(candidates[i], "/") ? candidates[i] : "");
		if (!mkdtemp(c->dir))
			c->dir[0] = 0;
	}
	if (!c->dir[0])
		skip_forbidden("no writable dir on a mount without nosuid/noexec ($TMPDIR, the probe's, /)");
	snprintf(c->exe, sizeof(c->exe), "%.4000s/probe", c->dir);
	SETUP(chmod(c->dir, 0755));
	in = SETUP(open(probe_exe(), O_RDONLY | O_CLOEXEC));
	out = SETUP(open(c->exe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700));
	while ((n = SETUP(read(in, buf, sizeof(buf)))) > 0)
		if (write(out, buf, n) != n)
			setup_failed("write(probe copy)");
	close(in);
	close(out);
	SETUP(chown(c->exe, 0, 0));
	SETUP(chmod(c->exe, 04755));
}

static UNUSED void setuid_copy_remove(struct setuid_copy *c)
{
	unlink(c->exe);
	rmdir(c->dir);
}

/* In a child: exec the copy as `probe __probe MODE`, or give up. */
static UNUSED void exec_probe(const char *exe, const char *mode)
{
	char call[PATH_MAX + 64];
	execl(exe, exe, "__probe", mode, (char *)NULL);
	snprintf(call, sizeof(call), "execve(%s __probe %s)", exe, mode);
	setup_failed(call);
}

/* `euid=E ...` as the probe prints it; -1 if there is none. */
static UNUSED long euid_of(const char *out)
{
	const char *p = strstr(out, "euid=");
	while (p && p != out && p[-1] != ' ' && p[-1] != '\n')
		p = strstr(p + 1, "euid=");
	if (!p || p[5] < '0' || p[5] > '9')
		return -1;
	return strtol(p + 5, NULL, 10);
}

static UNUSED void setuid_not_honoured(struct setuid_copy *c, const char *out)
{
	char trimmed[256];
	snprintf(trimmed, sizeof(trimmed), "%s", out);
	trimmed[strcspn(trimmed, "\n")] = 0;
	setuid_copy_remove(c);
	skip_forbidden("setuid not honoured at %s (untraced probe printed `%s`): nosuid mount, no_new_privs, or a directory NOBODY cannot reach?",
		       c->exe, trimmed);
}
