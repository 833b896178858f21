/*
 * A SIGSYS handler restarts the trapped syscall differently: rewinding rip
 * onto the `syscall` instruction works because RET_TRAP's rollback left
 * rax = the syscall number, and the filter judges the re-executed call
 * anew; or the handler makes an allowed call itself and returns its result
 * in rax (seccomp(2), SECCOMP_RET_TRAP).
 *
 * params: rewind-with-new-args (rip -= 2, fd and buffer pointed at B),
 * rewind-same-args-traps-again (the first rewind traps again; the second
 * changes them), writev-from-handler (writev(A) from the handler; the
 * filter traps write only).
 */

enum restart { REWIND_NEW_ARGS, REWIND_SAME_ARGS_FIRST, OTHER_SYSCALL };

static volatile int how, fd_a = -1, fd_b = -1, traps;

/* Point the write at B: its fd and its label. */
static void to_b(greg_t *g)
{
	g[REG_RDI] = fd_b;
	g[REG_RSI] = (greg_t)(uintptr_t)labels[B];
}

static void restarting_handler(int sig, siginfo_t *info, void *ctx)
{
	greg_t *g = gregs(ctx);
	char line[64];
	int trap = ++traps;

	(void)sig;
	(void)info;
	snprintf(line, sizeof(line), "handler trap=%d", trap);
	note(line);
	if (how == REWIND_NEW_ARGS) {
		g[REG_RIP] -= 2; /* back onto `syscall` (0f 05) */
		to_b(g);
	} else if (how == REWIND_SAME_ARGS_FIRST) {
		g[REG_RIP] -= 2;
		if (trap >= 2)
			to_b(g);
	} else {
		struct iovec iov = { (void *)labels[A], 2 };
		long rc = writev(fd_a, &iov, 1);
		g[REG_RAX] = rc < 0 ? -(long)errno : rc;
	}
}

/* The subject: write(A) traps (RET_TRAP, data 1); note what it returned. */
static int trapped_write(void *arg)
{
	struct effects *e = arg;
	struct filter_rule trap[] = { RULE_ARG0(__NR_write, e->fd[A], SECCOMP_RET_TRAP | 1) };
	char line[64];

	handle(SIGSYS, restarting_handler, 0, no_signals());
	install_rules_or_exit(trap, 1);
	snprintf(line, sizeof(line), "ret=%s", result_text(write_label(e->fd[A], A)));
	note(line);
	return 0;
}

static void run_instance(const char *params)
{
	struct effects e = effects_new(2);
	char text[2048], effects[256];

	fd_a = e.fd[A];
	fd_b = e.fd[B];
	if (!strcmp(params, "rewind-with-new-args"))
		how = REWIND_NEW_ARGS;
	else if (!strcmp(params, "rewind-same-args-traps-again"))
		how = REWIND_SAME_ARGS_FIRST;
	else
		how = OTHER_SYSCALL; /* writev-from-handler */
	run_subject(trapped_write, &e, text, sizeof(text));
	observe("%s; effects=%s", text, pipe_summary(e.pipe.rx, effects, sizeof(effects)));
}
