/*
 * The baseline without a tracer: a forced signal (SECCOMP_RET_TRAP's
 * SIGSYS, a fault's SIGSEGV, int3's SIGTRAP) that is ignored or blocked is
 * not ignored (force_sig_info_to_task() resets it to SIG_DFL and unblocks
 * it, and the task dies); a handler runs.
 *
 * params: SOURCE/DISPOSITION, e.g. int3/sig-ign.
 */

struct forced { enum source source; enum disposition disposition; int notes_tx; };

static int forced_subject(void *arg)
{
	struct forced *f = arg;
	apply_disposition(f->disposition, source_signal(f->source), f->notes_tx);
	fire(f->source, f->notes_tx);
	return 0;
}

static void run_instance(const char *params)
{
	char src[16], disp[16];
	struct notes notes = notes_new();
	struct forced f;
	char end[64];
	pid_t pid;

	if (sscanf(params, "%15[^/]/%15s", src, disp) != 2) {
		errno = EINVAL;
		setup_failed("params");
	}
	f = (struct forced){ source_of(src), disposition_of(disp), notes.tx };
	pid = spawn(forced_subject, &f);
	/* The notes are read once the subject is gone. */
	snprintf(end, sizeof(end), "%s", wait_exit(pid));
	observe("%s; notes=%s", end, notes_summary(&notes));
}
