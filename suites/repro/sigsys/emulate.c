/*
 * A SIGSYS handler emulates the trapped syscall by setting rax in the
 * saved context: the caller sees that value (or -errno) as the result, and
 * the syscall itself never ran (seccomp(2), SECCOMP_RET_TRAP). Left alone,
 * rax holds the syscall number the rollback put back.
 *
 * params: untouched, value (rax = 4242), errno (rax = -EPERM).
 */

/* What the handler puts in rax; LONG_MIN: leave it. */
static volatile long emulated_rax = LONG_MIN;

static void emulating_handler(int sig, siginfo_t *info, void *ctx)
{
	struct sys_info si = sys_info(info);
	char line[128];

	(void)sig;
	note_trap(line, sizeof(line), &si);
	note(line);
	if (emulated_rax != LONG_MIN)
		gregs(ctx)[REG_RAX] = emulated_rax;
}

/* The subject: write(A) traps (RET_TRAP, data 1); note what it returned. */
static int trapped_write(void *arg)
{
	struct effects *e = arg;
	struct filter_rule trap[] = { RULE_ARG0(__NR_write, e->fd[A], SECCOMP_RET_TRAP | 1) };
	char line[64];

	handle(SIGSYS, emulating_handler, 0, no_signals());
	install_rules_or_exit(trap, 1);
	snprintf(line, sizeof(line), "ret=%s", result_text(write_label(e->fd[A], A)));
	note(line);
	return 0;
}

static void run_instance(const char *params)
{
	struct effects e = effects_new(1);
	char text[2048], effects[256];

	if (!strcmp(params, "value"))
		emulated_rax = 4242;
	else if (!strcmp(params, "errno"))
		emulated_rax = -EPERM;
	run_subject(trapped_write, &e, text, sizeof(text));
	observe("%s; effects=%s", text, pipe_summary(e.pipe.rx, effects, sizeof(effects)));
}
