/*
 * A PKRU value written with PTRACE_SETREGSET(NT_X86_XSTATE) (state
 * component 9, xstate_bv bit 9 set) is what the tracee reads back with
 * RDPKRU once resumed.
 */

/* The access- and write-disable bits of protection key 1: no page of
 * the subject carries that key, so flipping them is harmless. */
#define PKEY1_BITS 0xcu

static int subject(void *arg)
{
	struct notes *notes = arg;
	uint32_t before = rdpkru(), after;
	SETUP(raise(SIGSTOP));
	after = rdpkru();
	note_to(notes->tx, after == (before ^ PKEY1_BITS) ? "pkru=written" :
			   after == before ? "pkru=kept" : "pkru=other");
	return 0;
}

static void run_instance(const char *params)
{
	static uint8_t image[1 << 16];
	struct notes notes = notes_new();
	unsigned a, off, c, d;
	uint64_t x, features;
	uint32_t pkru;
	size_t len;
	const char *set, *end;
	pid_t pid;

	(void)params;
	if (!xcr0(&x))
		skip_lacks(NO_XSAVE);
	if (!ospke() || !(x & (1 << 9)))
		skip_lacks("the CPU has no protection keys (CPUID.7.0:ECX.OSPKE clear or XCR0.PKRU off; "
			   "QEMU's qemu64 model and many AMD hosts have none)");
	pid = stopped(subject, &notes);
	SETUP(getregset(pid, NT_X86_XSTATE, image, sizeof(image), &len));
	/* The standard-format offset of PKRU (state component 9). */
	__cpuid_count(0xd, 9, a, off, c, d);
	if (len < off + 4) {
		errno = E2BIG;
		setup_failed("NT_X86_XSTATE image too short for PKRU");
	}
	/* The subject's PKRU is the one it inherited from here. */
	pkru = rdpkru() ^ PKEY1_BITS;
	memcpy(image + off, &pkru, 4);
	memcpy(&features, image + XSAVE_XSTATE_BV, 8);
	features |= 1 << 9;
	memcpy(image + XSAVE_XSTATE_BV, &features, 8);
	set = result_name(setregset(pid, NT_X86_XSTATE, image, len));
	end = finish(pid);
	/* The notes once the subject is gone. */
	observe("SETREGSET=%s; %s; %s", set, end, notes_summary(&notes));
}
