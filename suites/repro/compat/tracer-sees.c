/*
 * What a 64-bit tracer reads for a compat call: orig_rax holds the i386
 * number, and PTRACE_GET_SYSCALL_INFO names the i386 arch, at the
 * syscall-entry stop and at a RET_TRACE stop (PTRACE_EVENT_SECCOMP)
 * alike.
 */

static struct sock_filter trace_marked[] = ON_MARKED(SECCOMP_RET_TRACE | TRACE_DATA);

static void run_instance(const char *params)
{
	enum path path = path_of(params);
	int seccomp_stop = !strncmp(params, "seccomp-stop/", 13);
	struct call call = { GETPID, MARK };
	struct ran r;
	char calls[128];

	if (seccomp_stop)
		run_calls(path, &call, 1, trace_marked,
			  sizeof(trace_marked) / sizeof(trace_marked[0]), SECCOMP_STOP, &r);
	else
		run_calls(path, &call, 1, NULL, 0, SYSCALL_ENTRY, &r);
	calls_text(&r, &call, 1, calls, sizeof(calls));
	observe("%s; %s -> %s", r.trace[0] ? r.trace : "no stop", calls, r.end);
}
