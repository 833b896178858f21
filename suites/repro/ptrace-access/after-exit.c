/*
 * NOBODY's child exits (non-dumpable, or dumpable as the control) and
 * stays a zombie; NOBODY then reads the exit code field of its
 * /proc/PID/stat (shown only to a PTRACE_MODE_READ_FSCREDS-permitted
 * reader, else 0) and calls pidfd_getfd() on it
 * (PTRACE_MODE_ATTACH_REALCREDS, then the fd: EBADF or ESRCH, as the
 * zombie has none: `no-files`).
 *
 * Once a task has no mm, its dumpability is the one cached at
 * exit_mm() (task->user_dumpable): 31e62c2ebbfd ("ptrace: slightly
 * saner 'get_dumpable()' logic", CVE-2026-46333). Before it
 * __ptrace_may_access() checked dumpability only `if (task->mm)`.
 */

#define EXIT_CODE 7

static void exit_dumpable_or_not(int dumpable)
{
	_exit(set_dumpable(dumpable) == 0 ? EXIT_CODE : 1);
}

/* The last field of /proc/PID/stat (52, exit_code), or NULL. */
static const char *stat_exit_code(pid_t pid, char *buf, size_t len)
{
	char *f = stat_fields(pid, buf, len), *last;
	if (!f)
		return NULL;
	f[strcspn(f, "\n")] = 0;
	while (f[0] && f[strlen(f) - 1] == ' ')
		f[strlen(f) - 1] = 0;
	last = strrchr(f, ' ');
	return last ? last + 1 : f;
}

static void reach_for_zombie(void *arg)
{
	int dumpable = *(int *)arg, pidfd, pidfd_errno;
	char buf[2048], getfd[32], code_text[64], shown[16];
	const char *code;
	siginfo_t si = { 0 };
	long rc;
	pid_t child = subject();

	if (child == 0)
		exit_dumpable_or_not(dumpable);
	pidfd = pidfd_open(child);
	pidfd_errno = errno;
	/* Wait for the exit without reaping: the child stays a zombie. */
	if (waitid(P_PID, child, &si, WEXITED | WNOWAIT) < 0 || si.si_code != CLD_EXITED ||
	    si.si_status != EXIT_CODE) {
		wait_exit(child);
		instance_error("the child did not exit %d (setup failed?)", EXIT_CODE);
	}
	if (pidfd < 0) {
		wait_exit(child);
		if (pidfd_errno == ENOSYS)
			skip_lacks("pidfd_open: ENOSYS (before 5.3)");
		instance_error("pidfd_open: %s", errno_name(pidfd_errno));
	}
	code = stat_exit_code(child, buf, sizeof(buf));
	rc = syscall(__NR_pidfd_getfd, pidfd, 0, 0);
	if (rc >= 0) {
		close(rc);
		snprintf(getfd, sizeof(getfd), "ok");
	} else if (errno == ENOSYS) {
		wait_exit(child);
		skip_lacks("pidfd_getfd: ENOSYS (before 5.6)");
	} else if (errno == EBADF || errno == ESRCH) {
		/* Past the access check a zombie has no files. */
		snprintf(getfd, sizeof(getfd), "no-files");
	} else {
		snprintf(getfd, sizeof(getfd), "%s", errno_name(errno));
	}
	close(pidfd);
	wait_exit(child);
	snprintf(shown, sizeof(shown), "%d", EXIT_CODE << 8);
	if (!code)
		snprintf(code_text, sizeof(code_text), "unreadable");
	else if (!strcmp(code, "0"))
		snprintf(code_text, sizeof(code_text), "hidden");
	else if (!strcmp(code, shown))
		snprintf(code_text, sizeof(code_text), "shown");
	else
		snprintf(code_text, sizeof(code_text), "other(%.40s)", code);
	observe("stat-exit-code=%s pidfd-getfd=%s", code_text, getfd);
}

static void run_instance(const char *params)
{
	int dumpable = !strcmp(params, "zombie-dumpable");

	/* pidfd_getfd() is a PTRACE_MODE_ATTACH check, which Yama's scope
	 * 2 refuses an unprivileged caller. */
	yama_lets_unprivileged_in();
	as_uid(NOBODY, reach_for_zombie, &dumpable);
}
