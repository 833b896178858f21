/*
 * PEEKUSER(gs_base) of a tracee whose GS holds a TLS selector (a
 * set_thread_area descriptor, made through int 0x80) reads that
 * descriptor's base.
 */

#define TLS_BASE 0x5a5a0000u

struct subject { struct notes *notes, *status; };

static int subject(void *arg)
{
	struct subject *s = arg;
	uint32_t *desc;
	long ret;
	uint16_t sel;
	char note[16];

	if (!int80_works(s->status))
		return 125;
	desc = (uint32_t *)low_mem(4096);
	/* struct user_desc: entry_number (-1: any free TLS slot), base_addr,
	 * limit (4 GiB in pages), then seg_32bit | limit_in_pages | useable. */
	desc[0] = UINT32_MAX;
	desc[1] = TLS_BASE;
	desc[2] = 0xfffff;
	desc[3] = 0x1 | 0x10 | 0x40;
	ret = int80(I386_SET_THREAD_AREA, (uint64_t)desc, 0, 0);
	if (ret != 0) {
		errno = -ret;
		setup_failed("set_thread_area(int 0x80)");
	}
	sel = desc[0] << 3 | 3;
	snprintf(note, sizeof(note), "%u", sel);
	note_to(s->notes->tx, note);
	/* GS: nothing in this process uses it. */
	__asm__ volatile("mov %0, %%gs" : : "r"(sel));
	SETUP(raise(SIGSTOP));
	return 0;
}

static void run_instance(const char *params)
{
	struct notes notes = notes_new(), status = notes_new();
	struct subject s = { &notes, &status };
	pid_t pid = tracee_spawn(subject, &s);
	uint64_t sel, gs, base;
	char gs_text[32];
	int st;

	(void)params;
	st = wait_status(pid);
	if (!WIFSTOPPED(st) || st >> 16 || WSTOPSIG(st) != SIGSTOP) {
		if (said_no_int80(notes_joined(&status)))
			skip_lacks(NO_INT80);
		errno = EINVAL;
		setup_failed("subject did not stop itself");
	}
	if (sscanf(notes_joined(&notes), "%lu", &sel) != 1) {
		errno = EINVAL;
		setup_failed("subject did not say its selector");
	}
	SETUP(peek(pid, offsetof(struct user_regs_struct, gs), &gs));
	SETUP(peek(pid, offsetof(struct user_regs_struct, gs_base), &base));
	if (gs == sel)
		snprintf(gs_text, sizeof(gs_text), "tls-selector");
	else
		snprintf(gs_text, sizeof(gs_text), "0x%lx", (unsigned long)gs);
	observe("gs=%s gs_base=0x%lx; %s", gs_text, (unsigned long)base, finish(pid));
}
