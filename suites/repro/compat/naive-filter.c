/*
 * The filter a careless sandbox writes: x86_64 numbers, no arch check
 * (seccomp(2), "Caveats"). It denies getpid() and write() to the
 * effects fd. A compat call bypasses it through the i386 table (getpid
 * is 20 there, not 39) and even misfires: i386 exit is number 1, x86_64
 * write's, so exit(EFFECT_FD) matches the write(EFFECT_FD) rule.
 */

static struct sock_filter naive_filter[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getpid, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_write, 0, 3),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_ARG0_LO),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EFFECT_FD, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static void run_instance(const char *params)
{
	enum path path = path_of(params);
	struct call call = { GETPID, 0 };
	struct ran r;
	char seen[512];

	if (!strncmp(params, "write/", 6))
		call.kind = WRITE;
	else if (!strncmp(params, "exit/", 5))
		call = (struct call){ EXIT, EFFECT_FD };
	run_calls(path, &call, 1, naive_filter, sizeof(naive_filter) / sizeof(naive_filter[0]),
		  NO_WATCH, &r);
	x32_required(&r);
	calls_and_end(&r, &call, 1, seen, sizeof(seen));
	observe("%s", seen);
}
