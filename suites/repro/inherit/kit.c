/*
 * The inherit area's kit (suites/src/inherit.rs, kit/access.rs): the two
 * filters handed down, the state line a task prints of what it runs
 * under, capturing a subject's output, and exec of the probe.
 *
 * The filters deny getppid() with EUCLEAN and, a second one, getsid()
 * with EMEDIUMTYPE, so "getppid=EUCLEAN" says the first acts on the task.
 */
#include <pthread.h>

#define X32_SYSCALL_BIT 0x40000000u

/* The errno names the state line may show; EMEDIUMTYPE (the second
 * filter's) is missing from prelude.c's errno_name(). */
static UNUSED const char *inherit_errno_name(int e)
{
	if (e == EMEDIUMTYPE)
		return "EMEDIUMTYPE";
	return errno_name(e);
}

/* kconform's filter shape (kit/seccomp.rs Filter::allow_all): the arch
 * must be x86_64 and the number free of __X32_SYSCALL_BIT, else kill the
 * process; syscall nr gets action; everything else is allowed. */
static UNUSED long install_one_rule(int nr, unsigned int action)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_ARCH),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_NR, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	return install_filter(f, sizeof(f) / sizeof(f[0]), 0);
}

/* The first filter: getppid() fails with EUCLEAN. */
static UNUSED void filter_a(int with_nnp)
{
	if (with_nnp)
		no_new_privs();
	SETUP(install_one_rule(__NR_getppid, SECCOMP_RET_ERRNO | EUCLEAN));
}

/* The second, added later: getsid() fails with EMEDIUMTYPE. */
static UNUSED void filter_b(int with_nnp)
{
	if (with_nnp)
		no_new_privs();
	SETUP(install_one_rule(__NR_getsid, SECCOMP_RET_ERRNO | EMEDIUMTYPE));
}

/* What the calling thread runs with, in the words of the `__probe state`
 * line (suites/src/probe.rs state_line). */
static UNUSED void state_line(char *line, size_t size)
{
	char status[4096], filters[32] = "?", *p;
	int fd = open("/proc/thread-self/status", O_RDONLY), n = 0;
	static const struct { const char *name; long nr; } markers[] = {
		{ "getppid", __NR_getppid }, { "getsid", __NR_getsid },
	};

	if (fd >= 0) {
		n = read(fd, status, sizeof(status) - 1);
		close(fd);
	}
	status[n > 0 ? n : 0] = 0;
	p = strstr(status, "Seccomp_filters:");
	if (p)
		sscanf(p + strlen("Seccomp_filters:"), " %31s", filters);
	snprintf(line, size,
		 "euid=%u ruid=%u nnp=%d seccomp=%d filters=%s dumpable=%d secure=%lu",
		 geteuid(), getuid(), prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
		 prctl(PR_GET_SECCOMP, 0, 0, 0, 0), filters,
		 prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), getauxval(AT_SECURE));
	for (int i = 0; i < 2; i++) {
		long rc = syscall(markers[i].nr, 0);
		snprintf(line + strlen(line), size - strlen(line), " %s=%s", markers[i].name,
			 rc < 0 ? inherit_errno_name(errno) : "ok");
	}
}

/* One line to stdout with a single write(2). */
static UNUSED void say_line(const char *text)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s\n", text);
	if (write(1, buf, n) < 0)
		_exit(SUBJECT_EXIT);
}

static UNUSED void say_state(void)
{
	char line[512];
	state_line(line, sizeof(line));
	say_line(line);
}

/* The words of a state line named by keys (NULL-terminated), in that
 * order: "nnp=1 euid=0"; "key=missing" for a key the line lacks. An
 * errno the exec'd probe (prelude.c) printed as UnknownErrno(N) is
 * named here. */
static UNUSED const char *pick(const char *line, const char *const *keys, char *out, size_t size)
{
	size_t n = 0;
	out[0] = 0;
	for (int k = 0; keys[k]; k++) {
		size_t klen = strlen(keys[k]);
		const char *w = line;
		char val[64] = "missing";
		while (*w) {
			size_t wlen;
			w += strspn(w, " \t\n");
			wlen = strcspn(w, " \t\n");
			if (wlen > klen && !strncmp(w, keys[k], klen) && w[klen] == '=') {
				snprintf(val, sizeof(val), "%.*s", (int)(wlen - klen - 1), w + klen + 1);
				break;
			}
			w += wlen;
		}
		if (!strncmp(val, "UnknownErrno(", 13))
			snprintf(val, sizeof(val), "%s", inherit_errno_name(atoi(val + 13)));
		n += snprintf(out + n, size - n, "%s%s=%s", k ? " " : "", keys[k], val);
	}
	return out;
}

/* exec the probe (this reproducer's own binary) in a __probe mode. */
static UNUSED int exec_probe(const char *exe, const char *mode)
{
	char *argv[] = { (char *)exe, "__probe", (char *)mode, NULL };
	execv(exe, argv);
	setup_failed("execve(probe __probe MODE)");
	return SUBJECT_EXIT;
}

static UNUSED void read_all(int fd, char *out, size_t size)
{
	size_t got = 0;
	ssize_t n;
	while (got < size - 1 && (n = read(fd, out + got, size - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += n;
	}
	out[got] = 0;
}

/* Run body(arg) in a forked subject whose stdout goes into a pipe; what
 * it wrote (trailing whitespace trimmed) and how it ended. */
static UNUSED void capture(int (*body)(void *), void *arg, char *out, size_t size, char *end,
			   size_t end_size)
{
	int fds[2];
	pid_t pid;
	size_t n;

	SETUP(pipe2(fds, O_CLOEXEC));
	pid = SETUP(fork());
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		SETUP(dup2(fds[1], 1));
		_exit(body(arg));
	}
	close(fds[1]);
	read_all(fds[0], out, size);
	close(fds[0]);
	snprintf(end, end_size, "%s", wait_exit(pid));
	n = strlen(out);
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = 0;
}

/* The subject exited 0 and printed something, or the setup broke. */
static UNUSED void finished(const char *end, const char *out)
{
	if (strcmp(end, "exit 0") || !*out) {
		char why[256];
		snprintf(why, sizeof(why), "the subject ended with %s, having printed `%.100s`",
			 end, out);
		errno = EPROTO;
		setup_failed(why);
	}
}

/* Wait for a child a subject made: 1 if it exited 0. */
static UNUSED int ended_well(pid_t child)
{
	return !strcmp(wait_exit(child), "exit 0");
}
