/*
 * When a thread that is not the leader execs, de_thread() gives it the
 * leader's pid and it stops at PTRACE_EVENT_EXEC there. Until the tracer
 * has waited for that stop (which tells it the pid changed hands),
 * requests to the pid fail with ESRCH instead of acting on a task the
 * tracer does not know is there; PTRACE_INTERRUPT and PTRACE_KILL, which
 * need no stopped tracee, still go through (dbb5afad100a).
 */

struct subject { int out; struct gate go; const char *probe; };

/* The thread that execs the probe ("ids") once the tracer says go. */
static void *exec_thread(void *arg)
{
	struct subject *s = arg;
	char *argv[] = { (char *)s->probe, "__probe", "ids", NULL };
	gate_wait(&s->go);
	execv(s->probe, argv);
	setup_failed("execve(probe __probe ids)");
	return NULL;
}

static int subject(void *arg)
{
	struct subject *s = arg;
	pthread_t t;
	int rc;
	/* The exec'd probe prints a line: into the pipe, not our stdout. */
	SETUP(dup2(s->out, 1));
	rc = pthread_create(&t, NULL, exec_thread, s);
	if (rc) {
		errno = rc;
		setup_failed("pthread_create");
	}
	park();
}

static void run_instance(const char *params)
{
	int out[2];
	struct subject s;
	pid_t leader, thread;
	siginfo_t w;
	int rc;
	long answer;
	char ran[256];

	SETUP(pipe2(out, O_CLOEXEC));
	s = (struct subject){ out[1], gate_new(), probe_exe() };
	leader = tracee_spawn(ATTACH_SEIZE, PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC, subject, &s);
	close(out[1]);
	thread = settle_new_thread(leader);
	gate_open(&s.go);

	/* Look without reaping: the exec stop is there, under the leader's pid. */
	memset(&w, 0, sizeof(w));
	while ((rc = waitid(P_PID, leader, &w, WSTOPPED | WEXITED | WNOWAIT | __WALL)) < 0 &&
	       errno == EINTR)
		;
	if (rc < 0)
		trail_push("waitid=%s", errno_name(errno));
	else if (w.si_code == CLD_TRAPPED && w.si_status == (PTRACE_EVENT_EXEC << 8 | SIGTRAP))
		trail_push("exec-stop pending");
	else
		trail_push("first report code=%d status=%#x", w.si_code, w.si_status);

	if (!strcmp(params, "cont")) {
		answer = ptrace(PTRACE_CONT, leader, 0, 0);
	} else if (!strcmp(params, "geteventmsg")) {
		unsigned long msg;
		answer = ptrace(PTRACE_GETEVENTMSG, leader, 0, &msg);
	} else {
		answer = ptrace(PTRACE_INTERRUPT, leader, 0, 0);
	}
	trail_push("%s=%s", params, result_name(answer));

	for (int i = 0; i < 8; i++) {
		int status = wait_status(leader);
		if (is_event(status, PTRACE_EVENT_EXEC)) {
			unsigned long msg;
			if (ptrace(PTRACE_GETEVENTMSG, leader, 0, &msg) < 0)
				trail_push("event EXEC msg=%s", errno_name(errno));
			else
				trail_push("event EXEC msg=%s", msg == (unsigned long)thread ? "thread-tid" :
					   msg == (unsigned long)leader ? "leader-pid" : "other");
		} else {
			trail_push("%s", status_text(status));
		}
		if (is_final(status))
			break;
		tracee_cont(leader, 0);
		trail_push("cont");
	}
	observe("%s; probe-ran=%s", trail, read(out[0], ran, sizeof(ran)) > 0 ? "yes" : "no");
}
