/*
 * process_madvise(MADV_COLD) of a page of another process asks
 * mm_access() for PTRACE_MODE_READ_FSCREDS and then CAP_SYS_NICE,
 * whoever the target is (96cfe2c0fd23, "mm/madvise: replace ptrace
 * attach requirement for process_madvise", v5.12): NOBODY is refused
 * (EPERM) even for its own dumpable child, which it could ptrace; root
 * hints.
 */

static void advise_child(void *arg)
{
	struct target t = target_spawn(marked_setup, NULL);
	/* The page of the target's mark, which it has touched. */
	struct iovec iov = { (void *)(mark_address() & ~4095UL), 4096 };
	int pidfd = pidfd_open(t.pid);
	long rc;

	(void)arg;
	if (pidfd < 0) {
		target_end(&t);
		if (errno == ENOSYS)
			skip_lacks("pidfd_open: ENOSYS (before 5.3)");
		instance_error("pidfd_open: %s", errno_name(errno));
	}
	rc = syscall(__NR_process_madvise, pidfd, &iov, 1UL, MADV_COLD, 0U);
	if (rc == 4096) {
		observe("process-madvise=ok");
	} else if (rc >= 0) {
		observe("process-madvise=short(%ld)", rc);
	} else if (errno == ENOSYS) {
		target_end(&t);
		skip_lacks("process_madvise: ENOSYS (before 5.10)");
	} else {
		observe("process-madvise=%s", errno_name(errno));
	}
	close(pidfd);
	target_end(&t);
}

static void run_instance(const char *params)
{
	as_uid(!strcmp(params, "root") ? 0 : NOBODY, advise_child, NULL);
}
