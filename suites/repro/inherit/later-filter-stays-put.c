/*
 * A filter added after a fork or a clone applies to the task that added
 * it (and its future children) only: copy_process() hands the new task a
 * reference to the creator's filter tree as it is, and a filter added
 * later by either side stays its own (seccomp(2)).
 *
 *   by-child:  the forked child adds the second filter
 *   by-parent: the parent adds it after the fork
 *   by-thread: a second thread adds it
 */

static const char *const later_words[] = { "filters", "getppid", "getsid", NULL };

/* "who: filters=N getppid=... getsid=..." as one line to stdout. */
static void labelled(const char *who)
{
	char line[512], words[256], out[300];
	state_line(line, sizeof(line));
	snprintf(out, sizeof(out), "%s: %s", who, pick(line, later_words, words, sizeof(words)));
	say_line(out);
}

static int child_adds(void *arg)
{
	(void)arg;
	filter_b(1);
	labelled("child");
	return 0;
}

static int child_waits(void *arg)
{
	gate_wait(arg);
	labelled("child");
	return 0;
}

static void *thread_adds(void *arg)
{
	(void)arg;
	filter_b(1);
	labelled("thread");
	return NULL;
}

static int subject(void *arg)
{
	const char *later = arg;
	struct gate gate;
	pthread_t t;
	pid_t child;

	filter_a(1);
	if (!strcmp(later, "by-child")) {
		child = spawn(child_adds, NULL);
		if (!ended_well(child))
			return 122;
		labelled("parent");
	} else if (!strcmp(later, "by-parent")) {
		gate = gate_new();
		child = spawn(child_waits, &gate);
		filter_b(1);
		labelled("parent");
		gate_open(&gate);
		if (!ended_well(child))
			return 122;
	} else {
		errno = pthread_create(&t, NULL, thread_adds, NULL);
		if (errno)
			setup_failed("pthread_create");
		if (pthread_join(t, NULL))
			return 122;
		labelled("leader");
	}
	return 0;
}

static void run_instance(const char *params)
{
	char out[1024], end[64], joined[1024];
	size_t n = 0;

	capture(subject, (void *)params, out, sizeof(out), end, sizeof(end));

	finished(end, out);
	/* The lines, joined by "; ". */
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
		n += snprintf(joined + n, sizeof(joined) - n, "%s%s", n ? "; " : "", l);
	observe("%s", joined);
}
