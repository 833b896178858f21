/*
 * A process running a setuid-root program it exec'd (euid 0, real uid
 * NOBODY) refuses its real uid's unprivileged tracer with EPERM: the
 * tracer's uid must match the target's effective and saved uids too
 * (__ptrace_may_access(), kernel/ptrace.c).
 */

static void run_instance(const char *params)
{
	struct try_args a = { .req = req_of(params) };
	struct setuid_copy copy;
	int out[2], in[2];
	char line[256], seen[256];
	FILE *f;

	yama_lets_unprivileged_in();
	setuid_copy_make(&copy);
	SETUP(pipe2(out, O_CLOEXEC));
	SETUP(pipe2(in, O_CLOEXEC));
	a.pid = SETUP(fork());
	if (a.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		become(NOBODY);
		allow_any_tracer();
		SETUP(dup2(out[1], 1));
		SETUP(dup2(in[0], 0));
		exec_probe(copy.exe, "park");
	}
	close(out[1]);
	close(in[0]);
	/* The probe's line says the setuid image is running. */
	f = fdopen(out[0], "r");
	if (!f || !fgets(line, sizeof(line), f))
		line[0] = 0;
	if (euid_of(line) != 0) {
		parked_kill(a.pid);
		setuid_not_honoured(&copy, line);
	}
	as_uid(NOBODY, try_on_fn, &a, seen, sizeof(seen));
	close(in[1]);
	parked_kill(a.pid);
	setuid_copy_remove(&copy);
	observe("exec euid=0; %s", seen);
}
