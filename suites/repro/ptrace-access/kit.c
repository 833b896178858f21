/*
 * ptrace-access: what the twins of suites/src/ptrace_access*.rs share.
 * It mirrors suites/src/kit/access.rs (subjects run as another uid,
 * parked targets, Yama and fs.suid_dumpable, copies of the probe the
 * kernel execs with other credentials), kit/creds.rs and the mark the
 * readers read (suites/src/ptrace_access.rs).
 *
 * The kernel's rules (kernel/ptrace.c __ptrace_may_access()): the
 * caller's own thread group always passes; otherwise its uid and gid
 * must match the target's real, effective and saved ids and the
 * target's mm must be dumpable (SUID_DUMP_USER), unless the caller has
 * CAP_SYS_PTRACE; then Yama (security/yama/yama_lsm.c) has its say.
 */
#include <dirent.h>
#include <sys/statvfs.h>
#include <sys/user.h>
#include <sys/fsuid.h>
#include <sys/inotify.h>

/* The second unprivileged uid, for "someone else's task" (creds.rs). */
#define OTHER 65533

/* Copy a string into a buffer of len bytes, cut short if need be. */
static void strcopy(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* ---------------------------------------------------------------------
 * Directories the instance made, removed when it ends (only by the
 * process that made them: subjects forked later share the list).
 */

static char cleanup_dirs[4][PATH_MAX];
static pid_t cleanup_owner;

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[PATH_MAX];
	if (!d) {
		unlink(path);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (e->d_type == DT_DIR)
			remove_tree(sub);
		else
			unlink(sub);
	}
	closedir(d);
	rmdir(path);
}

static UNUSED void remember_dir(const char *dir)
{
	cleanup_owner = getpid();
	for (int i = 0; i < 4; i++)
		if (!cleanup_dirs[i][0]) {
			snprintf(cleanup_dirs[i], PATH_MAX, "%s", dir);
			return;
		}
}

static UNUSED void cleanup(void)
{
	if (getpid() != cleanup_owner)
		return;
	for (int i = 0; i < 4; i++)
		if (cleanup_dirs[i][0]) {
			remove_tree(cleanup_dirs[i]);
			cleanup_dirs[i][0] = 0;
		}
}

/* ---------------------------------------------------------------------
 * Who a subject runs as (kit/creds.rs).
 */

/* Drop every privilege to uid: all three uids and gids, no
 * supplementary groups. A caller that is not root stays who it is. */
static void drop_to(uid_t uid)
{
	if (geteuid() != 0)
		return;
	SETUP(setgroups(0, NULL));
	SETUP(setresgid(uid, uid, uid));
	SETUP(setresuid(uid, uid, uid));
}

/* PR_SET_DUMPABLE with any value (only 0 and 1 are accepted). */
static long set_dumpable(unsigned long value)
{
	return prctl(PR_SET_DUMPABLE, value, 0, 0, 0);
}

/* The calling process becomes uid for good, and dumpable again, as a
 * process that uid started would be (the drop made it non-dumpable). */
static UNUSED void switch_to(uid_t uid)
{
	drop_to(uid);
	SETUP(set_dumpable(1));
}

/* Let any process reach the caller as far as Yama is concerned (a
 * no-op, EINVAL, without Yama). */
static UNUSED void allow_any_tracer(void)
{
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
}

/* fork() a subject that dies with its parent, as kit/task.rs spawns. */
static pid_t subject(void)
{
	pid_t pid = SETUP(fork());
	if (pid == 0)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	return pid;
}

/* Run fn(arg) in a subject that first drops to uid (a no-op when not
 * root) and makes itself dumpable again; its observation comes back
 * once it has exited. A skip or setup failure in it ends the instance
 * as one. */
