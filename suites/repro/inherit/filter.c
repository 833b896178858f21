/*
 * copy_process() gives every new task, process or thread, its creator's
 * filter and no_new_privs bit, and execve() keeps both (seccomp(2),
 * prctl(2) PR_SET_NO_NEW_PRIVS): the new task (or the exec'd program)
 * runs under the filter, which denies getppid() there too, and
 * no_new_privs is set exactly when the creator had set it.
 *
 *   fork, vfork (clone(CLONE_VM|CLONE_VFORK)), thread (pthread_create),
 *   exec (the filtered task execs the probe itself); the filter put on
 *   with no_new_privs, or by root without it.
 */
#include <sched.h>

static const char *const inherited[] = { "nnp", "seccomp", "filters", "getppid", "getsid", NULL };

static int report_state(void *arg)
{
	(void)arg;
	say_state();
	return 0;
}

static int vfork_child(void *arg)
{
	(void)arg;
	say_state();
	_exit(0);
}

static void *thread_state(void *arg)
{
	(void)arg;
	say_state();
	return NULL;
}

/* In the filtered task: make the new task (or exec) and have it print
 * its state line; the exit code. */
static int report_from_new_task(void *arg)
{
	const char *how = arg;
	static char stack[256 * 1024];
	pthread_t t;
	pid_t pid;

	filter_a(!strstr(how, "root-without-nnp"));
	if (!strncmp(how, "fork/", 5)) {
		pid = spawn(report_state, NULL);
		return ended_well(pid) ? 0 : 123;
	} else if (!strncmp(how, "vfork/", 6)) {
		pid = SETUP(clone(vfork_child, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD,
				  NULL));
		return ended_well(pid) ? 0 : 123;
	} else if (!strncmp(how, "thread/", 7)) {
		errno = pthread_create(&t, NULL, thread_state, NULL);
		if (errno)
			setup_failed("pthread_create");
		return pthread_join(t, NULL) ? 124 : 0;
	}
	return exec_probe(probe_exe(), "state");
}

static void run_instance(const char *params)
{
	char out[1024], end[64], words[256];

	capture(report_from_new_task, (void *)params, out, sizeof(out), end, sizeof(end));

	finished(end, out);
	observe("%s", pick(out, inherited, words, sizeof(words)));
}
