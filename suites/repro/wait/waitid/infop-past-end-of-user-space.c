/*
 * waitid(2) refuses a siginfo pointer whose object runs past the end of
 * user space: a pointer 8 bytes below it (the siginfo would run into the
 * guard page above) fails with EFAULT, and the zombie child is reaped all
 * the same. How much of the head lands in the last 8 mapped bytes first
 * depends on how the kernel checks the range (6.1's access_ok() writes
 * nothing; kernels that mask user pointers write si_signo and si_errno,
 * then fault), so it is not part of the observation. 4.13 (4c48abe91be0)
 * wrote without any check (96ca579a1ecc, CVE-2017-5123).
 */

#define PAGE 4096UL

/* Map the first page below the end of user space (2^56 with 5-level
 * paging, else 2^47, less the guard page); returns it, *end the end. */
static unsigned char *map_top_page(unsigned long *end)
{
	static const unsigned long ends[] = { (1UL << 56) - PAGE, (1UL << 47) - PAGE };

	for (int i = 0; i < 2; i++) {
		unsigned long want = ends[i] - PAGE;
		void *got = mmap((void *)want, PAGE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (got == MAP_FAILED)
			continue;
		if ((unsigned long)got == want) {
			*end = ends[i];
			return got;
		}
		/* A kernel without MAP_FIXED_NOREPLACE took it as a hint. */
		munmap(got, PAGE);
	}
	errno = ENOMEM;
	setup_failed("mmap(top page of user space, MAP_FIXED_NOREPLACE)");
	return NULL;
}

static int exit_at_once(void *arg)
{
	(void)arg;
	return 0;
}

/* waitid(P_PID, pid, &si, options) with EINTR retried: 0 or an errno. */
static int waitid_pid(pid_t pid, int options)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, pid, &si, options) < 0)
		if (errno != EINTR)
			return errno;
	return 0;
}

static void run_instance(const char *params)
{
	unsigned long end;
	unsigned char *page = map_top_page(&end);
	pid_t child;
	long rc;
	int e;
	const char *answer, *reaped;

	(void)params;
	memset(page + PAGE - 8, 0xaa, 8);
	child = spawn(exit_at_once, NULL);
	e = waitid_pid(child, WEXITED | WNOWAIT);
	if (e) {
		errno = e;
		setup_failed("waitid(WEXITED | WNOWAIT)");
	}

	/* The siginfo would start 8 bytes below the end of user space. */
	rc = syscall(SYS_waitid, P_PID, child, (void *)(end - 8), WEXITED, NULL);
	answer = rc < 0 ? errno_name(errno) : "0";

	e = waitid_pid(child, WEXITED | WNOHANG);
	reaped = e == ECHILD ? "yes" : e == 0 ? "no" : errno_name(e);
	munmap(page, PAGE);
	observe("waitid=%s reaped=%s", answer, reaped);
}
