/*
 * A capability used to pass a ptrace access check is a capability used:
 * the task is marked PF_SUPERPRIV, which BSD process accounting reports
 * as ASU in its record. ptrace_has_cap() (kernel/ptrace.c) asks
 * ns_capable()/ns_capable_noaudit(), which mark it, since cf23705244c9
 * ("ptrace: Set PF_SUPERPRIV when checking capability", v5.10); before,
 * a root debugger attaching to another user's process left no trace in
 * the accounting. Accounting is switched on in a pid namespace of the
 * instance's own (acct(2) is per namespace): the host's is untouched.
 */

/* The name the tracer gives itself, to find its accounting record. */
#define TRACER_COMM "kconform-acct"
/* ASU in acct.ac_flag: used superuser privileges. */
#define ASU 0x02

/* The tracer: attach, wait for the stop, detach; exit 0, or 3 if the
 * attach was refused. */
static int attach_and_detach(pid_t target)
{
	prctl(PR_SET_NAME, TRACER_COMM, 0, 0, 0);
	int status;
	if (ptrace(PTRACE_ATTACH, target, 0, 0) < 0)
		return 3;
	while (waitpid(target, &status, __WALL) < 0 && errno == EINTR)
		;
	ptrace(PTRACE_DETACH, target, 0, 0);
	return 0;
}

/* ac_comm of a 64-byte record: at 48 in a version 3 record (struct
 * acct_v3), at 36 in a version 1/2 one (struct acct). */
static void record_comm(const unsigned char *r, char *comm)
{
	int at = (r[1] & 0x0f) == 3 ? 48 : 36, len = (r[1] & 0x0f) == 3 ? 16 : 17;
	memcpy(comm, r + at, len);
	comm[len] = 0;
}

/* In the pid namespace's init: accounting on, the attach, accounting
 * off, and the tracer's record read back; the result (or "error: ",
 * "skip: ") written to tx. */
static void in_namespace(int other_uid, const char *file, int tx)
{
	unsigned char rec[64];
	char line[256], comm[32];
	int fd, status, found = 0, flag = 0;
	struct target t;
	pid_t tracer;

	if (acct(file) != 0) {
		if (errno == ENOSYS)
			snprintf(line, sizeof(line),
				 "skip: acct: ENOSYS (kernel built without CONFIG_BSD_PROCESS_ACCT)");
		else
			setup_failed("acct(file)");
		goto out;
	}
	t = parked_as(other_uid ? OTHER : 0, 1);
	tracer = subject();
	if (tracer == 0)
		_exit(attach_and_detach(t.pid));
	status = wait_status(tracer);
	acct(NULL);
	target_end(&t);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(line, sizeof(line), "error: the tracer could not attach: %s",
			 status_text(status));
		goto out;
	}
	fd = SETUP(open(file, O_RDONLY | O_CLOEXEC));
	while (read(fd, rec, sizeof(rec)) == sizeof(rec)) {
		record_comm(rec, comm);
		if (!strcmp(comm, TRACER_COMM)) {
			found++;
			flag = rec[0];
		}
	}
	close(fd);
	if (found == 1)
		snprintf(line, sizeof(line), "attach=ok asu=%d", !!(flag & ASU));
	else if (found == 0)
		snprintf(line, sizeof(line), "error: no accounting record of the tracer");
	else
		snprintf(line, sizeof(line), "error: several accounting records of the tracer");
out:
	if (write(tx, line, strlen(line)) < 0)
		_exit(SUBJECT_EXIT);
}

static void run_instance(const char *params)
{
	int other_uid = !strcmp(params, "attach-other-uid"), fds[2], fd;
	char dir[PATH_MAX], file[PATH_MAX], seen[256];
	ssize_t n, got = 0;
	pid_t outer, init;

	yama_lets_root_in();
	if (temp_dir("kconform-acct", 0, dir, sizeof(dir)))
		instance_error("no writable directory for the accounting file");
	SETUP(chmod(dir, 0700));
	snprintf(file, sizeof(file), "%.4000s/acct", dir);
	fd = SETUP(open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	close(fd);
	SETUP(pipe2(fds, O_CLOEXEC));
	outer = subject();
	if (outer == 0) {
		SETUP(unshare(CLONE_NEWPID));
		init = subject();
		if (init == 0) {
			in_namespace(other_uid, file, fds[1]);
			_exit(0);
		}
		wait_exit(init);
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], seen + got, sizeof(seen) - 1 - got)) > 0)
		got += n;
	seen[got] = 0;
	wait_exit(outer);
	cleanup();
	if (!strncmp(seen, "error: ", 7))
		instance_error("%s", seen + 7);
	if (!strncmp(seen, "skip: ", 6))
		skip_lacks("%s", seen + 6);
	if (!got)
		instance_error("the namespace init reported nothing");
	observe("%s", seen);
}
