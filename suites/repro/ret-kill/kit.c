/*
 * ret-kill's kit (suites/src/ret_kill.rs and the parts of suites/src/kit
 * it uses): a task killed by SECCOMP_RET_KILL_THREAD or _PROCESS never
 * runs another instruction, whatever a tracer does.
 *
 * Every subject proves "never ran again" the same way: the killed syscall
 * is write(KILL_FD, "K", 1) into the effects pipe, and the code after it
 * notes "escaped"; the effects pipe is read once every subject is dead,
 * so an empty pipe (effects=none) is the proof.
 */
#include <dirent.h>
#include <pthread.h>
#include <sys/user.h>
#include <linux/futex.h>

/* The fd the killed write() goes to: a dup of the effects pipe that only
 * the filter's kill rule names. */
#define KILL_FD 100

static const char K[1] = "K";

/* ---------------------------------------------------------------------
 * Notes: short lines a subject leaves in a pipe (one write(2) each, so
 * async-signal-safe), read once the subject is gone (kit::task::Notes).
 */

static UNUSED void notes_say(struct notes *n, const char *note)
{
	note_to(n->tx, note);
}

/* ---------------------------------------------------------------------
 * The kill action, the threads, and the killed syscall.
 */

enum kill { KILL_THREAD, KILL_PROCESS };
enum threads { SINGLE, MULTI };

static UNUSED enum kill kill_of(const char *params)
{
	return strncmp(params, "kill-process", strlen("kill-process")) ? KILL_THREAD
								      : KILL_PROCESS;
}

static UNUSED enum threads threads_of(const char *params)
{
	return strstr(params, "multi-thread") ? MULTI : SINGLE;
}

static UNUSED unsigned int kill_ret(enum kill k)
{
	return k == KILL_PROCESS ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_KILL_THREAD;
}

/* The effects pipe; KILL_FD points into it, and the escape paths know
 * where to note. */
static struct notes effects;

static UNUSED void effects_pipe(void)
{
	effects = notes_new();
	SETUP(dup2(effects.tx, KILL_FD));
}

/* The killed syscall: write(KILL_FD, "K", 1). */
static UNUSED long killed_write(void)
{
	return write(KILL_FD, K, 1);
}

/* ---------------------------------------------------------------------
 * Filters, as kit::seccomp::Filter compiles them: kill the process unless
 * the arch is x86_64 and the number has no __X32_SYSCALL_BIT, then the
 * rules in order (number, and first argument's low 32 bits where given),
 * then ALLOW.
 */

/* In a subject: the filter that kills write(KILL_FD). */
static UNUSED void filter_kill_write(enum kill k)
{
	struct filter_rule r = { __NR_write, 1, KILL_FD, kill_ret(k) };
	install_rules_or_exit(&r, 1);
}

/* ---------------------------------------------------------------------
 * Subjects and tracees, as kit::task::spawn and kit::trace::Tracee.
 */

/* ---------------------------------------------------------------------
 * The sandboxed code: install the filter, make the killed syscall (from a
 * second thread when asked), and note anything that runs after it.
 */

/* Where a tracer that rewrites the instruction pointer sends the task. */
static UNUSED __attribute__((noreturn)) void escape_hatch(void)
{
	note_to(effects.tx, "escaped-via-regs");
	_exit(77);
}

static void *killed_thread(void *unused)
{
	(void)unused;
	killed_write();
	note_to(effects.tx, "escaped-thread");
	return NULL;
}

static UNUSED int run_killed(enum threads threads)
{
	pthread_t t;
	int rc;

	if (threads == SINGLE) {
		killed_write();
		note_to(effects.tx, "escaped");
		return 0;
	}
	rc = pthread_create(&t, NULL, killed_thread, NULL);
	if (rc) {
		errno = rc;
		setup_failed("pthread_create");
	}
	pthread_join(t, NULL);
	note_to(effects.tx, "main-after-join");
	return 3;
}

struct sandbox { enum kill kill; enum threads threads; };

static UNUSED int sandboxed(void *p)
{
	struct sandbox *s = p;
	filter_kill_write(s->kill);
	return run_killed(s->threads);
}

/* ---------------------------------------------------------------------
 * What the tracer tries at the killed task's PTRACE_EVENT_EXIT stop.
 */

enum attempt { CONT0, SETREGS, SYSCALL_, DETACH, INTERRUPT_LISTEN, SIGCONT_ };

static UNUSED enum attempt attempt_of(const char *params)
{
	const char *a = strrchr(params, '/');
	a = a ? a + 1 : params;
	if (!strcmp(a, "setregs"))
		return SETREGS;
	if (!strcmp(a, "syscall"))
		return SYSCALL_;
	if (!strcmp(a, "detach"))
		return DETACH;
	if (!strcmp(a, "interrupt-listen"))
		return INTERRUPT_LISTEN;
	if (!strcmp(a, "sigcont"))
		return SIGCONT_;
	return CONT0;
}

