/*
 * PTRACE_O_SUSPEND_SECCOMP switches the tracee's filters off, so only a
 * tracer with CAP_SYS_ADMIN that is itself under no filter may set it
 * (check_ptrace_options(), kernel/ptrace.c; 13c4a90119d2), in
 * PTRACE_SEIZE's options as with PTRACE_SETOPTIONS. The target runs a
 * filter that kills the process at getppid(), and calls it once the
 * tracer has asked: an unprivileged tracer is refused (EPERM) and the
 * filter kills the target; root's request takes and getppid() runs.
 */

enum how { SEIZE_UNPRIVILEGED, SETOPTIONS_UNPRIVILEGED, SEIZE_ROOT };

/* Arch x86_64 (and no x32 bit) or the process dies; getppid() kills the
 * process; everything else is allowed. */
static void install_getppid_kills(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_ARCH),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	no_new_privs();
	SETUP(install_filter(f, sizeof(f) / sizeof(f[0]), 0));
}

/* The target: NOBODY, dumpable, any tracer welcome, the filter; says
 * it is ready (the tracer must not meet it half-way), then calls
 * getppid() once the gate opens. */
static int target(struct gate *go, int ready_fd)
{
	become(NOBODY);
	SETUP(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
	allow_any_tracer();
	install_getppid_kills();
	if (write(ready_fd, "r", 1) < 0)
		_exit(SUBJECT_EXIT);
	gate_wait(go);
	syscall(__NR_getppid, 0);
	return 0;
}

struct ask { enum how how; pid_t pid; struct gate *go; };

/* The tracer's request, then (if it got in) every stop answered until
 * the target is gone: detaching would clear the suspension before
 * getppid() runs. */
static void ask(void *arg, char *out, size_t len)
{
	struct ask *a = arg;
	long rc;

	if (a->how != SETOPTIONS_UNPRIVILEGED) {
		rc = ptrace(PTRACE_SEIZE, a->pid, 0, PTRACE_O_SUSPEND_SECCOMP);
		snprintf(out, len, "seize=%s", result_name(rc));
	} else {
		rc = ptrace(PTRACE_SEIZE, a->pid, 0, 0);
		snprintf(out, len, "seize=%s", result_name(rc));
		if (rc == 0) {
			ptrace(PTRACE_INTERRUPT, a->pid, 0, 0);
			wait_status(a->pid);
			long set = ptrace(PTRACE_SETOPTIONS, a->pid, 0, PTRACE_O_SUSPEND_SECCOMP);
			snprintf(out + strlen(out), len - strlen(out), " setoptions=%s",
				 result_name(set));
			ptrace(PTRACE_CONT, a->pid, 0, 0);
		}
	}
	gate_open(a->go);
	if (strncmp(out, "seize=ok", 8) == 0) {
		for (;;) {
			int status = wait_status(a->pid);
			if (WIFEXITED(status) || WIFSIGNALED(status))
				break;
			if (WIFSTOPPED(status) && ((status >> 16) & 0xff) == 0)
				ptrace(PTRACE_CONT, a->pid, 0, WSTOPSIG(status));
			else
				ptrace(PTRACE_CONT, a->pid, 0, 0);
		}
	}
}

static void run_instance(const char *params)
{
	struct gate go = gate_new();
	struct ask a = { .go = &go };
	int ready[2], status;
	char asked[256], end[64], r;

	if (!strcmp(params, "seize-root"))
		a.how = SEIZE_ROOT;
	else if (!strcmp(params, "setoptions-unprivileged"))
		a.how = SETOPTIONS_UNPRIVILEGED;
	else
		a.how = SEIZE_UNPRIVILEGED;
	if (a.how == SEIZE_ROOT)
		yama_lets_root_in();
	else
		yama_lets_unprivileged_in();

	SETUP(pipe2(ready, O_CLOEXEC));
	a.pid = SETUP(fork());
	if (a.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		_exit(target(&go, ready[1]));
	}
	close(ready[1]);
	if (read(ready[0], &r, 1) != 1) {
		errno = ESRCH;
		setup_failed("the target died during setup");
	}
	/* The tracer is a process of its own (root's too), so this one, the
	 * target's parent, reaps the target after the tracer let go. */
	as_uid(a.how == SEIZE_ROOT ? 0 : NOBODY, ask, &a, asked, sizeof(asked));
	gate_open(&go);
	status = wait_status(a.pid);
	if (WIFSIGNALED(status))
		snprintf(end, sizeof(end), "killed %s", signame(WTERMSIG(status)));
	else
		snprintf(end, sizeof(end), "%s", status_text(status));
	observe("%s; target %s", asked, end);
}
