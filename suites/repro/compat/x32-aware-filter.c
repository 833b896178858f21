/*
 * libseccomp's x86_64 filters also kill numbers with __X32_SYSCALL_BIT:
 * the x32 call dies at the filter whether or not the kernel has x32.
 */

static struct sock_filter x32_aware_filter[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_ARCH),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR),
	BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getpid, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static void run_instance(const char *params)
{
	enum path path = path_of(params);
	struct call call = { GETPID, 0 };
	struct ran r;
	char seen[512];

	run_calls(path, &call, 1, x32_aware_filter,
		  sizeof(x32_aware_filter) / sizeof(x32_aware_filter[0]), NO_WATCH, &r);
	calls_and_end(&r, &call, 1, seen, sizeof(seen));
	observe("%s", seen);
}
