/*
 * A thread in SECCOMP_MODE_STRICT can never be moved to filter mode, so
 * it blocks TSYNC like a diverged filter does (seccomp_can_sync_threads
 * passes only threads in SECCOMP_MODE_DISABLED, or in MODE_FILTER with
 * an ancestor of the caller's filter): the caller gets its tid (or
 * ESRCH with TSYNC_ESRCH), the caller itself stays unfiltered, and the
 * sibling stays strict. The sibling waits in read(), one of the four
 * syscalls strict mode allows; the instance ends by exit_group from main.
 */

struct strict_thread { int ready_tx, block_rx; };

static void *strict_thread(void *arg)
{
	struct strict_thread *t = arg;
	int msg[2] = { gettid(), 0 };
	char b;

	msg[1] = syscall(__NR_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL) == 0;
	/* From here on only read, write, _exit and sigreturn are allowed. */
	syscall(__NR_write, t->ready_tx, msg, sizeof(msg));
	for (;;)
		syscall(__NR_read, t->block_rx, &b, 1);
	return NULL;
}

/* A thread that enters strict mode, then blocks in read() for good;
 * returns its tid once it is strict. */
static pid_t spawn_strict_thread(void)
{
	static struct strict_thread t;
	int ready[2], block[2], msg[2];
	pthread_t th;

	SETUP(pipe(ready));
	SETUP(pipe(block));
	t = (struct strict_thread){ ready[1], block[0] };
	errno = pthread_create(&th, NULL, strict_thread, &t);
	if (errno)
		setup_failed("pthread_create");
	if (read(ready[0], msg, sizeof(msg)) != sizeof(msg)) {
		errno = EIO;
		setup_failed("read(the strict-mode thread said nothing)");
	}
	if (!msg[1])
		skip_forbidden("could not enter strict mode (the process already runs a seccomp filter?)");
	return msg[0];
}

static void run_instance(const char *params)
{
	pid_t strict = spawn_strict_thread();
	unsigned int flags = !strcmp(params, "esrch") ? SECCOMP_FILTER_FLAG_TSYNC_ESRCH : 0;
	const char *answer;
	char mode_main[16], mode_strict[16];
	long ret;

	ret = tsync(1, flags);

	if (ret == strict)
		answer = "sibling-1";
	else if (ret > 0)
		answer = "unknown-tid";
	else
		answer = result_text(ret);
	snprintf(mode_main, sizeof(mode_main), "%s", status_of(gettid(), "Seccomp"));
	snprintf(mode_strict, sizeof(mode_strict), "%s", status_of(strict, "Seccomp"));
	observe("tsync=%s mode=[%s,%s] probe-main=%s", answer, mode_main, mode_strict, probe());
}
