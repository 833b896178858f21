/*
 * A filter synced onto a thread parked at a ptrace stop judges the
 * syscall it resumes into.
 *
 * The subject's sibling-1 (no filter) is traced by us with PTRACE_SEIZE
 * and PTRACE_SYSCALL; its main is not traced. We park sibling-1 (at the
 * syscall-entry stop of getsid(MARKED_ARG), or in a PTRACE_INTERRUPT stop
 * before it), then main installs "getsid(MARKED_ARG) -> ERRNO(EPERM)"
 * with TSYNC (it succeeds: no thread has a filter), and only then is
 * sibling-1 resumed. TSYNC sets the filter and SYSCALL_WORK_SECCOMP on
 * every thread, and seccomp runs after the syscall-entry stop ("Do
 * seccomp after ptrace, to catch any tracer changes", kernel/entry/
 * common.c syscall_trace_enter), so the parked call should be judged by
 * the new filter: EPERM, seen at the exit stop and by the thread. A
 * kernel that goes on with the work flags it read before the stop skips
 * seccomp for that syscall, and the call fails with its own ESRCH.
 *
 *   entry-stop:     parked at the entry stop of the marked call
 *   interrupt-stop: parked in an interrupt stop before it (control: the
 *                   syscall enters the kernel only after the sync)
 */

/* getsid() of a pid no kernel hands out (above PID_MAX_LIMIT): the call
 * itself can only fail with ESRCH, so EPERM can only come from the filter. */
#define MARKED_NR __NR_getsid
#define MARKED_ARG 0x7ffffff0u

static int tid_tx, ret_tx, sync_tx;
static struct gate go, sync_gate;

static void put_long(int fd, long v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(SUBJECT_EXIT);
}

static long get_long(int fd)
{
	long v;
	size_t got = 0;
	while (got < sizeof(v)) {
		ssize_t n = read(fd, (char *)&v + got, sizeof(v) - got);
		if (n == 0) {
			errno = EPIPE;
			setup_failed("read (the subject closed its pipe early)");
		}
		if (n < 0 && errno != EINTR)
			setup_failed("read");
		if (n > 0)
			got += n;
	}
	return v;
}

/* A raw result as text: an errno name for -4095..-1, else the number. */
static const char *ret_name(long r)
{
	static char buf[32];
	if (r >= -4095 && r < 0)
		return errno_name(-r);
	snprintf(buf, sizeof(buf), "%ld", r);
	return buf;
}

/* sibling-1: say its tid, wait for the go, make the marked call. */
static void *marked_caller(void *arg)
{
	(void)arg;
	put_long(tid_tx, gettid());
	gate_wait(&go);
	put_long(ret_tx, neg_errno(syscall(MARKED_NR, MARKED_ARG)));
	return NULL;
}

/* The subject: NO_NEW_PRIVS, sibling-1, and main's TSYNC once told to. */
static int subject(void *arg)
{
	struct filter_rule deny = RULE_ARG0(MARKED_NR, MARKED_ARG, SECCOMP_RET_ERRNO | EPERM);
	pthread_t t;

	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	SETUP(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	errno = pthread_create(&t, NULL, marked_caller, NULL);
	if (errno)
		setup_failed("pthread_create");
	gate_wait(&sync_gate);
	put_long(sync_tx, neg_errno(install_rules(&deny, 1, SECCOMP_FILTER_FLAG_TSYNC)));
	return pthread_join(t, NULL) ? 101 : 0;
}

/* struct ptrace_syscall_info by the uapi layout: op at 0, nr (or, at
 * an exit stop, rval) at 24, args from 32. */
struct syscall_info { unsigned char op; unsigned long nr, arg0; };

static struct syscall_info syscall_info(pid_t tid)
{
	unsigned char raw[96] = { 0 };
	struct syscall_info i;
	SETUP(ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(raw), raw));
	i.op = raw[0];
	memcpy(&i.nr, raw + 24, 8);
	memcpy(&i.arg0, raw + 32, 8);
	return i;
}

