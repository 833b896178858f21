/*
 * Syscalls that run with a temporary signal mask (ppoll, pselect,
 * epoll_pwait, rt_sigsuspend) save the task's own mask and restore it on
 * the way out, after signal delivery. A tracer stopping the task there
 * works on the task's own mask: PTRACE_GETSIGMASK returns the saved mask
 * and PTRACE_SETSIGMASK replaces it for good (fcfc2aa0185f; before,
 * GETSIGMASK returned ppoll's mask and the saved one overwrote what
 * SETSIGMASK set). The subject blocks SIGUSR1 and calls ppoll() with a
 * mask of SIGUSR2 only; the tracer's SIGUSR1 interrupts it.
 */

struct subject { struct gate ready, go; struct notes *notes; int in_ppoll; };

/* "[SIGHUP,SIGUSR1]": which of SIGHUP, SIGUSR1, SIGUSR2 a kernel sigset
 * (bit sig-1) holds. */
static const char *mask_text(uint64_t set)
{
	static char buf[64];
	static const int sigs[] = { SIGHUP, SIGUSR1, SIGUSR2 };
	snprintf(buf, sizeof(buf), "[");
	for (int i = 0, n = 0; i < 3; i++)
		if (set & (1ULL << (sigs[i] - 1)))
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
				 n++ ? "," : "", signame(sigs[i]));
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "]");
	return buf;
}

/* The calling thread's blocked set, as a kernel sigset of those three. */
static uint64_t own_mask(void)
{
	static const int sigs[] = { SIGHUP, SIGUSR1, SIGUSR2 };
	sigset_t cur;
	uint64_t m = 0;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	for (int i = 0; i < 3; i++)
		if (sigismember(&cur, sigs[i]))
			m |= 1ULL << (sigs[i] - 1);
	return m;
}

static int subject(void *arg)
{
	struct subject *s = arg;
	sigset_t set;
	char note[64];

	SETUP(install_noting_handler(SIGUSR1, s->notes->tx));
	sigemptyset(&set);
	sigaddset(&set, s->in_ppoll ? SIGUSR1 : SIGUSR2);
	SETUP(sigprocmask(SIG_SETMASK, &set, NULL));
	gate_open(&s->ready);
	if (s->in_ppoll) {
		/* No fds, no timeout, a mask that unblocks the pending SIGUSR1. */
		sigset_t tmp;
		sigemptyset(&tmp);
		sigaddset(&tmp, SIGUSR2);
		snprintf(note, sizeof(note), "ppoll=%s", result_name(ppoll(NULL, 0, NULL, &tmp)));
		note_to(s->notes->tx, note);
	} else {
		gate_wait(&s->go);
	}
	snprintf(note, sizeof(note), "mask=%s", mask_text(own_mask()));
	note_to(s->notes->tx, note);
	return 0;
}

static void run_instance(const char *params)
{
	struct notes notes = notes_new();
	struct subject s = { gate_new(), gate_new(), &notes, strcmp(params, "get/outside-ppoll") != 0 };
	pid_t pid = tracee_spawn(ATTACH_SEIZE, 0, subject, &s);
	int first;

	gate_wait(&s.ready);
	/* Blocked (in the ppoll cases), it waits until ppoll() unblocks it. */
	SETUP(kill(pid, SIGUSR1));
	first = trail_next(pid);
	if (stop_signal(first) == SIGUSR1) {
		uint64_t set = 0;
		if (!strncmp(params, "get/", 4)) {
			if (ptrace(PTRACE_GETSIGMASK, pid, sizeof(set), &set) < 0)
				trail_push("getsigmask=%s", errno_name(errno));
			else
				trail_push("getsigmask=%s", mask_text(set));
		} else {
			set = 1ULL << (SIGHUP - 1);
			trail_push("setsigmask [SIGHUP]=%s",
				   result_name(ptrace(PTRACE_SETSIGMASK, pid, sizeof(set), &set)));
		}
		SETUP(tracee_cont(pid, SIGUSR1));
		trail_push("cont SIGUSR1");
	}
	gate_open(&s.go);
	trail_finish(pid);
	observe("%s; notes=%s", trail, notes_summary(&notes));
}
