/*
 * An i386 nanosleep (int 0x80) interrupted by a 64-bit tracer, sent on an
 * excursion (the tracer runs code in the tracee, as gdb's `call func()`
 * does) and restored with PTRACE_SETREGS, restarts as the i386
 * restart_syscall and sleeps out its time.
 */

/* int3; ud2: where the tracer sends the subject for its excursion. */
__asm__(".pushsection .text.kconform_x86_int3_stub, \"ax\"\n"
	".globl kconform_x86_int3_stub\n"
	"kconform_x86_int3_stub:\n"
	"int3\n"
	"ud2\n"
	".popsection");
void kconform_x86_int3_stub(void);

#define SLEEP_NS 300000000L
/* -ERESTART_RESTARTBLOCK as the interrupted syscall leaves it in ax. */
#define ERESTART_RESTARTBLOCK 516

struct subject { struct notes *notes, *status; };

static long elapsed_ns(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

static int subject(void *arg)
{
	struct subject *s = arg;
	struct timespec t0;
	uint8_t *mem;
	uint32_t ts[2] = { 0, SLEEP_NS };
	long ret;
	char note[64];

	if (!int80_works(s->status))
		return 125;
	mem = low_mem(4096);
	/* The i386 timespec at offset 8: were the restart to run another
	 * syscall with these arguments, madvise() would refuse the
	 * unaligned address. */
	memcpy(mem + 8, ts, sizeof(ts));
	note_to(s->status->tx, "sleeping");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = int80(I386_NANOSLEEP, (uint64_t)mem + 8, 0, 0);
	snprintf(note, sizeof(note), "ret=%s slept=%s", result_text(ret),
		 elapsed_ns(&t0) >= SLEEP_NS ? "full" : "short");
	note_to(s->notes->tx, note);
	return 0;
}

/* The state letter of /proc/PID/stat; 0 once the task is gone. */
static char stat_state(pid_t pid)
{
	char path[64], buf[512], *p;
	int fd, n;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : 0;
}

/* Until the subject says it is about to sleep and /proc shows it asleep
 * (S), or it found no int 0x80 (skip). */
static void wait_until_sleeping(pid_t pid, struct notes *status)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (elapsed_ns(&t0) < 10000000000L) {
		const char *notes = notes_joined(status);
		if (said_no_int80(notes))
			skip_lacks(NO_INT80);
		if (strstr(notes, "sleeping")) {
			for (;;) {
				char st = stat_state(pid);
				if (st == 'S')
					return;
				if (!st || elapsed_ns(&t0) >= 10000000000L)
					break;
				usleep(1000);
			}
			break;
		}
		usleep(2000);
	}
	errno = ETIMEDOUT;
	setup_failed("subject never went to sleep in nanosleep");
}

static void run_instance(const char *params)
{
	struct notes notes = notes_new(), status = notes_new();
	struct subject s = { &notes, &status };
	pid_t pid = tracee_spawn(subject, &s);
	struct user_regs_struct saved, excursion;
	char interrupted[128], ax[32], stub[64];
	const char *end;
	int st;

	(void)params;
	wait_until_sleeping(pid, &status);
	SETUP(ptrace(PTRACE_INTERRUPT, pid, 0, 0));
	st = wait_status(pid);
	if (!WIFSTOPPED(st) || !(st >> 16)) {
		errno = EINVAL;
		setup_failed("PTRACE_INTERRUPT did not stop the subject");
	}
	SETUP(ptrace(PTRACE_GETREGS, pid, 0, &saved));
	if ((long)saved.rax == -ERESTART_RESTARTBLOCK)
		snprintf(ax, sizeof(ax), "ERESTART_RESTARTBLOCK");
	else
		snprintf(ax, sizeof(ax), "%ld", (long)saved.rax);
	snprintf(interrupted, sizeof(interrupted), "%s orig_ax=%ld ax=%s", status_text(st),
		 (long)saved.orig_rax, ax);

	/* The excursion: run the stub, with orig_ax -1 so that nothing is
	 * restarted on the way out. */
	excursion = saved;
	excursion.rip = (unsigned long)kconform_x86_int3_stub;
	excursion.orig_rax = -1;
	SETUP(ptrace(PTRACE_SETREGS, pid, 0, &excursion));
	SETUP(ptrace(PTRACE_CONT, pid, 0, 0));
	st = wait_status(pid);
	snprintf(stub, sizeof(stub), "%s", status_text(st));
	if (!WIFSTOPPED(st) || st >> 16 || WSTOPSIG(st) != SIGTRAP) {
		kill(pid, SIGKILL);
		observe("%s -> excursion: %s; %s", interrupted, stub, notes_summary(&notes));
		return;
	}
	/* Back to where the tracer found it. */
	SETUP(ptrace(PTRACE_SETREGS, pid, 0, &saved));
	end = finish(pid);
	/* The notes once the subject is gone. */
	observe("%s -> excursion: %s -> registers restored -> %s; %s", interrupted, stub, end,
		notes_summary(&notes));
}
