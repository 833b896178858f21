/*
 * A thread that is not a leader reports to nobody by a signal
 * (exit_signal -1), so plain wait calls leave it out as a "clone" child
 * (__WCLONE or __WALL select it). A tracer waits for its tracees as if it
 * passed __WALL (bf959931ddb8, 4.7): waitpid(tid, 0) reports the thread's
 * first PTRACE_EVENT_STOP. Before 4.7 it answered ECHILD, and a tracer
 * without __WALL never saw its traced threads stop.
 */
#include <pthread.h>

static void *park_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* The tracee: once seized, start one thread, and park. */
static int leader_body(void *arg)
{
	pthread_t t;

	gate_wait(arg);
	errno = pthread_create(&t, NULL, park_thread, NULL);
	if (errno)
		setup_failed("pthread_create");
	for (;;)
		pause();
	return 0;
}

static void run_instance(const char *params)
{
	struct gate go = gate_new();
	pid_t leader = spawn(leader_body, &go), who;
	unsigned long msg;
	int flags, status, event;
	char answer[96], end[64];

	SETUP(ptrace(PTRACE_SEIZE, leader, 0,
		     PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL));
	gate_open(&go);

	/* The leader's PTRACE_EVENT_CLONE stop names the new thread. */
	status = wait_status(leader);
	event = (status >> 16) & 0xff;
	if (!WIFSTOPPED(status) || event != PTRACE_EVENT_CLONE) {
		instance_error("wait for the leader's CLONE stop");
	}
	SETUP(ptrace(PTRACE_GETEVENTMSG, leader, 0, &msg));
	SETUP(ptrace(PTRACE_CONT, leader, 0, 0));

	if (!strcmp(params, "wall"))
		flags = __WALL;
	else if (!strcmp(params, "wclone"))
		flags = __WCLONE;
	else
		flags = 0; /* no-flags */

	/* The tracer waits for the traced thread, with these flags only. */
	while ((who = waitpid((pid_t)msg, &status, flags)) < 0 && errno == EINTR)
		;
	if (who < 0)
		snprintf(answer, sizeof(answer), "%s", errno_name(errno));
	else if (who == (pid_t)msg)
		snprintf(answer, sizeof(answer), "%s", status_text(status));
	else
		snprintf(answer, sizeof(answer), "%d: %s", who, status_text(status));

	SETUP(kill(leader, SIGKILL));
	for (;;) {
		while ((who = waitpid(-1, &status, __WALL)) < 0)
			if (errno != EINTR)
				setup_failed("waitpid");
		if (who == leader && (WIFEXITED(status) || WIFSIGNALED(status)))
			break;
	}
	snprintf(end, sizeof(end), "%s", status_text(status));
	observe("clone -> waitpid(thread, %s)=%s -> sigkill -> %s", params, answer, end);
}
