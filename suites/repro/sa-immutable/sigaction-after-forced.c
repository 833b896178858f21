/*
 * After a forced, non-fatal signal the tracer suppressed, the subject finds
 * what the kernel did to its disposition (an ignored or blocked signal is
 * reset to SIG_DFL and unblocked by force_sig_info_to_task()) and can still
 * change it: only a signal that must kill makes the handler immutable
 * (e349d945fac7, 5.16-rc2; 5.16-rc1's 00b06da29cf9 made every such
 * handler immutable, and sigaction() then failed with EINVAL).
 *
 * params: SOURCE/DISPOSITION, e.g. ret-trap/blocked.
 */

struct forced { enum source source; enum disposition disposition; int notes_tx; };

/* The subject: force the signal, then look at and change its action. */
static void forced_then_sigaction(void *arg)
{
	struct forced *f = arg;
	int sig = source_signal(f->source);
	const char *handler, *blocked, *change;
	char line[128];

	apply_disposition(f->disposition, sig, f->notes_tx);
	fire(f->source, f->notes_tx);
	handler = handler_name(sig);
	blocked = is_blocked(sig) ? "yes" : "no";
	change = try_install_handler(sig, f->notes_tx);
	snprintf(line, sizeof(line), "handler=%s blocked=%s sigaction=%s", handler, blocked,
		 change);
	note_to(f->notes_tx, line);
}

static void run_instance(const char *params)
{
	char src[16], disp[16], seen[1536];
	struct notes notes = notes_new();
	struct forced f;
	pid_t pid;

	if (sscanf(params, "%15[^/]/%15s", src, disp) != 2) {
		errno = EINVAL;
		setup_failed("params");
	}
	f = (struct forced){ source_of(src), disposition_of(disp), notes.tx };
	pid = tracee_spawn(TRACEME, 0, forced_then_sigaction, &f);

	/* The tracer suppresses the forced signal (PTRACE_CONT, 0). */
	answer_first_stop(pid, source_signal(f.source), "suppress", 0, seen, sizeof(seen));
	observe("%s; notes=%s", seen, notes_summary(&notes));
}
