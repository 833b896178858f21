/*
 * With nobody asking for seccomp stops (no tracer, or a tracer without
 * PTRACE_O_TRACESECCOMP), SECCOMP_RET_TRACE fails the syscall with ENOSYS
 * and it does not run (seccomp(2): "If there is no tracer present, the
 * system call is not executed and returns a failure status with errno
 * set to ENOSYS").
 */

/* Resume through every stop, passing signals on, until the subject exits;
 * the stops seen and the end, joined by " -> " (Tracee::run_to_exit). */
static const char *run_to_exit(pid_t pid)
{
	static char seen[1024];
	int n = 0;

	seen[0] = 0;
	for (;;) {
		int status = wait_status(pid);
		log_add(seen, sizeof(seen), " -> ", "%s", status_text(status));
		n++;
		if (is_final(status))
			break;
		ptrace(PTRACE_CONT, pid, 0, is_signal_stop(status) ? WSTOPSIG(status) : 0);
		if (n > 16) {
			log_add(seen, sizeof(seen), " -> ", "...");
			break;
		}
	}
	return seen;
}

static void run_instance(const char *params)
{
	struct effects e = effects_new(1);
	struct notes notes = notes_new();
	struct traced t = one_rule(&e, &notes, SECCOMP_RET_TRACE | DATA);
	const char *end;

	if (!strcmp(params, "untraced"))
		end = wait_exit(spawn(traced_write, &t));
	else /* traced-without-traceseccomp: seized, EXITKILL only */
		end = run_to_exit(tracee_seize(0, traced_write, &t));
	observe("%s; notes=%s; effects=%s", end, notes_summary(&notes), notes_summary(&e.pipe));
}
