/*
 * RET_TRAP on a compat call: the tracer's SIGSYS siginfo names the i386
 * arch and number (seccomp_send_sigsys(), kernel/seccomp.c), and the
 * suppressed call returns what the rollback left in eax (its own
 * number).
 */

static struct sock_filter trap_marked[] = ON_MARKED(SECCOMP_RET_TRAP | TRAP_DATA);

static void run_instance(const char *params)
{
	enum path path = path_of(params);
	struct call call = { GETPID, MARK };
	struct ran r;
	char ret[32];

	run_calls(path, &call, 1, trap_marked, sizeof(trap_marked) / sizeof(trap_marked[0]),
		  TRAP, &r);
	if (r.nresults < 1)
		snprintf(ret, sizeof(ret), "none");
	else
		snprintf(ret, sizeof(ret), "%ld", r.results[0]);
	observe("%s; getpid ret=%s -> %s", r.trace, ret, r.end);
}
