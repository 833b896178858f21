/*
 * PTRACE_PEEKSIGINFO copies siginfos from the tracee's queue starting at
 * the 64-bit offset `off`; an offset at or past the end copies nothing
 * and returns 0. Kernels from 3.10 to f6e2aa91a46d cut `off` to 32 bits
 * (s32): 2^32 peeked from the start of the queue, and 2^32 - 1 (-1)
 * never counted down to an entry, stayed negative, and so copied
 * uninitialised stack memory for every entry asked for. The tracee has
 * SIGUSR1 and SIGUSR2 blocked and pending (thread-directed) and sits in
 * a PTRACE_INTERRUPT stop; the tracer asks for two entries.
 */

/* struct ptrace_peeksiginfo_args (include/uapi/linux/ptrace.h). */
struct peek_args { uint64_t off; uint32_t flags; int32_t nr; };

struct subject { struct gate ready; };

static int subject(void *arg)
{
	struct subject *s = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	SETUP(sigprocmask(SIG_BLOCK, &set, NULL));
	gate_open(&s->ready);
	park();
}

static void run_instance(const char *params)
{
	struct subject s = { gate_new() };
	struct peek_args args = { 0, 0, 2 };
	uint8_t buf[2][128];
	long n;
	pid_t pid = tracee_spawn(ATTACH_SEIZE, 0, subject, &s);

	if (!strcmp(params, "past-end"))
		args.off = 2;
	else if (!strcmp(params, "2-pow-32-minus-1"))
		args.off = (1ULL << 32) - 1;
	else if (!strcmp(params, "2-pow-32"))
		args.off = 1ULL << 32;

	gate_wait(&s.ready);
	SETUP(syscall(SYS_tgkill, pid, pid, SIGUSR1));
	SETUP(syscall(SYS_tgkill, pid, pid, SIGUSR2));
	SETUP(ptrace(PTRACE_INTERRUPT, pid, 0, 0));
	trail_next(pid);

	n = ptrace(PTRACE_PEEKSIGINFO, pid, &args, buf);
	if (n < 0) {
		trail_push("peek=%s", errno_name(errno));
	} else if (n > 0 && strcmp(params, "2-pow-32-minus-1")) {
		/* Entries of a real queue are named; what -1 makes a buggy
		 * kernel copy is stack garbage, so only its count is shown. */
		char names[64] = "";
		for (long i = 0; i < n && i < 2; i++) {
			int32_t signo;
			memcpy(&signo, buf[i], sizeof(signo));
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 i ? "," : "", signame(signo));
		}
		trail_push("peeked=%ld [%s]", n, names);
	} else {
		trail_push("peeked=%ld", n);
	}
	SETUP(kill(pid, SIGKILL));
	trail_push("sigkill");
	trail_finish(pid);
	observe("%s", trail);
}