/* Try to get pid running again; what each request answered. */
static UNUSED const char *attempt_apply(enum attempt a, pid_t pid)
{
	static char out[128];
	struct user_regs_struct regs;
	const char *set, *cont, *first;

	switch (a) {
	case CONT0:
		snprintf(out, sizeof(out), "cont=%s",
			 result_name(ptrace(PTRACE_CONT, pid, 0, 0)));
		break;
	case SETREGS:
		if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0) {
			set = errno_name(errno);
		} else {
			regs.rip = (unsigned long)escape_hatch;
			set = result_name(ptrace(PTRACE_SETREGS, pid, 0, &regs));
		}
		cont = result_name(ptrace(PTRACE_CONT, pid, 0, 0));
		snprintf(out, sizeof(out), "setregs=%s cont=%s", set, cont);
		break;
	case SYSCALL_:
		snprintf(out, sizeof(out), "syscall=%s",
			 result_name(ptrace(PTRACE_SYSCALL, pid, 0, 0)));
		break;
	case DETACH:
		snprintf(out, sizeof(out), "detach=%s",
			 result_name(ptrace(PTRACE_DETACH, pid, 0, 0)));
		break;
	case INTERRUPT_LISTEN: {
		long listened;
		first = result_name(ptrace(PTRACE_INTERRUPT, pid, 0, 0));
		listened = ptrace(PTRACE_LISTEN, pid, 0, 0);
		snprintf(out, sizeof(out), "interrupt=%s listen=%s", first,
			 result_name(listened));
		if (listened < 0)
			snprintf(out + strlen(out), sizeof(out) - strlen(out), " cont=%s",
				 result_name(ptrace(PTRACE_CONT, pid, 0, 0)));
		break;
	}
	case SIGCONT_:
		first = result_name(kill(pid, SIGCONT));
		cont = result_name(ptrace(PTRACE_CONT, pid, 0, SIGCONT));
		snprintf(out, sizeof(out), "sigcont=%s cont=%s", first, cont);
		break;
	}
	return out;
}

#define TRACE_OPTIONS (PTRACE_O_TRACEEXIT | PTRACE_O_TRACECLONE)

/*
 * Follow every traced task of ours until leader is gone: answer each EXIT
 * stop with the attempt, suppress any SIGSYS delivery stop (the escape a
 * broken kernel would allow), resume anything else. The text is per task
 * ("main: ...; thread: ..."), each in its own order: across threads the
 * order is a race. A non-leader thread's exit is left out too: once the
 * group has exited, wait reports the group's exit code for every thread
 * still unreaped.
 */
static UNUSED const char *follow_kill(pid_t leader, enum attempt a)
{
	static char out[2048 + 32];
	char main_log[1024] = "", thread_log[1024] = "";
	int budget = 64, status;

	for (;;) {
		if (--budget == 0) {
			log_add(main_log, sizeof(main_log), ", ", "...");
			break;
		}
		pid_t pid = waitpid(-1, &status, __WALL);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			log_add(main_log, sizeof(main_log), ", ", "waitpid=%s", errno_name(errno));
			break;
		}
		char *log = pid == leader ? main_log : thread_log;
		size_t size = pid == leader ? sizeof(main_log) : sizeof(thread_log);
		if (is_event(status, PTRACE_EVENT_EXIT)) {
			log_add(log, size, ", ", "event EXIT");
			log_add(log, size, ", ", "%s", attempt_apply(a, pid));
		} else if (is_signal_stop(status) && WSTOPSIG(status) == SIGSYS) {
			log_add(log, size, ", ", "stop SIGSYS");
			ptrace(PTRACE_CONT, pid, 0, 0);
		} else if (is_signal_stop(status) && WSTOPSIG(status) != SIGSTOP) {
			ptrace(PTRACE_CONT, pid, 0, WSTOPSIG(status));
		} else if (is_final(status)) {
			if (pid == leader) {
				log_add(main_log, sizeof(main_log), ", ", "%s", status_text(status));
				break;
			}
		} else {
			ptrace(PTRACE_CONT, pid, 0, 0);
		}
	}
	if (thread_log[0])
		snprintf(out, sizeof(out), "main: %s; thread: %s", main_log, thread_log);
	else
		snprintf(out, sizeof(out), "main: %s", main_log);
	return out;
}

/* ---------------------------------------------------------------------
 * Core dumps: run a body in a subject with RLIMIT_CORE unlimited, in a
 * scratch directory where its core would land (core(5)).
 */

struct dumping { char dir[PATH_MAX]; int (*body)(void *); void *arg; };

static int dumping_subject(void *p)
{
	struct dumping *d = p;
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	if (setrlimit(RLIMIT_CORE, &unlimited))
		setup_failed("setrlimit(RLIMIT_CORE, RLIM_INFINITY)");
	if (chdir(d->dir))
		setup_failed("chdir");
	return d->body(d->arg);
}

/* Remove dir and the files in it; whether it held any. */
static int remove_dir(const char *dir)
{
	char path[PATH_MAX + 256];
	struct dirent *e;
	int any = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		any = 1;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
	return any;
}

/* Observe how the body's subject ended, whether a core file appeared, and
 * the effects. Only where core_pattern dumps into the working directory:
 * a pipe or an absolute path leaves the core flag to another program. */
static UNUSED void dumping(int (*body)(void *), void *arg)
{
	struct dumping d = { .body = body, .arg = arg };
	char pattern[256] = "", *p = pattern, *e;
	const char *tmp = getenv("TMPDIR"), *end;
	int fd, n, dumped;
	pid_t pid;

	fd = open("/proc/sys/kernel/core_pattern", O_RDONLY);
	if (fd < 0)
		skip_lacks("cannot read core_pattern: %s", strerror(errno));
	n = read(fd, pattern, sizeof(pattern) - 1);
	close(fd);
	pattern[n > 0 ? n : 0] = 0;
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
		*--e = 0;
	if (*p == '|' || *p == '/' || !*p)
		skip_forbidden("core_pattern `%s` does not dump into the working directory, "
			       "so the core flag depends on another program", p);

	snprintf(d.dir, sizeof(d.dir), "%s/kconform-core-%d", tmp && *tmp ? tmp : "/tmp",
		 getpid());
	if (mkdir(d.dir, 0755) && errno != EEXIST)
		setup_failed("mkdir");
	effects_pipe();
	pid = spawn(dumping_subject, &d);
	end = wait_exit(pid);
	dumped = remove_dir(d.dir);
	observe("%s; core-file=%s; effects=%s", end, dumped ? "yes" : "no",
		notes_summary(&effects));
}