static UNUSED void as_uid(uid_t uid, void (*fn)(void *), void *arg)
{
	int fds[2];
	char buf[sizeof(observation) + 1];
	ssize_t n, got = 0;
	const char *end;
	pid_t pid;

	SETUP(pipe2(fds, O_CLOEXEC | O_NONBLOCK));
	pid = subject();
	if (pid == 0) {
		drop_to(uid);
		SETUP(set_dumpable(1));
		observation[0] = 0;
		fn(arg);
		if (write(fds[1], "O", 1) < 0 ||
		    write(fds[1], observation, strlen(observation)) < 0)
			_exit(SUBJECT_EXIT);
		_exit(0);
	}
	close(fds[1]);
	end = wait_exit(pid);
	while ((n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	buf[got] = 0;
	close(fds[0]);
	if (got > 0 && buf[0] == 'O') {
		observe("%s", buf + 1);
		return;
	}
	/* It left with a skip or a setup failure, already reported. */
	cleanup();
	if (!strcmp(end, "exit 0"))
		_exit(0);
	if (!strcmp(end, "exit 121"))
		_exit(SUBJECT_EXIT);
	instance_error("the uid %u subject ended with %s before it reported", uid, end);
}

/* ---------------------------------------------------------------------
 * The mark readers read: each target stores MARK_VALUE after the fork,
 * so "read=target" means the target's memory, not the reader's copy.
 */

#define MARK_VALUE 0x6b636f6e666f726dULL
static volatile uint64_t mark;

static UNUSED void set_mark(void)
{
	mark = MARK_VALUE;
	__sync_synchronize();
}

static UNUSED unsigned long mark_address(void)
{
	return (unsigned long)&mark;
}

static UNUSED const char *what_was_read(uint64_t v)
{
	return v == MARK_VALUE ? "read=target" : v == 0 ? "read=unset" : "read=other";
}

/* The word `key=value` of a state line, or `key=missing`. */
static UNUSED const char *pick(const char *line, const char *key, char *out, size_t len)
{
	size_t k = strlen(key);
	const char *w = line;
	while (*w) {
		while (*w == ' ' || *w == '\t' || *w == '\n')
			w++;
		size_t wl = strcspn(w, " \t\n");
		if (wl > k && !strncmp(w, key, k) && w[k] == '=') {
			snprintf(out, len, "%.*s", (int)wl, w);
			return out;
		}
		w += wl;
	}
	snprintf(out, len, "%s=missing", key);
	return out;
}

/* ---------------------------------------------------------------------
 * Targets: a subject that ran its setup, then parks (blocked reading
 * its stdin) or has exec'd a probe in state-park mode.
 */

struct target {
	pid_t pid;
	char note[256];		/* what its setup noted */
	char state[1024];	/* its state line (the probe's, if it exec'd one) */
	int stdin_fd;		/* closing it ends the park */
};

/* In a subject: exec `prog __probe MODE`. */
static UNUSED void exec_probe(const char *prog, const char *mode)
{
	char call[PATH_MAX + 64];
	execv(prog, (char *[]){ (char *)prog, "__probe", (char *)mode, NULL });
	snprintf(call, sizeof(call), "execve(%s __probe %s)", prog, mode);
	setup_failed(call);
}

/* The target's setup: returns the program to exec (state-park), or
 * NULL to park; may write a note. */
typedef const char *(*target_setup)(void *arg, char *note, size_t len);

static UNUSED struct target target_spawn(target_setup setup, void *arg)
{
	struct target t = { .stdin_fd = -1 };
	int out[2], in[2];
	char line[1400], *tab;
	ssize_t n, got = 0;

	SETUP(pipe2(out, O_CLOEXEC));
	SETUP(pipe2(in, O_CLOEXEC));
	t.pid = subject();
	if (t.pid == 0) {
		char note[256] = "", state[1024], b[16];
		const char *exe;
		/* Only the instance may hold the write end: its close is EOF. */
		close(in[1]);
		exe = setup(arg, note, sizeof(note));
		if (exe) {
			SETUP(dup2(out[1], 1));
			SETUP(dup2(in[0], 0));
			exec_probe(exe, "state-park");
		}
		state_line(state, sizeof(state));
		snprintf(line, sizeof(line), "%s\t%s\n", note, state);
		if (write(out[1], line, strlen(line)) < 0)
			_exit(SUBJECT_EXIT);
		while (read(in[0], b, sizeof(b)) > 0)
			;
		_exit(0);
	}
	close(out[1]);
	close(in[0]);
	t.stdin_fd = in[1];
	/* One line, as BufRead::read_line reads it. */
	while (got < (ssize_t)sizeof(line) - 1 && (n = read(out[0], line + got, 1)) > 0) {
		got += n;
		if (line[got - 1] == '\n')
			break;
	}
	line[got] = 0;
	close(out[0]);
	line[strcspn(line, "\n")] = 0;
	if (!line[0])
		instance_error("the target died during setup");
	tab = strchr(line, '\t');
	if (tab) {
		*tab = 0;
		strcopy(t.note, sizeof(t.note), line);
		strcopy(t.state, sizeof(t.state), tab + 1);
	} else {
		strcopy(t.state, sizeof(t.state), line);
	}
	return t;
}

/* Kill and reap the target (its stdin closed first). */
static UNUSED void target_end(struct target *t)
{
	close(t->stdin_fd);
	kill(t->pid, SIGKILL);
	wait_exit(t->pid);
}

/* The fields of /proc/PID/stat from the state (field 3) on, after the
 * comm's last ')'; NULL once the task is gone. */
static UNUSED char *stat_fields(pid_t pid, char *buf, size_t len)
{
	char path[64], *p;
	int fd, n;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || strlen(p) < 2)
		return NULL;
	return p + 2;
}

/* Until the parked target is asleep (state S) in its read of stdin, at
 * most 10 s: the line it wrote reaches us while it may still run. */
static UNUSED void wait_parked(const struct target *t)
{
	struct timespec start, now;
	char buf[2048], *f;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		f = stat_fields(t->pid, buf, sizeof(buf));
		if (f && f[0] == 'S' && (f[1] == ' ' || !f[1]))
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!f || now.tv_sec - start.tv_sec >= 10)
			instance_error("the target %d never went to sleep in its park", t->pid);
		usleep(1000);
	}
}

