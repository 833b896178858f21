/*
 * PTRACE_SETREGSET(NT_X86_XSTATE) takes the image in the standard
 * (uncompacted) XSAVE format the uapi defines: the image GETREGSET gave,
 * with xmm0 changed, goes in; the same with xcomp_bv set (bit 63, the
 * compacted format, and the features) is refused with EINVAL, and the
 * tracee's registers stay as they were.
 */

/* What the tracer writes into xmm0. */
#define XMM0_WRITTEN 0x5a

struct subject { struct notes *notes; xmm_t load; };

/* Load the pattern, stop, and note what became of xmm0. */
static int subject(void *arg)
{
	struct subject *s = arg;
	xmm_t after;
	uint8_t written[16];
	memset(written, XMM0_WRITTEN, sizeof(written));
	xmm_round_trip(s->load, after);
	note_to(s->notes->tx, !memcmp(after[0], s->load[0], 16) ? "xmm0=kept" :
			      !memcmp(after[0], written, 16) ? "xmm0=written" : "xmm0=other");
	return 0;
}

static void run_instance(const char *params)
{
	static uint8_t image[1 << 16];
	struct notes notes = notes_new();
	struct subject s = { &notes };
	uint64_t x, features;
	size_t len;
	const char *set, *end;
	pid_t pid;

	if (!xcr0(&x))
		skip_lacks(NO_XSAVE);
	xmm_pattern(s.load);
	pid = stopped(subject, &s);
	/* The kernel's xstate_regs_get() shows the round trip's kill() stop. */
	SETUP(getregset(pid, NT_X86_XSTATE, image, sizeof(image), &len));
	memset(image + XSAVE_XMM0, XMM0_WRITTEN, 16);
	if (!strcmp(params, "bogus-xcomp-bv-refused")) {
		memcpy(&features, image + XSAVE_XSTATE_BV, 8);
		features |= 1ULL << 63;
		memcpy(image + XSAVE_XCOMP_BV, &features, 8);
	}
	set = result_name(setregset(pid, NT_X86_XSTATE, image, len));
	end = finish(pid);
	/* The notes once the subject is gone. */
	observe("SETREGSET=%s; %s; %s", set, end, notes_summary(&notes));
}
