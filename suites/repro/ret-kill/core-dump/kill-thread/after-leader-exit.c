/*
 * SECCOMP_RET_KILL_THREAD of the last thread still alive dumps core even
 * though the thread-group leader, which exited first (exit(2), as
 * pthread_exit does), stays a zombie until the group ends: "last" counts
 * live threads (signal->live), not the thread count, which still includes
 * the zombie leader.
 */

/* The leader's tid until the kernel clears it: set_tid_address(2) makes
 * the kernel zero it and wake its futex once the leader has left
 * (mm_release, after PF_EXITING is set). */
static int gone = -1;

/* The second thread: wait for the leader to be gone, then make the killed
 * write. A thread that survives notes escaped-thread and ends the group. */
static void *last_thread(void *unused)
{
	(void)unused;
	while (__atomic_load_n(&gone, __ATOMIC_SEQ_CST) != 0) {
		int v = __atomic_load_n(&gone, __ATOMIC_SEQ_CST);
		syscall(__NR_futex, &gone, FUTEX_WAIT, v, NULL);
	}
	killed_write();
	note_to(effects.tx, "escaped-thread");
	_exit(5);
}

static int after_leader_exit(void *unused)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	(void)unused;
	filter_kill_write(KILL_THREAD);
	__atomic_store_n(&gone, (int)syscall(__NR_gettid), __ATOMIC_SEQ_CST);
	syscall(__NR_set_tid_address, &gone);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	rc = pthread_create(&t, &attr, last_thread, NULL);
	if (rc) {
		errno = rc;
		setup_failed("pthread_create");
	}
	/* exit(2) ends only this thread. */
	syscall(__NR_exit, 0);
	return 0;
}

static void run_instance(const char *params)
{
	(void)params;
	dumping(after_leader_exit, NULL);
}
