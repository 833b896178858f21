/*
 * NOBODY calls PTRACE_TRACEME and execs a setuid-root program under a
 * root parent. The tracer's credentials the kernel weighs at the exec
 * are those PTRACE_TRACEME was called with (ptracer_cred, the subject's
 * own, since 6994eefb0053 "ptrace: Fix ptrace_traceme() credential
 * handling"), so the program runs with NOBODY's euid (cap_bprm_creds_from_file(),
 * security/commoncap.c), and with euid 0 only when the subject asked
 * while it was still root. Both are AT_SECURE execs; the tracer sees
 * the post-exec SIGTRAP and reads the new image's memory.
 */

static void run_instance(const char *params)
{
	int asked_as_root = !strcmp(params, "by-root-asked-as-root");
	char exe[PATH_MAX], log[1024] = "", out[2048], word[64], state[512];
	int fds[2], entries = 0, suid_dumpable;
	ssize_t n, got = 0;
	pid_t pid;

	/* Yama's scope 3 refuses PTRACE_TRACEME under any parent. */
	yama_lets_root_in();
	suid_dumpable = suid_dumpable_resets();
	probe_copy(04755, exe, sizeof(exe));
	SETUP(pipe2(fds, O_CLOEXEC));
	pid = subject();
	if (pid == 0) {
		/* The order is the point: TRACEME records the credentials
		 * it is called with. */
		if (asked_as_root) {
			SETUP(ptrace(PTRACE_TRACEME, 0, 0, 0));
			drop_to(NOBODY);
		} else {
			drop_to(NOBODY);
			SETUP(ptrace(PTRACE_TRACEME, 0, 0, 0));
		}
		SETUP(dup2(fds[1], 1));
		exec_probe(exe, "state");
	}
	close(fds[1]);
	for (;;) {
		int status = wait_status(pid);
		const char *what = status_text(status);
		snprintf(log + strlen(log), sizeof(log) - strlen(log), "%s%s",
			 entries++ ? " -> " : "", what);
		if (WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP &&
		    (status >> 16) == 0) {
			/* The exec's SIGTRAP: read the new image at its entry. */
			snprintf(log + strlen(log), sizeof(log) - strlen(log),
				 " -> peek=%s", peek_at_rip(pid));
			entries++;
			ptrace(PTRACE_CONT, pid, 0, 0);
		} else if (WIFSTOPPED(status) && (status >> 16) == 0) {
			ptrace(PTRACE_CONT, pid, 0, WSTOPSIG(status));
		} else if (WIFEXITED(status) || WIFSIGNALED(status)) {
			break;
		} else {
			ptrace(PTRACE_CONT, pid, 0, 0);
		}
		if (entries > 8)
			break;
	}
	while ((n = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += n;
	out[got] = 0;
	state[0] = 0;
	static const char *const keys[] = { "euid", "ruid", "secure", "dumpable" };
	for (int i = 0; i < 4; i++) {
		pick(out, keys[i], word, sizeof(word));
		if (!strcmp(keys[i], "dumpable") && atoi(word + strlen("dumpable=")) == suid_dumpable &&
		    strcmp(word, "dumpable=missing"))
			snprintf(word, sizeof(word), "dumpable=suid_dumpable");
		snprintf(state + strlen(state), sizeof(state) - strlen(state), "%s%s",
			 i ? " " : "", word);
	}
	observe("%s; %s", log, state);
	cleanup();
}
