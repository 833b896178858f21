/*
 * rt_sigreturn of a signal frame whose fpstate claims an xstate size
 * (the legacy area and the header only) that ends before the AVX state
 * XRSTOR reads, where the memory runs into an inaccessible page: the
 * restore faults and the task dies of SIGSEGV, instead of the kernel
 * looping on the fault.
 */

/* Where the crafted image's YMM state crosses into the PROT_NONE page:
 * past the claimed size and MAGIC2, inside YMM. */
#define CRAFT_PAGE_AT 640
/* The xstate size the crafted frame claims. */
#define SHORT_SIZE 576

static uint8_t *craft;

/* SIGUSR1: point the frame's fpstate at a copy that claims SHORT_SIZE
 * and runs into the inaccessible page within the AVX state, then return
 * (rt_sigreturn). */
static void point_at_short_frame(int sig, siginfo_t *info, void *ctx)
{
	ucontext_t *uc = ctx;
	uint8_t *dst = craft + 4096 - CRAFT_PAGE_AT;
	uint32_t size = SHORT_SIZE, magic2 = FP_XSTATE_MAGIC2;
	uint64_t bv;

	(void)sig;
	(void)info;
	memcpy(dst, uc->uc_mcontext.fpregs, SHORT_SIZE);
	/* _fpx_sw_bytes.xstate_size, then MAGIC2 right after that size. */
	memcpy(dst + XSAVE_SW_RESERVED + 16, &size, 4);
	memcpy(dst + SHORT_SIZE, &magic2, 4);
	/* xstate_bv: x87, SSE and AVX present, so XRSTOR reads the YMM area. */
	memcpy(&bv, dst + XSAVE_XSTATE_BV, 8);
	bv |= 0x7;
	memcpy(dst + XSAVE_XSTATE_BV, &bv, 8);
	uc->uc_mcontext.fpregs = (void *)dst;
}

static int subject(void *arg)
{
	struct notes *notes = arg;
	struct rlimit none = { 0, 0 };
	struct sigaction sa;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setrlimit(RLIMIT_CORE, &none);
	craft = (uint8_t *)SETUP(mmap(NULL, 8192, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	SETUP(mprotect(craft + 4096, 4096, PROT_NONE));
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = point_at_short_frame;
	sa.sa_flags = SA_SIGINFO;
	SETUP(sigaction(SIGUSR1, &sa, NULL));
	SETUP(raise(SIGUSR1));
	note_to(notes->tx, "sigreturn-returned");
	return 0;
}

static void run_instance(const char *params)
{
	struct notes notes = notes_new();
	struct timespec t0, t;
	uint64_t x;
	pid_t pid;

	(void)params;
	if (!xcr0(&x))
		skip_lacks(NO_XSAVE);
	if (!(x & 0x4))
		skip_lacks("the CPU has no AVX state (XCR0 bit 2 clear)");
	pid = spawn(subject, &notes);
	/* A kernel that loops on the fault never lets the subject go: give
	 * it a few seconds, then say so (SIGKILL cannot end that loop). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r > 0) {
			observe("%s; notes=%s", status_text(status), notes_summary(&notes));
			return;
		}
		if (r < 0 && errno != EINTR)
			setup_failed("waitpid");
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= 5) {
			kill(pid, SIGKILL);
			observe("still in rt_sigreturn after 5 s; notes=%s", notes_summary(&notes));
			return;
		}
		usleep(5000);
	}
}
