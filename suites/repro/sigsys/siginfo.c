/*
 * SECCOMP_RET_TRAP skips the syscall, rolls the registers back to what the
 * task passed (rax = the syscall number again) and forces a SIGSYS with
 * si_code SYS_SECCOMP, si_syscall, si_arch, si_errno = RET_DATA (all 16
 * bits, unlike RET_ERRNO's cap at 4095) and si_call_addr = the saved rip,
 * just past the `syscall` instruction (Documentation/userspace-api/
 * seccomp_filter.rst, seccomp(2)). A SIGSYS handler reads all of it.
 *
 * params: getppid/data-0x0, getppid/data-0xffff, nr-1000/data-0x42 (a
 * number no kernel has: the filter runs before the table is looked at).
 */

/* Six distinct arguments, so the handler can tell they are as passed. */
static const uint64_t args[6] = {
	0x11, 0x2222, 0x333333, 0x44444444, 0x5555555555, 0x666666666666,
};

static void reporting_handler(int sig, siginfo_t *info, void *ctx)
{
	struct sys_info si = sys_info(info);
	greg_t *g = gregs(ctx);
	static const int regs[6] = { REG_RDI, REG_RSI, REG_RDX, REG_R10, REG_R8, REG_R9 };
	int at_rip = si.call_addr == (uint64_t)g[REG_RIP], kept = 1, n;
	char line[256];

	(void)sig;
	n = snprintf(line, sizeof(line), "%s%s errno=0x%x syscall=%d%s%s",
		     si.signo == SIGSYS ? "handler SIGSYS" : "handler other-signal",
		     si.code == 1 ? " code=SYS_SECCOMP" : " code=other",
		     (unsigned)si.errno_, si.syscall,
		     si.arch == AUDIT_ARCH_X86_64 ? " arch=x86_64" : " arch=other",
		     at_rip ? " call_addr=rip" : " call_addr=other");
	if (at_rip) {
		/* The two bytes before rip: 0f 05 is `syscall`. */
		const unsigned char *insn = (const unsigned char *)(uintptr_t)(si.call_addr - 2);
		n += snprintf(line + n, sizeof(line) - n, "%s",
			      insn[0] == 0x0f && insn[1] == 0x05 ? " insn=syscall" : " insn=other");
	}
	for (int i = 0; i < 6; i++)
		if ((uint64_t)g[regs[i]] != args[i])
			kept = 0;
	snprintf(line + n, sizeof(line) - n, "%s%s",
		 g[REG_RAX] == (greg_t)si.syscall ? " rax=nr" : " rax=other",
		 kept ? " args=as-passed" : " args=changed");
	note(line);
}

struct info { long nr; unsigned int data; };

static int trapped_call(void *arg)
{
	struct info *p = arg;
	struct filter_rule trap[] = { RULE(p->nr, SECCOMP_RET_TRAP | p->data) };

	handle(SIGSYS, reporting_handler, 0, no_signals());
	install_rules_or_exit(trap, 1);
	/* A trapped syscall: the kernel never runs it. */
	syscall(p->nr, args[0], args[1], args[2], args[3], args[4], args[5]);
	note("after");
	return 0;
}

static void run_instance(const char *params)
{
	struct info p;
	char nr[32], text[2048];

	if (sscanf(params, "%31[^/]/data-%x", nr, &p.data) != 2) {
		errno = EINVAL;
		setup_failed("params");
	}
	p.nr = !strcmp(nr, "getppid") ? __NR_getppid : strtol(nr + strlen("nr-"), NULL, 10);
	run_subject(trapped_call, &p, text, sizeof(text));
	observe("%s", text);
}
