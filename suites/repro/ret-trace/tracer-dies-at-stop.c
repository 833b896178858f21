/*
 * The tracer exits while the subject sits in its seccomp stop. With
 * PTRACE_O_EXITKILL the subject gets SIGKILL: fatal_signal_pending()
 * skips the syscall and it dies. Without it the subject is detached and
 * woken (exit_ptrace()); its registers are unchanged, the filter runs
 * again, and a RET_TRACE on that second pass allows it: the syscall runs.
 */

struct dies {
	struct traced t;
	struct gate go;
	long options;
	struct notes tracer_notes;
};

/* The subject outlives its tracer (its parent): no parent-death signal,
 * since what the kernel does when the tracer dies is the question. */
static int orphan_subject(void *p)
{
	struct dies *d = p;
	gate_wait(&d->go);
	return traced_write(&d->t);
}

/* The tracer: seize the subject, note its first stop, and leave without
 * resuming it. */
static int dying_tracer(void *p)
{
	struct dies *d = p;
	pid_t pid = SETUP(fork());
	long seized;
	int status;

	if (pid == 0)
		_exit(orphan_subject(d));
	seized = ptrace(PTRACE_SEIZE, pid, 0, d->options);
	/* Open whatever happened, so the subject never waits for good. */
	gate_open(&d->go);
	if (seized < 0)
		setup_failed("PTRACE_SEIZE");
	status = wait_status(pid);
	if (WIFSTOPPED(status) && (status >> 16)) {
		char note[32];
		snprintf(note, sizeof(note), "event %s", event_name(status >> 16));
		notes_say(&d->tracer_notes, note);
	} else {
		notes_say(&d->tracer_notes, status_text(status));
	}
	return 0;
}

static void run_instance(const char *params)
{
	struct effects e = effects_new(1);
	struct notes notes = notes_new();
	struct dies d = { .t = one_rule(&e, &notes, SECCOMP_RET_TRACE | DATA) };
	char tracer_end[64], subject_end[64];
	pid_t tracer;
	int status;

	d.tracer_notes = notes_new();
	d.options = PTRACE_O_TRACESECCOMP;
	if (!strcmp(params, "with-exitkill"))
		d.options |= PTRACE_O_EXITKILL;
	/* The subject outlives its tracer, so it must come back to us to be
	 * reaped. */
	SETUP(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	d.go = gate_new();
	tracer = spawn(dying_tracer, &d);
	snprintf(tracer_end, sizeof(tracer_end), "%s", wait_exit(tracer));
	/* The orphan is ours now; wait for whichever child is left. */
	for (;;) {
		if (waitpid(-1, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			instance_error("waiting for the orphan: %s", errno_name(errno));
		}
		if (is_final(status))
			break;
	}
	snprintf(subject_end, sizeof(subject_end), "%s", status_text(status));
	observe("tracer: %s -> %s; subject: %s; notes=%s; effects=%s",
		notes_summary(&d.tracer_notes), tracer_end, subject_end, notes_summary(&notes),
		notes_summary(&e.pipe));
}