static void broken(const char *why, int status)
{
	char what[160];
	snprintf(what, sizeof(what), "%s: %s", why, status_text(status));
	instance_error("%s", what);
}

/* Open the sync gate and note what main's TSYNC returned. */
static void do_sync(char *steps, size_t size, int sync_rx)
{
	gate_open(&sync_gate);
	snprintf(steps + strlen(steps), size - strlen(steps), "%stsync=%s",
		 *steps ? " -> " : "", ret_name(get_long(sync_rx)));
}

static void step(char *steps, size_t size, const char *what)
{
	snprintf(steps + strlen(steps), size - strlen(steps), "%s%s", *steps ? " -> " : "", what);
}

/* The tracer's side: returns the steps it saw. */
static void drive_parked(int entry_stop, pid_t tid, int sync_rx, char *steps, size_t size)
{
	struct syscall_info info;
	int status, entered = 0;

	SETUP(ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL));
	SETUP(ptrace(PTRACE_INTERRUPT, tid, 0, 0));
	status = wait_status(tid);
	if (!WIFSTOPPED(status) || (status >> 16) == 0)
		broken("sibling-1 did not stop for PTRACE_INTERRUPT", status);
	if (!entry_stop) {
		step(steps, size, "interrupt-stop");
		do_sync(steps, size, sync_rx);
	}
	gate_open(&go);
	/* Resume through the thread's syscalls (the gate's read, restarted
	 * after the interrupt) to the entry stop of the marked call. */
	for (int i = 0; i < 64; i++) {
		SETUP(ptrace(PTRACE_SYSCALL, tid, 0, 0));
		status = wait_status(tid);
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			/* A kernel that runs seccomp before the syscall-entry
			 * stop skips the denied call before any stop. */
			step(steps, size, "no entry-stop");
			return;
		}
		if (!WIFSTOPPED(status) || WSTOPSIG(status) != (SIGTRAP | 0x80))
			broken("sibling-1 left its syscalls", status);
		info = syscall_info(tid);
		if (info.op == PTRACE_SYSCALL_INFO_ENTRY && info.nr == MARKED_NR &&
		    (unsigned int)info.arg0 == MARKED_ARG) {
			entered = 1;
			break;
		}
	}
	if (!entered) {
		instance_error("sibling-1 never entered the marked syscall");
	}
	step(steps, size, "entry-stop getsid");
	if (entry_stop)
		do_sync(steps, size, sync_rx);
	SETUP(ptrace(PTRACE_SYSCALL, tid, 0, 0));
	status = wait_status(tid);
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != (SIGTRAP | 0x80))
		broken("sibling-1 did not reach the exit stop", status);
	info = syscall_info(tid);
	/* At an exit stop the union holds rval where an entry stop has nr. */
	snprintf(steps + strlen(steps), size - strlen(steps), " -> exit-stop ret=%s",
		 ret_name((long)info.nr));
	SETUP(ptrace(PTRACE_DETACH, tid, 0, 0));
}

static void run_instance(const char *params)
{
	int tid_p[2], ret_p[2], sync_p[2];
	char steps[512] = "", end[64];
	long thread_ret;
	pid_t pid;

	SETUP(pipe2(tid_p, O_CLOEXEC));
	SETUP(pipe2(ret_p, O_CLOEXEC));
	SETUP(pipe2(sync_p, O_CLOEXEC));
	tid_tx = tid_p[1], ret_tx = ret_p[1], sync_tx = sync_p[1];
	go = gate_new();
	sync_gate = gate_new();
	pid = spawn(subject, NULL);
	/* Only the subject holds the write ends now: a read sees its end. */
	close(tid_p[1]);
	close(ret_p[1]);
	close(sync_p[1]);

	drive_parked(!strcmp(params, "entry-stop"), get_long(tid_p[0]), sync_p[0], steps,
		     sizeof(steps));
	thread_ret = get_long(ret_p[0]);

	snprintf(end, sizeof(end), "%s", wait_exit(pid));
	if (strcmp(end, "exit 0")) {
		instance_error("%s", end);
	}
	observe("%s; thread ret=%s", steps, ret_name(thread_ret));
}