/* A target that drops to uid, is dumpable (or not), lets any tracer in
 * as far as Yama goes, and marks its memory. */
static const char *parked_as_setup(void *arg, char *note, size_t len)
{
	const int *how = arg;	/* { uid, dumpable } */
	(void)note, (void)len;
	drop_to(how[0]);
	SETUP(set_dumpable(how[1]));
	allow_any_tracer();
	set_mark();
	return NULL;
}

static UNUSED struct target parked_as(uid_t uid, int dumpable)
{
	int how[2] = { (int)uid, dumpable };
	return target_spawn(parked_as_setup, how);
}

/* A target that marks its memory and parks. */
static UNUSED const char *marked_setup(void *arg, char *note, size_t len)
{
	(void)arg, (void)note, (void)len;
	set_mark();
	return NULL;
}

/* ---------------------------------------------------------------------
 * What readers do (suites/src/ptrace_access.rs).
 */

/* process_vm_readv() of the mark in pid: `readv=ok read=target` or
 * `readv=EPERM`. */
static UNUSED void readv_text(pid_t pid, char *out, size_t len)
{
	uint64_t buf = 0;
	struct iovec local = { &buf, 8 };
	struct iovec remote = { (void *)mark_address(), 8 };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n == 8)
		snprintf(out, len, "readv=ok %s", what_was_read(buf));
	else if (n >= 0)
		snprintf(out, len, "readv=short(%zd)", n);
	else
		snprintf(out, len, "readv=%s", errno_name(errno));
}

/* Skip where process_vm_readv() is not built in. */
static UNUSED void readv_exists(void)
{
	if (process_vm_readv(getpid(), NULL, 0, NULL, 0, 0) < 0 && errno == ENOSYS)
		skip_lacks("process_vm_readv: ENOSYS (kernel built without CONFIG_CROSS_MEMORY_ATTACH)");
}

