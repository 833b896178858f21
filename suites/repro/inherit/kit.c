/*
 * The inherit area's kit (suites/src/inherit.rs, kit/access.rs): the two
 * filters handed down, the state line a task prints of what it runs
 * under, capturing a subject's output, and exec of the probe.
 *
 * The filters deny getppid() with EUCLEAN and, a second one, getsid()
 * with EMEDIUMTYPE, so "getppid=EUCLEAN" says the first acts on the task.
 */
#include <pthread.h>

/* kconform's filter shape (kit/seccomp.rs Filter::allow_all): the arch
 * must be x86_64 and the number free of __X32_SYSCALL_BIT, else kill the
 * process; syscall nr gets action; everything else is allowed. */
static UNUSED long install_one_rule(int nr, unsigned int action)
{
	struct filter_rule rule = RULE(nr, action);
	return install_rules(&rule, 1, 0);
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
 * order: "nnp=1 euid=0"; "key=missing" for a key the line lacks. */
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
		instance_error("%s", why);
	}
}

/* Wait for a child a subject made: 1 if it exited 0. */
static UNUSED int ended_well(pid_t child)
{
	return !strcmp(wait_exit(child), "exit 0");
}

/* Drop every privilege to uid (kit/creds.rs drop_to): a caller that is
 * not root stays who it is. */
static UNUSED void drop_to(uid_t uid)
{
	if (geteuid() != 0)
		return;
	become(uid);
}

/* Fork a subject traced by us with options (plus EXITKILL, so no subject
 * outlives its tracer), attached by PTRACE_TRACEME (it stops itself) or
 * PTRACE_SEIZE; body(arg) runs once we are attached and it runs again. */
static UNUSED pid_t tracee_spawn(int traceme, long options, int (*body)(void *), void *arg)
{
	struct gate gate = gate_new();
	pid_t pid;
	int status;

	options |= PTRACE_O_EXITKILL;
	pid = SETUP(fork());
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (traceme) {
			SETUP(ptrace(PTRACE_TRACEME, 0, 0, 0));
			SETUP(raise(SIGSTOP));
		} else {
			gate_wait(&gate);
		}
		_exit(body(arg));
	}
	if (traceme) {
		status = wait_status(pid);
		if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP || (status >> 16)) {
			instance_error("subject did not stop for the tracer");
		}
		SETUP(ptrace(PTRACE_SETOPTIONS, pid, 0, options));
		SETUP(ptrace(PTRACE_CONT, pid, 0, 0));
	} else {
		SETUP(ptrace(PTRACE_SEIZE, pid, 0, options));
	}
	gate_open(&gate);
	return pid;
}

static UNUSED void append(char *log, size_t size, const char *entry)
{
	size_t n = strlen(log);
	snprintf(log + n, size - n, "%s%s", n ? " -> " : "", entry);
}

/* Every `from` in s (of size bytes) becomes `to`. */
static UNUSED void replace_all(char *s, size_t size, const char *from, const char *to)
{
	char out[2048], *p = s, *m;
	size_t n = 0;
	while ((m = strstr(p, from))) {
		n += snprintf(out + n, sizeof(out) - n, "%.*s%s", (int)(m - p), p, to);
		p = m + strlen(from);
	}
	snprintf(out + n, sizeof(out) - n, "%s", p);
	n = strlen(out) < size ? strlen(out) : size - 1;
	memcpy(s, out, n);
	s[n] = 0;
}

/* Follow the traced task `main` and every task it makes until main has
 * exited: resume each stop, suppress the new tasks' first SIGSTOP and the
 * legacy post-exec SIGTRAP, pass other signals on. Fills in the stops of
 * main and of the (one) new task, each as "a -> b -> end" (new_log is
 * empty for an untraced new task); at_exec adds a word at main's exec
 * stop. */
static UNUSED void follow_tracee(pid_t main_pid, const char *(*at_exec)(void), char *main_log,
				 char *new_log, size_t size)
{
	char last_new[64] = "";
	long told = 0;
	int have_told = 0, main_done = 0;
	pid_t new_pid = 0;

	main_log[0] = new_log[0] = 0;
	for (int i = 0; i < 32; i++) {
		int new_done = !*new_log || !strncmp(last_new, "exit", 4) ||
			       !strncmp(last_new, "killed", 6);
		char entry[128];
		int status, resume = 1, sig = 0;
		pid_t pid;

		if (main_done && new_done)
			break;
		pid = waitpid(-1, &status, __WALL);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0 && errno == ECHILD)
			break;
		if (pid < 0)
			setup_failed("waitpid");
		if (pid != main_pid && !new_pid)
			new_pid = pid;
		snprintf(entry, sizeof(entry), "%s", status_text(status));
		if (WIFSTOPPED(status) && (status >> 16) && WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			unsigned long msg;
			int ev = status >> 16;
			if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) < 0)
				msg = (unsigned long)-1;
			if (ev == PTRACE_EVENT_FORK || ev == PTRACE_EVENT_VFORK ||
			    ev == PTRACE_EVENT_CLONE) {
				told = msg, have_told = 1;
				strcat(entry, " msg=new-task");
			} else if (ev == PTRACE_EVENT_EXEC) {
				const char *extra = at_exec ? at_exec() : "";
				strcat(entry, (long)msg == main_pid ? " msg=own-pid" : " msg=other");
				if (*extra) {
					strcat(entry, " ");
					strcat(entry, extra);
				}
			}
		} else if (WIFSTOPPED(status) && WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			sig = WSTOPSIG(status);
			if ((sig == SIGSTOP && pid != main_pid) || (sig == SIGTRAP && pid == main_pid))
				sig = 0;
		} else if (is_final(status)) {
			resume = 0;
		}
		if (resume)
			ptrace(PTRACE_CONT, pid, 0, sig);
		if (pid == main_pid) {
			append(main_log, size, entry);
			main_done = is_final(status);
		} else {
			append(new_log, size, entry);
			snprintf(last_new, sizeof(last_new), "%s", entry);
		}
	}
	/* The event message names the task that then stopped as new. */
	if (have_told && told != new_pid)
		replace_all(main_log, size, "msg=new-task", "msg=other");
}
