/*
 * What the filter is handed (struct seccomp_data): the arch and number
 * of the table the call indexes (AUDIT_ARCH_I386 and i386 numbers for
 * int $0x80 and ELF32 code, arch/x86/entry/syscall_32.c), and the first
 * argument as the registers held it (an i386 call passes only the low
 * 32 bits, so a high word put into rbx is not seen).
 *
 * The filter tells what it saw through the errno of the marked calls:
 * MARK: errno = arch class << 10 | x32 bit << 9 | (nr & 0x1ff);
 * MARK_HI: errno = the argument's high word & 0xfff.
 */

static struct sock_filter reporting_filter[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_ARG0_LO),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MARK_HI, 20, 0),		/* -> hi */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MARK, 0, 23),		/* -> allow */
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR),
	BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x1ff),
	BPF_STMT(BPF_MISC | BPF_TAX, 0),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NR),
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, 0, 3),	/* -> arch */
	BPF_STMT(BPF_MISC | BPF_TXA, 0),
	BPF_STMT(BPF_ALU | BPF_OR | BPF_K, 0x200),
	BPF_STMT(BPF_MISC | BPF_TAX, 0),
	/* arch: */
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_ARCH),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 3, 0),	/* -> x86-64 */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_I386, 4, 0),		/* -> i386 */
	BPF_STMT(BPF_LD | BPF_IMM, 3 << 10),
	BPF_STMT(BPF_JMP | BPF_JA, 3),					/* -> out */
	/* x86-64: */
	BPF_STMT(BPF_LD | BPF_IMM, 1 << 10),
	BPF_STMT(BPF_JMP | BPF_JA, 1),					/* -> out */
	/* i386: */
	BPF_STMT(BPF_LD | BPF_IMM, 2 << 10),
	/* out: */
	BPF_STMT(BPF_ALU | BPF_OR | BPF_X, 0),
	BPF_STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
	BPF_STMT(BPF_RET | BPF_A, 0),
	/* hi: */
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_ARG0_HI),
	BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xfff),
	BPF_STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
	BPF_STMT(BPF_RET | BPF_A, 0),
	/* allow: */
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

/* "arch=i386 nr=20", "arch=x86_64 nr=0x40000027" */
static void decode_seen(long e, char *out, size_t len)
{
	const char *arch;
	switch (e >> 10) {
	case 1: arch = "x86_64"; break;
	case 2: arch = "i386"; break;
	case 3: arch = "other"; break;
	default:
		snprintf(out, len, "unexpected-errno=%ld", e);
		return;
	}
	if (e & 0x200)
		snprintf(out, len, "arch=%s nr=0x%lx", arch, (e & 0x1ff) | X32_SYSCALL_BIT);
	else
		snprintf(out, len, "arch=%s nr=%ld", arch, e & 0x1ff);
}

static void run_instance(const char *params)
{
	enum path path = path_of(params);
	/* 32-bit code cannot set a register's high half. */
	uint64_t hi = path == ELF32 ? 0 : HIGH_WORD << 32;
	struct call calls[] = { { GETPID, MARK }, { GETPID, MARK_HI | hi } };
	struct ran r;
	char seen[96], high[64];

	run_calls(path, calls, 2, reporting_filter,
		  sizeof(reporting_filter) / sizeof(reporting_filter[0]), NO_WATCH, &r);
	if (r.nresults < 1)
		snprintf(seen, sizeof(seen), "none");
	else if (r.results[0] < 0)
		decode_seen(-r.results[0], seen, sizeof(seen));
	else
		snprintf(seen, sizeof(seen), "unfiltered ret=%ld", r.results[0]);
	if (r.nresults < 2)
		snprintf(high, sizeof(high), "none");
	else if (r.results[1] <= 0)
		snprintf(high, sizeof(high), "0x%lx", -r.results[1]);
	else
		snprintf(high, sizeof(high), "unfiltered ret=%ld", r.results[1]);
	observe("%s arg0-high=%s -> %s", seen, high, r.end);
}