static UNUSED int open_mem(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* pread() of the mark through an open /proc/PID/mem. */
static UNUSED void pread_mark(int fd, char *out, size_t len)
{
	uint64_t buf = 0;
	ssize_t n = pread(fd, &buf, 8, (off_t)mark_address());
	if (n == 8)
		snprintf(out, len, "%s", what_was_read(buf));
	else if (n == 0)
		snprintf(out, len, "read=eof");
	else if (n > 0)
		snprintf(out, len, "read=short(%zd)", n);
	else
		snprintf(out, len, "read=%s", errno_name(errno));
}

/* Open /proc/PID/mem and read the mark: `mem-open=ok read=target` or
 * `mem-open=EACCES`. */
static UNUSED void proc_mem_text(pid_t pid, char *out, size_t len)
{
	char what[64];
	int fd = open_mem(pid);
	if (fd < 0) {
		snprintf(out, len, "mem-open=%s", errno_name(errno));
		return;
	}
	pread_mark(fd, what, sizeof(what));
	close(fd);
	snprintf(out, len, "mem-open=ok %s", what);
}

/* PTRACE_ATTACH, and let go again: `attach=ok` or `attach=EPERM`. */
static UNUSED void attach_text(pid_t pid, char *out, size_t len)
{
	int status;
	long rc = ptrace(PTRACE_ATTACH, pid, 0, 0);
	int e = errno;
	if (rc == 0) {
		/* The target is parked in read(2): it stops for the SIGSTOP. */
		while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
			;
		ptrace(PTRACE_DETACH, pid, 0, 0);
	}
	snprintf(out, len, "attach=%s", rc == 0 ? "ok" : errno_name(e));
}

/* PTRACE_PEEKDATA of one word: 0 and the word, or -1 with errno. */
static UNUSED long peek(pid_t pid, unsigned long addr, uint64_t *word)
{
	long v;
	errno = 0;
	v = ptrace(PTRACE_PEEKDATA, pid, (void *)addr, 0);
	if (errno)
		return -1;
	*word = (uint64_t)v;
	return 0;
}

/* PTRACE_GETREGS, then PEEKDATA at the instruction pointer (the new
 * image's entry, at an exec's SIGTRAP): "ok" or the errno. */
static UNUSED const char *peek_at_rip(pid_t pid)
{
	struct user_regs_struct regs;
	uint64_t word;
	if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0)
		return errno_name(errno);
	if (peek(pid, regs.rip, &word) < 0)
		return errno_name(errno);
	return "ok";
}

/* pidfd_open(2). */
static UNUSED int pidfd_open(pid_t pid)
{
	return syscall(__NR_pidfd_open, pid, 0);
}

/* ---------------------------------------------------------------------
 * Scratch directories and the probe copies the kernel execs with other
 * credentials (kit/access.rs ProbeCopy, kit/script.rs Script).
 */

static int mount_allows(const char *dir, unsigned long forbidden)
{
	struct statvfs s;
	return statvfs(dir, &s) == 0 && !(s.f_flag & forbidden);
}

/* A fresh PREFIX-XXXXXX directory under $TMPDIR (or /tmp), else next
 * to the running binary, else in /, on a mount without the forbidden
 * flags; remembered for cleanup. 0 on success. */
static UNUSED int temp_dir(const char *prefix, unsigned long forbidden, char *out, size_t len)
{
	char candidates[3][PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	char *slash;
	snprintf(candidates[0], PATH_MAX, "%s", tmp && *tmp ? tmp : "/tmp");
	snprintf(candidates[1], PATH_MAX, "%s", probe_exe());
	slash = strrchr(candidates[1], '/');
	if (slash)
		*slash = 0;
	snprintf(candidates[2], PATH_MAX, "/");
	for (int i = 0; i < 3; i++) {
		if (!candidates[i][0] || !mount_allows(candidates[i], forbidden))
			continue;
		snprintf(out, len, "%s%s%s-XXXXXX", candidates[i],
			 candidates[i][strlen(candidates[i]) - 1] == '/' ? "" : "/", prefix);
		if (mkdtemp(out)) {
			remember_dir(out);
			return 0;
		}
	}
	return -1;
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = SETUP(open(from, O_RDONLY | O_CLOEXEC));
	int out = SETUP(open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755));
	while ((n = SETUP(read(in, buf, sizeof(buf)))) > 0)
		if (SETUP(write(out, buf, n)) != n)
			setup_failed("write(short)");
	close(in);
	close(out);
}

/* A root-owned copy of this binary with mode (04755: setuid root; 0711:
 * runnable but unreadable for others; 0755) in a fresh directory anyone
 * can search, on a mount that honours setuid and exec. Needs root. */
