/*
 * A tracer that swaps a stopped getppid() for the denied
 * write(KILL_FD, "K", 1) does not get it through: since 4.8
 * (93e35efb8de4, "x86/ptrace: run seccomp after ptrace") seccomp runs the
 * filters again on the syscall the tracer left, whether it rewrote it at
 * the PTRACE_EVENT_SECCOMP stop of a RET_TRACE rule or at the
 * syscall-entry stop of PTRACE_SYSCALL. A RET_KILL_* kills the task
 * without the write running; a RET_ERRNO(EPERM) fails it.
 */

enum rewrite_at { AT_SECCOMP_STOP, AT_SYSCALL_ENTRY };

struct rewrite { enum rewrite_at at; struct filter_rule rules[2]; int nrules; };

/* The subject: install the filter, stop at a fixed point for the tracer
 * to start from, call getppid(), and note what it returned. */
static int rewrite_subject(void *p)
{
	struct rewrite *r = p;
	char note[64];
	long ret;
	int err;

	install_rules_or_exit(r->rules, r->nrules);
	if (raise(SIGSTOP))
		setup_failed("raise(SIGSTOP)");
	ret = syscall(__NR_getppid);
	err = ret < 0 ? errno : 0;
	snprintf(note, sizeof(note), "after ret=%ld errno=%d", ret, err);
	note_to(effects.tx, note);
	return 0;
}

/* Turn the stopped getppid() into write(KILL_FD, "K", 1). */
static const char *rewrite_to_denied_write(pid_t pid)
{
	static char out[64];
	struct user_regs_struct regs;
	const char *set;

	if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0) {
		set = errno_name(errno);
	} else {
		regs.orig_rax = __NR_write;
		regs.rdi = KILL_FD;
		regs.rsi = (unsigned long)K;
		regs.rdx = 1;
		set = result_name(ptrace(PTRACE_SETREGS, pid, 0, &regs));
	}
	snprintf(out, sizeof(out), "rewrite getppid=>write setregs=%s", set);
	return out;
}

static void run_instance(const char *params)
{
	struct rewrite r = { .nrules = 1 };
	char log[2048] = "";
	int entries = 0, rewritten = 0, status;
	unsigned int denied;
	long options;
	pid_t pid;

	r.at = strncmp(params, "at-seccomp-stop", strlen("at-seccomp-stop")) ? AT_SYSCALL_ENTRY
									   : AT_SECCOMP_STOP;
	if (strstr(params, "/errno"))
		denied = SECCOMP_RET_ERRNO | EPERM;
	else
		denied = kill_ret(kill_of(strchr(params, '/') + 1));
	r.rules[0] = (struct filter_rule){ __NR_write, 1, KILL_FD, denied };
	if (r.at == AT_SECCOMP_STOP) {
		r.rules[r.nrules++] = (struct filter_rule){ __NR_getppid, 0, 0, SECCOMP_RET_TRACE | 7 };
		options = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEEXIT;
	} else {
		options = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXIT;
	}

	effects_pipe();
	pid = tracee_seize(options, rewrite_subject, &r);
#define LOG(...) (log_add(log, sizeof(log), " -> ", __VA_ARGS__), entries++)
	for (;;) {
		status = wait_status(pid);
		if (is_signal_stop(status) && WSTOPSIG(status) == SIGSTOP && !rewritten) {
			/* The subject's own SIGSTOP: suppress it, and from here
			 * stop at its seccomp stop or at every syscall entry. */
			ptrace(r.at == AT_SECCOMP_STOP ? PTRACE_CONT : PTRACE_SYSCALL, pid, 0, 0);
		} else if (is_event(status, PTRACE_EVENT_SECCOMP) && !rewritten) {
			LOG("event SECCOMP");
			LOG("%s", rewrite_to_denied_write(pid));
			rewritten = 1;
			ptrace(PTRACE_CONT, pid, 0, 0);
		} else if (is_syscall_stop(status)) {
			struct user_regs_struct regs;
			SETUP(ptrace(PTRACE_GETREGS, pid, 0, &regs));
			if (!rewritten && regs.orig_rax == __NR_getppid) {
				LOG("syscall-entry getppid");
				LOG("%s", rewrite_to_denied_write(pid));
				rewritten = 1;
				ptrace(PTRACE_CONT, pid, 0, 0);
			} else {
				ptrace(rewritten ? PTRACE_CONT : PTRACE_SYSCALL, pid, 0, 0);
			}
		} else if (WIFSTOPPED(status) && (status >> 16)) {
			LOG("event %s", event_name(status >> 16));
			ptrace(PTRACE_CONT, pid, 0, 0);
		} else if (is_signal_stop(status)) {
			LOG("stop %s", signame(WSTOPSIG(status)));
			ptrace(PTRACE_CONT, pid, 0, 0);
		} else {
			LOG("%s", status_text(status));
			break;
		}
		if (entries > 16) {
			LOG("...");
			break;
		}
	}
#undef LOG
	observe("%s; effects=%s", log, notes_summary(&effects));
}
