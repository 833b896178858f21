/*
 * In a proc instance mounted with hidepid=1 (in a pid and mount
 * namespace of the instance's own), a task whose real uid is NOBODY and
 * effective uid root (as a setuid-root program runs) opens /proc/PID of
 * a task of another uid (its effective credentials pass), but
 * access(2), which checks with the real ids and, the real uid not being
 * root, no capabilities (override credentials), is refused: the ptrace
 * check must weigh the credentials the call runs with, not the task's
 * own (6b3ad6649a4c, "ptrace: reintroduce usage of subjective
 * credentials in ptrace_has_cap()", v5.5).
 */
#include <sys/mount.h>

/* Real NOBODY, effective root: open /proc/PID, then access(2) it. */
static void check_as_real_nobody(const char *pid_dir, int tx)
{
	char line[128];
	const char *opened, *accessed;
	DIR *d;

	SETUP(setgroups(0, NULL));
	SETUP(setresgid(NOBODY, 0, 0));
	SETUP(setresuid(NOBODY, 0, 0));
	d = opendir(pid_dir);
	opened = d ? "ok" : errno_name(errno);
	if (d)
		closedir(d);
	accessed = faccessat(AT_FDCWD, pid_dir, R_OK | X_OK, 0) == 0 ? "ok" : errno_name(errno);
	snprintf(line, sizeof(line), "open=%s access=%s", opened, accessed);
	if (write(tx, line, strlen(line)) < 0)
		_exit(SUBJECT_EXIT);
}

/* In the namespace's init: mount proc with hidepid=1, park a task of
 * another uid, and let a real-NOBODY, effective-root task reach for it. */
static void hidepid_in_namespace(int tx)
{
	char dir[PATH_MAX], pid_dir[PATH_MAX + 16];
	struct target t;
	int fds[2];
	pid_t checker;

	SETUP(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	if (temp_dir("kconform-proc", 0, dir, sizeof(dir)))
		instance_error("no writable directory for a scratch file");
	SETUP(chmod(dir, 0755));
	SETUP(mount("proc", dir, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=1"));
	t = parked_as(OTHER, 1);
	snprintf(pid_dir, sizeof(pid_dir), "%s/%d", dir, t.pid);
	SETUP(pipe2(fds, O_CLOEXEC));
	checker = subject();
	if (checker == 0) {
		check_as_real_nobody(pid_dir, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	wait_exit(checker);
	target_end(&t);
	/* Lazily: a parked task may still hold it. */
	umount2(dir, MNT_DETACH);
	cleanup();
	char seen[256];
	ssize_t n = read(fds[0], seen, sizeof(seen) - 1);
	if (n <= 0)
		instance_error("the checker reported nothing");
	if (write(tx, seen, n) < 0)
		_exit(SUBJECT_EXIT);
}

static void run_instance(const char *params)
{
	char seen[256];
	ssize_t n, got = 0;
	int fds[2];
	pid_t outer, init;

	(void)params;
	SETUP(pipe2(fds, O_CLOEXEC));
	/* A subject in new pid and mount namespaces: the proc instance it
	 * mounts (with its hidepid) belongs to its pid namespace alone, and
	 * the mount goes with its namespace. */
	outer = subject();
	if (outer == 0) {
		SETUP(unshare(CLONE_NEWNS | CLONE_NEWPID));
		/* The first child is the namespace's init. */
		init = subject();
		if (init == 0) {
			hidepid_in_namespace(fds[1]);
			_exit(0);
		}
		wait_exit(init);
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], seen + got, sizeof(seen) - 1 - got)) > 0)
		got += n;
	seen[got] = 0;
	wait_exit(outer);
	if (!got)
		instance_error("the namespace init reported nothing");
	observe("%s", seen);
}