static UNUSED void probe_copy(unsigned mode, char *exe, size_t len)
{
	char dir[PATH_MAX];
	if (mode & S_ISUID && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		skip_forbidden("kconform itself runs under no_new_privs, so no setuid exec can gain privilege");
	if (temp_dir("kconform-probe", ST_NOSUID | ST_NOEXEC, dir, sizeof(dir)))
		skip_forbidden("no writable dir on a mount without nosuid/noexec ($TMPDIR, the probe's, /)");
	SETUP(chmod(dir, 0755));
	strcopy(exe, len, dir);
	strncat(exe, "/probe", len - strlen(exe) - 1);
	copy_file(probe_exe(), exe);
	SETUP(chown(exe, 0, 0));
	SETUP(chmod(exe, mode));
}

/* Whether any uid may read and run path: r-x for others, and every
 * directory above it searchable. */
static UNUSED int world_runnable(const char *path)
{
	char real[PATH_MAX], *slash;
	struct stat st;
	if (!realpath(path, real) || stat(real, &st) || (st.st_mode & 05) != 05)
		return 0;
	while ((slash = strrchr(real, '/'))) {
		if (slash == real)
			slash[1] = 0;
		else
			*slash = 0;
		if (stat(real, &st) || !(st.st_mode & 01))
			return 0;
		if (!strcmp(real, "/"))
			break;
	}
	return 1;
}

/* A root-owned, mode 0755 script DIR/NAME whose first line is
 * `#!INTERPRETER ARG`, in a fresh directory anyone can search. */
static UNUSED void script_new(const char *name, const char *interpreter, const char *arg,
			      char *dir, size_t len)
{
	char path[PATH_MAX], text[PATH_MAX + 64];
	int fd;
	if (temp_dir("kconform-script", ST_NOEXEC, dir, len))
		skip_forbidden("no writable directory on a mount without noexec");
	SETUP(chmod(dir, 0755));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(text, sizeof(text), "#!%s %s\n", interpreter, arg);
	fd = SETUP(open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755));
	if (SETUP(write(fd, text, strlen(text))) != (ssize_t)strlen(text))
		setup_failed("write(script)");
	close(fd);
	SETUP(chown(path, 0, 0));
	SETUP(chmod(path, 0755));
}

/* ---------------------------------------------------------------------
 * Whose memory a reader reaches for: the twins of process-vm-readv and
 * proc-mem (ptrace_access.rs Reach) share the targets.
 */

typedef void (*reader)(pid_t pid, char *out, size_t len);

static const char *cred_changed_setup(void *arg, char *note, size_t len)
{
	(void)arg, (void)note, (void)len;
	allow_any_tracer();
	drop_to(NOBODY);
	set_mark();
	return NULL;
}

/* Set up the target `reach` names and run read on it as the reader:
 * the instance process, dropped to NOBODY once the target is set up (it
 * is the target's parent, which only Yama would weigh, and every target
 * here lets any tracer in). */
static UNUSED void reach_run(const char *reach, reader read)
{
	char seen[256];
	struct target t = { .pid = 0 };

	if (!strcmp(reach, "root-over-non-dumpable"))
		yama_lets_root_in();
	else
		yama_lets_unprivileged_in();

	if (!strcmp(reach, "own-child")) {
		switch_to(NOBODY);
		t = target_spawn(marked_setup, NULL);
	} else if (!strcmp(reach, "same-uid")) {
		t = parked_as(NOBODY, 1);
		switch_to(NOBODY);
	} else if (!strcmp(reach, "non-dumpable")) {
		t = parked_as(NOBODY, 0);
		switch_to(NOBODY);
	} else if (!strcmp(reach, "cred-changed")) {
		/* setresuid() from root resets dumpability (commit_creds()). */
		suid_dumpable_resets();
		t = target_spawn(cred_changed_setup, NULL);
		switch_to(NOBODY);
	} else if (!strcmp(reach, "other-uid")) {
		t = parked_as(OTHER, 1);
		switch_to(NOBODY);
	} else if (!strcmp(reach, "self-non-dumpable")) {
		/* The caller's own thread group always passes the ptrace check. */
		switch_to(NOBODY);
		set_mark();
		SETUP(set_dumpable(0));
		read(getpid(), seen, sizeof(seen));
		observe("%s", seen);
		return;
	} else { /* root-over-non-dumpable: CAP_SYS_PTRACE */
		t = parked_as(OTHER, 0);
	}
	read(t.pid, seen, sizeof(seen));
	observe("%s", seen);
	target_end(&t);
}
