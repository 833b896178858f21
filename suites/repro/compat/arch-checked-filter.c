/*
 * The same denial behind an arch check, the way the kernel's
 * samples/seccomp do it: a compat call (seccomp_data.arch
 * AUDIT_ARCH_I386) kills the process before any number is compared.
 * x32 calls carry the x86_64 arch, so they pass the check.
 */

static struct sock_filter arch_checked_filter[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_ARCH),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
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

	run_calls(path, &call, 1, arch_checked_filter,
		  sizeof(arch_checked_filter) / sizeof(arch_checked_filter[0]), NO_WATCH, &r);
	x32_required(&r);
	calls_and_end(&r, &call, 1, seen, sizeof(seen));
	observe("%s", seen);
}
