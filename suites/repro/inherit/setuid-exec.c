/*
 * A setuid-root program exec'd by NOBODY gets euid 0, unless
 * no_new_privs is set (prctl(2) PR_SET_NO_NEW_PRIVS) or a tracer without
 * CAP_SYS_PTRACE follows it (security/commoncap.c cap_bprm_creds_from_file);
 * a filter stays on either way, and so does the tracer.
 *
 *   filter-nnp:          NOBODY installs the filter itself (so with NNP)
 *   filter-by-root:      root installs it without NNP, then drops to NOBODY
 *   traced-unprivileged: seized with TRACEEXEC by a tracer of NOBODY's uid
 *   traced-by-root:      seized with TRACEEXEC by root
 */
#include <sys/statvfs.h>

static const char *const setuid_words[] = { "euid", "nnp", "seccomp", "getppid", "secure", NULL };

static char copy_dir[PATH_MAX + 32], copy_exe[PATH_MAX + 64];

static int honours_setuid(const char *dir)
{
	struct statvfs s;
	return statvfs(dir, &s) == 0 && !(s.f_flag & (ST_NOSUID | ST_NOEXEC));
}

/* A root-owned setuid copy (4755) of the probe (this binary), in a fresh
 * directory everyone can reach on a mount that honours setuid and exec:
 * $TMPDIR (or /tmp), the binary's own directory, or /. */
static void make_setuid_copy(void)
{
	char candidates[3][PATH_MAX], buf[65536];
	const char *tmp = getenv("TMPDIR");
	int in, out, found = 0;
	ssize_t n;

	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		skip_forbidden("kconform itself runs under no_new_privs, so no setuid exec can gain privilege");
	snprintf(candidates[0], PATH_MAX, "%s", tmp && *tmp ? tmp : "/tmp");
	snprintf(candidates[1], PATH_MAX, "%s", probe_exe());
	*strrchr(candidates[1], '/') = 0;
	snprintf(candidates[2], PATH_MAX, "/");
	for (int i = 0; i < 3 && !found; i++) {
		if (!honours_setuid(candidates[i]))
			continue;
		snprintf(copy_dir, sizeof(copy_dir), "%.4000s/kconform-probe-XXXXXX",
			 strcmp(candidates[i], "/") ? candidates[i] : "");
		found = mkdtemp(copy_dir) != NULL;
	}
	if (!found)
		skip_forbidden("no writable dir on a mount without nosuid/noexec ($TMPDIR, the probe's, /)");
	SETUP(chmod(copy_dir, 0755));
	snprintf(copy_exe, sizeof(copy_exe), "%s/probe", copy_dir);
	in = SETUP(open(probe_exe(), O_RDONLY | O_CLOEXEC));
	out = SETUP(open(copy_exe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700));
	while ((n = SETUP(read(in, buf, sizeof(buf)))) > 0)
		if (write(out, buf, n) != n)
			setup_failed("write(probe copy)");
	close(in);
	close(out);
	SETUP(chown(copy_exe, 0, 0));
	SETUP(chmod(copy_exe, 04755));
}

static void remove_setuid_copy(void)
{
	unlink(copy_exe);
	rmdir(copy_dir);
}

/* In the subject: (root installs the filter,) drop to NOBODY, (NOBODY
 * installs it,) exec the setuid copy. */
static int exec_as_nobody(void *arg)
{
	int by_root = !strcmp(arg, "filter-by-root");

	if (by_root)
		filter_a(0);
	drop_to(NOBODY);
	if (!by_root)
		filter_a(1);
	return exec_probe(copy_exe, "state");
}

static int out_tx;

/* The traced subject: drop to NOBODY, exec the setuid copy. */
static int traced_exec(void *arg)
{
	(void)arg;
	drop_to(NOBODY);
	SETUP(dup2(out_tx, 1));
	return exec_probe(copy_exe, "state");
}

/* Seize a subject that drops to NOBODY and execs the copy; follow it to
 * its end: "tracer: event EXEC ... -> exit 0; euid=... ...". */
static void traced_setuid_exec(char *text, size_t size)
{
	char main_log[1024], new_log[1024], out[1024], words[256];
	int fds[2];
	pid_t pid;

	SETUP(pipe2(fds, O_CLOEXEC));
	out_tx = fds[1];
	pid = tracee_spawn(0, PTRACE_O_TRACEEXEC, traced_exec, NULL);
	close(fds[1]);
	follow_tracee(pid, NULL, main_log, new_log, sizeof(main_log));
	read_all(fds[0], out, sizeof(out));
	if (!*out) {
		instance_error("the traced program printed nothing");
	}
	snprintf(text, size, "tracer: %s; %s", main_log, pick(out, setuid_words, words, sizeof(words)));
}

/* kit/access.rs as_uid: the tracer itself runs as NOBODY (dumpable
 * again after the uid change), in a subject of its own. */
static void traced_by_nobody(char *text, size_t size)
{
	int fds[2];
	pid_t pid;

	SETUP(pipe2(fds, O_CLOEXEC));
	pid = SETUP(fork());
	if (pid == 0) {
		char mine[2048];
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		drop_to(NOBODY);
		SETUP(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
		traced_setuid_exec(mine, sizeof(mine));
		if (write(fds[1], mine, strlen(mine)) < 0)
			_exit(SUBJECT_EXIT);
		_exit(0);
	}
	close(fds[1]);
	read_all(fds[0], text, size);
	wait_exit(pid);
	if (!*text) {
		instance_error("the NOBODY tracer ended before it reported");
	}
}

static void run_instance(const char *params)
{
	char out[1024], end[64], words[256], text[2048];

	if (!strcmp(params, "traced-unprivileged"))
		yama_lets_unprivileged_in();
	else if (!strcmp(params, "traced-by-root"))
		yama_lets_root_in();
	make_setuid_copy();

	if (!strcmp(params, "traced-unprivileged")) {
		traced_by_nobody(text, sizeof(text));
	} else if (!strcmp(params, "traced-by-root")) {
		traced_setuid_exec(text, sizeof(text));
	} else {
		capture(exec_as_nobody, (void *)params, out, sizeof(out), end, sizeof(end));
		finished(end, out);
		snprintf(text, sizeof(text), "%s", pick(out, setuid_words, words, sizeof(words)));
	}
	remove_setuid_copy();
	observe("%s", text);
}
