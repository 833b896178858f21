/*
 * A thread that added a filter of its own execs: the program runs under
 * the thread's filters (both), not the leader's (one), though it takes
 * over the leader's pid (de_thread() in fs/exec.c keeps the exec'ing
 * thread's task, and with it its seccomp state).
 */

static const char *const inherited[] = { "nnp", "seccomp", "filters", "getppid", "getsid", NULL };

static void *add_filter_and_exec(void *arg)
{
	filter_b(1);
	exec_probe(arg, "state");
	return NULL;
}

static int leader(void *arg)
{
	pthread_t t;

	filter_a(1);
	errno = pthread_create(&t, NULL, add_filter_and_exec, arg);
	if (errno)
		setup_failed("pthread_create");
	/* The exec ends this thread too: only a failure comes back. */
	pthread_join(t, NULL);
	return 122;
}

static void run_instance(const char *params)
{
	char out[1024], end[64], words[256];

	(void)params;
	capture(leader, (void *)probe_exe(), out, sizeof(out), end, sizeof(end));

	finished(end, out);
	observe("%s", pick(out, inherited, words, sizeof(words)));
}
