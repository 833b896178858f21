/*
 * A signal the kernel forces on a task (SIGSYS from SECCOMP_RET_TRAP, a
 * SIGSEGV from a fault, a SIGTRAP from int3) must reach a ptrace tracer as
 * a signal-delivery stop with its siginfo, whatever the task did with the
 * signal (default, ignored, handled, blocked), and the tracer may suppress
 * or re-inject it. 5.16-rc1 (00b06da29cf9, "signal: Add SA_IMMUTABLE to
 * ensure forced signals do not get changed") hid such signals from
 * tracers; 5.16-rc2 (e349d945fac7, "signal: Don't always set SA_IMMUTABLE
 * for forced signals") narrowed SA_IMMUTABLE to signals that must kill.
 *
 * params: SOURCE/DISPOSITION/ATTACH/ACTION, e.g. ret-trap/sig-ign/seize/suppress.
 */

struct forced { enum source source; enum disposition disposition; int notes_tx; };

/* The subject: set up the disposition, then make the kernel force it. */
static void forced_body(void *arg)
{
	struct forced *f = arg;
	apply_disposition(f->disposition, source_signal(f->source), f->notes_tx);
	fire(f->source, f->notes_tx);
}

static void run_instance(const char *params)
{
	char src[16], disp[16], how[16], action[16], seen[1536];
	struct notes notes = notes_new();
	struct forced f;
	pid_t pid;
	int sig;

	if (sscanf(params, "%15[^/]/%15[^/]/%15[^/]/%15s", src, disp, how, action) != 4) {
		errno = EINVAL;
		setup_failed("params");
	}
	f = (struct forced){ source_of(src), disposition_of(disp), notes.tx };
	sig = source_signal(f.source);
	pid = tracee_spawn(attach_of(how), 0, forced_body, &f);

	/* At the signal-delivery stop: PTRACE_CONT with 0 or the signal. */
	answer_first_stop(pid, sig, action, !strcmp(action, "reinject") ? sig : 0,
			  seen, sizeof(seen));
	observe("%s; notes=%s", seen, notes_summary(&notes));
}
