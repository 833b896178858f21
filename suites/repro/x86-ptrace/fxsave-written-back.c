/*
 * The FXSAVE area read and written back unchanged: with the native
 * PTRACE_GETFPREGS/SETFPREGS xmm0-15 all keep their values; with the i386
 * PTRACE_GETFPXREGS/SETFPXREGS through int 0x80 (a 32-bit tracer, which
 * has no xmm8-15) exactly xmm8-15 are cleared.
 */

struct subject { struct notes *notes; xmm_t load; };

static int subject(void *arg)
{
	struct subject *s = arg;
	xmm_t after;
	char note[32];
	xmm_round_trip(s->load, after);
	snprintf(note, sizeof(note), "xmm0-15=%s", xmm_fate(s->load, after));
	note_to(s->notes->tx, note);
	return 0;
}

/* A ptrace() result as a raw syscall return: -errno on failure. */
static long raw_ptrace(int req, pid_t pid, void *data)
{
	long rc = ptrace(req, pid, 0, data);
	return rc < 0 ? -errno : rc;
}

static void run_instance(const char *params)
{
	struct notes notes = notes_new();
	struct subject s = { &notes };
	char calls[128];
	const char *end;
	pid_t pid;

	if (!strcmp(params, "int80-setfpxregs"))
		require_int80();
	xmm_pattern(s.load);
	pid = stopped(subject, &s);
	if (!strcmp(params, "int80-setfpxregs")) {
		uint64_t at = (uint64_t)low_mem(4096);
		long get = int80_4(I386_PTRACE, I386_PTRACE_GETFPXREGS, pid, 0, at);
		long set = int80_4(I386_PTRACE, I386_PTRACE_SETFPXREGS, pid, 0, at);
		snprintf(calls, sizeof(calls), "GETFPXREGS=%s ", zero_ok(get));
		snprintf(calls + strlen(calls), sizeof(calls) - strlen(calls), "SETFPXREGS=%s",
			 zero_ok(set));
	} else {
		uint8_t buf[512];
		long get = raw_ptrace(PTRACE_GETFPREGS, pid, buf);
		long set = raw_ptrace(PTRACE_SETFPREGS, pid, buf);
		snprintf(calls, sizeof(calls), "GETFPREGS=%s ", zero_ok(get));
		snprintf(calls + strlen(calls), sizeof(calls) - strlen(calls), "SETFPREGS=%s",
			 zero_ok(set));
	}
	end = finish(pid);
	/* The notes once the subject is gone. */
	observe("%s; %s; %s", calls, end, notes_summary(&notes));
}
