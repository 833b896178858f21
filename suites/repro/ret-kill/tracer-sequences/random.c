/*
 * No sequence of tracer requests at its stops makes a SECCOMP_RET_KILL'd
 * task run again. A case is a kill action, a thread count and a list of
 * requests (PTRACE_CONT, _SYSCALL, _DETACH with a signal or none, a new
 * instruction pointer by SETREGS or POKEUSER, POKEUSER of orig_rax,
 * PTRACE_INTERRUPT, PTRACE_LISTEN, kill()). At every stop of a killed
 * task from its PTRACE_EVENT_EXIT on, the tracer takes requests from the
 * list until one resumes the task (or the list runs out, when it sends
 * PTRACE_CONT); stops before the kill and those of a task the filter did
 * not kill are just resumed. Every case must leave the effects pipe
 * without an escape and end as its kill action says.
 *
 * The cases are the Rust model's (suites/src/models/ret_kill.rs): the
 * first CASES values its proptest strategy draws from proptest 1.12's
 * fixed ChaCha seed (TestRng::deterministic_rng), drawn here with the
 * same generator and the same sampling steps, so that both run the same
 * requests. Each case and what it did goes to stderr.
 */

#define CASES 6
#define MAX_REQUESTS 9

/* ---------------------------------------------------------------------
 * The generator: ChaCha20 (the chacha20 crate's ChaCha20Rng: 64-bit block
 * counter, 64-bit stream 0, four blocks buffered), and the sampling that
 * rand 0.10 and proptest 1.12 do with it.
 */

struct chacha { uint32_t state[16], buf[64]; unsigned index; };

#define ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QR(x, a, b, c, d) (					\
	x[a] += x[b], x[d] ^= x[a], x[d] = ROTL(x[d], 16),	\
	x[c] += x[d], x[b] ^= x[c], x[b] = ROTL(x[b], 12),	\
	x[a] += x[b], x[d] ^= x[a], x[d] = ROTL(x[d], 8),	\
	x[c] += x[d], x[b] ^= x[c], x[b] = ROTL(x[b], 7))

static void chacha_seed(struct chacha *c, const uint8_t seed[32])
{
	static const uint32_t sigma[4] = { 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574 };
	memset(c, 0, sizeof(*c));
	memcpy(c->state, sigma, sizeof(sigma));
	for (int i = 0; i < 8; i++)
		c->state[4 + i] = seed[4 * i] | seed[4 * i + 1] << 8 | seed[4 * i + 2] << 16 |
				  (uint32_t)seed[4 * i + 3] << 24;
	c->index = 64;
}

static void chacha_generate(struct chacha *c)
{
	for (int b = 0; b < 4; b++) {
		uint32_t *x = c->buf + 16 * b;
		memcpy(x, c->state, sizeof(c->state));
		for (int r = 0; r < 10; r++) {
			QR(x, 0, 4, 8, 12); QR(x, 1, 5, 9, 13);
			QR(x, 2, 6, 10, 14); QR(x, 3, 7, 11, 15);
			QR(x, 0, 5, 10, 15); QR(x, 1, 6, 11, 12);
			QR(x, 2, 7, 8, 13); QR(x, 3, 4, 9, 14);
		}
		for (int i = 0; i < 16; i++)
			x[i] += c->state[i];
		if (++c->state[12] == 0)
			c->state[13]++;
	}
}

static uint32_t next_u32(struct chacha *c)
{
	if (c->index >= 64) {
		chacha_generate(c);
		c->index = 0;
	}
	return c->buf[c->index++];
}

/* rand_core's BlockRng::next_u64_from_u32: two words, low first, the
 * pair split across a refill when one word is left. */
static uint64_t next_u64(struct chacha *c)
{
	uint32_t lo, hi;
	if (c->index < 63) {
		lo = c->buf[c->index];
		hi = c->buf[c->index + 1];
		c->index += 2;
	} else if (c->index == 63) {
		lo = c->buf[63];
		chacha_generate(c);
		hi = c->buf[0];
		c->index = 1;
	} else {
		chacha_generate(c);
		lo = c->buf[0];
		hi = c->buf[1];
		c->index = 2;
	}
	return (uint64_t)hi << 32 | lo;
}

/* rand's Uniform<u64>::new(0, n).sample(): Lemire's widening multiply,
 * rejecting a low half under (2^64 - n) % n. */
static uint64_t uniform_u64(struct chacha *c, uint64_t n)
{
	uint64_t thresh = (0 - n) % n;
	for (;;) {
		unsigned __int128 m = (unsigned __int128)next_u64(c) * n;
		if ((uint64_t)m >= thresh)
			return (uint64_t)(m >> 64);
	}
}

/* rand's Uniform<usize>::new_inclusive(low, high).sample() for a range
 * that fits 32 bits: the same on u32 words. */
static unsigned uniform_usize_incl(struct chacha *c, unsigned low, unsigned high)
{
	uint32_t range = high - low + 1, thresh = (0 - range) % range;
	for (;;) {
		uint64_t m = (uint64_t)next_u32(c) * range;
		if ((uint32_t)m >= thresh)
			return low + (uint32_t)(m >> 32);
	}
}

/*
 * proptest's prop_oneof! (TupleUnion::new_tree): pick an option by
 * weight (pick_weighted: a uniform draw under the weights' sum, then the
 * count of running sums <= it); each option before the pick gets a lazy
 * tree, whose runner is a partial_clone() with an RNG seeded from this
 * one (32 draws, one byte each: rand's [u8; 32]); then the picked
 * option's own tree is drawn.
 */
static int oneof(struct chacha *c, const unsigned *weights, int n)
{
	uint64_t sum = 0, pick, running = 0;
	int chosen = 0;

	for (int i = 0; i < n; i++)
		sum += weights[i];
	pick = uniform_u64(c, sum);
	for (int i = 0; i < n; i++) {
		running += weights[i];
		if (running <= pick)
			chosen++;
	}
	for (int i = 0; i < chosen; i++)
		for (int b = 0; b < 32; b++)
			next_u32(c);
	return chosen;
}

/* ---------------------------------------------------------------------
 * The model's cases.
 */

enum req { CONT, SYSCALL, DETACH_, SETREGS_, POKE_RIP, POKE_ORIG_RAX, INTERRUPT, LISTEN, KILL_ };

struct request { enum req what; int sig; /* 0: none */ };

struct model_case {
	enum kill kill;
	enum threads threads;
	int n;
	struct request requests[MAX_REQUESTS];
};

/* sig: none, SIGCONT, SIGSYS, SIGUSR1, SIGSTOP, SIGKILL, equally likely. */
static int draw_sig(struct chacha *c)
{
	static const unsigned w[6] = { 1, 1, 1, 1, 1, 1 };
	static const int sigs[6] = { 0, SIGCONT, SIGSYS, SIGUSR1, SIGSTOP, SIGKILL };
	return sigs[oneof(c, w, 6)];
}

static struct request draw_request(struct chacha *c)
{
	static const unsigned w[9] = { 2, 1, 1, 2, 2, 1, 2, 2, 2 };
	static const unsigned w_sent[4] = { 1, 1, 1, 1 };
	static const int sent[4] = { SIGCONT, SIGKILL, SIGSTOP, SIGUSR1 };
	struct request r = { oneof(c, w, 9), 0 };

	if (r.what == CONT || r.what == SYSCALL || r.what == DETACH_)
		r.sig = draw_sig(c);
	else if (r.what == KILL_)
		r.sig = sent[oneof(c, w_sent, 4)];
	return r;
}

/* (kill, threads, vec(request, 1..10)), drawn in that order. */
static struct model_case draw_case(struct chacha *c)
{
	static const unsigned w2[2] = { 1, 1 };
	struct model_case k;

	k.kill = oneof(c, w2, 2) ? KILL_PROCESS : KILL_THREAD;
	k.threads = oneof(c, w2, 2) ? MULTI : SINGLE;
	k.n = uniform_usize_incl(c, 1, MAX_REQUESTS);
	for (int i = 0; i < k.n; i++)
		k.requests[i] = draw_request(c);
	return k;
}

static void fixed_cases(struct model_case *cases, int n)
{
	static const uint8_t seed[32] = {
		0xf4, 0x16, 0x16, 0x48, 0xc3, 0xac, 0x77, 0xac, 0x72, 0x20, 0x0b, 0xea,
		0x99, 0x67, 0x2d, 0x6d, 0xca, 0x9f, 0x76, 0xaf, 0x1b, 0x09, 0x73, 0xa0,
		0x59, 0x22, 0x6d, 0xc5, 0x46, 0x39, 0x1c, 0x4a,
	};
	struct chacha c;

	chacha_seed(&c, seed);
	for (int i = 0; i < n; i++)
		cases[i] = draw_case(&c);
}

/* A signal's name in lower case, or "0" for none. */
static const char *sig_slug(int sig)
{
	static char names[4][16];
	static int turn;
	char *out = names[turn++ % 4];
	if (!sig)
		return "0";
	snprintf(out, sizeof(names[0]), "%s", signame(sig));
	for (char *p = out; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	return out;
}

static const char *request_slug(struct request r)
{
	static char out[32];
	switch (r.what) {
	case CONT: snprintf(out, sizeof(out), "cont(%s)", sig_slug(r.sig)); break;
	case SYSCALL: snprintf(out, sizeof(out), "syscall(%s)", sig_slug(r.sig)); break;
	case DETACH_: snprintf(out, sizeof(out), "detach(%s)", sig_slug(r.sig)); break;
	case SETREGS_: return "setregs";
	case POKE_RIP: return "poke-rip";
	case POKE_ORIG_RAX: return "poke-orig-rax";
	case INTERRUPT: return "interrupt";
	case LISTEN: return "listen";
	case KILL_: snprintf(out, sizeof(out), "kill(%s)", sig_slug(r.sig)); break;
	}
	return out;
}

/* "kill-process/multi-thread [setregs, cont(0)]" */
static const char *case_name(const struct model_case *k)
{
	static char out[512];
	size_t o = 0;
	o = append_at(out, sizeof(out), o, k->kill == KILL_PROCESS ? "kill-process" : "kill-thread");
	o = append_at(out, sizeof(out), o, k->threads == MULTI ? "/multi-thread [" : "/single-thread [");
	for (int i = 0; i < k->n; i++) {
		if (i)
			o = append_at(out, sizeof(out), o, ", ");
		o = append_at(out, sizeof(out), o, request_slug(k->requests[i]));
	}
	append_at(out, sizeof(out), o, "]");
	return out;
}

/* ---------------------------------------------------------------------
 * Running a case.
 */

/* Make the request of stopped pid: its text (to the log) and whether it
 * resumed the task. */
static int apply_request(struct request r, pid_t pid, char *log, size_t size)
{
	struct user_regs_struct regs;
	int resumes = 0;
	long rc;

	switch (r.what) {
	case CONT:
		rc = ptrace(PTRACE_CONT, pid, 0, r.sig);
		resumes = 1;
		break;
	case SYSCALL:
		rc = ptrace(PTRACE_SYSCALL, pid, 0, r.sig);
		resumes = 1;
		break;
	case DETACH_:
		rc = ptrace(PTRACE_DETACH, pid, 0, r.sig);
		resumes = 1;
		break;
	case SETREGS_:
		rc = ptrace(PTRACE_GETREGS, pid, 0, &regs);
		if (rc == 0) {
			regs.rip = (unsigned long)escape_hatch;
			rc = ptrace(PTRACE_SETREGS, pid, 0, &regs);
		}
		break;
	case POKE_RIP:
		rc = ptrace(PTRACE_POKEUSER, pid, offsetof(struct user_regs_struct, rip),
			    (unsigned long)escape_hatch);
		break;
	case POKE_ORIG_RAX:
		rc = ptrace(PTRACE_POKEUSER, pid, offsetof(struct user_regs_struct, orig_rax),
			    __NR_getpid);
		break;
	case INTERRUPT:
		rc = ptrace(PTRACE_INTERRUPT, pid, 0, 0);
		break;
	case LISTEN:
		rc = ptrace(PTRACE_LISTEN, pid, 0, 0);
		resumes = 1;
		break;
	case KILL_:
	default:
		rc = kill(pid, r.sig);
		break;
	}
	log_add(log, size, ", ", "%s=%s", request_slug(r), result_name(rc));
	return resumes && rc == 0;
}

struct model_run {
	char log[2048];
	char end[64];
	char effects[1024];
	int sigkill_sent, applied;
};

/* Run the case in a fresh subject traced by us. */
static void run_case(const struct model_case *k, struct model_run *run)
{
	struct sandbox s = { k->kill, k->threads };
	pid_t leader, exiting[8];
	int nexiting = 0, next = 0, status;

	memset(run, 0, sizeof(*run));
	effects_pipe();
	leader = tracee_seize(TRACE_OPTIONS, sandboxed, &s);
	for (int i = 0; i < 64; i++) {
		pid_t pid = waitpid(-1, &status, __WALL);
		int known = 0, killed, resumed = 0;

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			instance_error("waitpid: %s", errno_name(errno));
		}
		if (is_final(status)) {
			if (pid == leader) {
				snprintf(run->end, sizeof(run->end), "%s", status_text(status));
				break;
			}
			continue;
		}
		for (int j = 0; j < nexiting; j++)
			known |= exiting[j] == pid;
		if (is_event(status, PTRACE_EVENT_EXIT) && !known && nexiting < 8) {
			exiting[nexiting++] = pid;
			known = 1;
		}
		/* The filter kills every thread (KILL_PROCESS), the only one,
		 * or the second thread that makes the call (KILL_THREAD). */
		killed = k->kill == KILL_PROCESS || k->threads == SINGLE || pid != leader;
		if (!(killed && known)) {
			ptrace(PTRACE_CONT, pid, 0, 0);
			continue;
		}
		log_add(run->log, sizeof(run->log), ", ", "%s %s",
			pid == leader ? "main" : "thread", status_text(status));
		while (next < k->n) {
			struct request r = k->requests[next++];
			run->applied++;
			run->sigkill_sent |= r.what == KILL_ && r.sig == SIGKILL;
			if (apply_request(r, pid, run->log, sizeof(run->log))) {
				resumed = 1;
				break;
			}
		}
		if (!resumed)
			log_add(run->log, sizeof(run->log), ", ", "cont=%s",
				result_name(ptrace(PTRACE_CONT, pid, 0, 0)));
	}
	if (!run->end[0])
		snprintf(run->end, sizeof(run->end), "no end within 64 stops");
	snprintf(run->effects, sizeof(run->effects), "%s", notes_summary(&effects));
	if (!strcmp(run->effects, "none"))
		run->effects[0] = 0;
	close(effects.rx);
	close(effects.tx);
}

/* NULL if the case went as it must: nothing ran after the killed
 * syscall, and the leader ended as the action says (killed by SIGSYS, or
 * exit 3 after joining when KILL_THREAD took only the second thread). A
 * tracer that sends SIGKILL may end the process with it instead: before
 * 6.1 a SIGKILL to a task dying alone became its status, and with
 * KILL_THREAD it kills the surviving leader. */
static const char *verdict(const struct model_case *k, const struct model_run *run)
{
	static char why[4096];
	char escaped[1024] = "", effects_list[1024] = "", copy[1024];
	int survivor = k->kill == KILL_THREAD && k->threads == MULTI;
	const char *expected = survivor ? "exit 3" : "killed SIGSYS";
	int sigkill_end = run->sigkill_sent && !strcmp(run->end, "killed SIGKILL");
	size_t eo = 0, lo = 0;

	/* The notes as Rust's Debug of a list of strings: ["a", "b"]. */
	snprintf(copy, sizeof(copy), "%s", run->effects);
	for (char *note = strtok(copy, ","); note; note = strtok(NULL, ",")) {
		char quoted[300];
		snprintf(quoted, sizeof(quoted), "\"%.256s\"", note);
		if (lo)
			lo = append_at(effects_list, sizeof(effects_list), lo, ", ");
		lo = append_at(effects_list, sizeof(effects_list), lo, quoted);
		if (!strncmp(note, "escaped", 7)) {
			if (eo)
				eo = append_at(escaped, sizeof(escaped), eo, ", ");
			eo = append_at(escaped, sizeof(escaped), eo, quoted);
		}
	}
	if (eo) {
		snprintf(why, sizeof(why), "ran again ([%s]): %s -> %s", escaped, run->log, run->end);
		return why;
	}
	if (strcmp(run->end, expected) && !sigkill_end) {
		snprintf(why, sizeof(why), "ended `%s`, not `%s`: %s -> %s", run->end, expected,
			 run->log, run->end);
		return why;
	}
	if (survivor && !sigkill_end && strcmp(run->effects, "main-after-join")) {
		snprintf(why, sizeof(why), "effects [%s]: %s -> %s", effects_list, run->log,
			 run->end);
		return why;
	}
	return NULL;
}

static void run_instance(const char *params)
{
	struct model_case cases[CASES];
	struct model_run run;
	char first[4096 + 600] = "";
	int bad = 0, applied = 0;

	(void)params;
	fixed_cases(cases, CASES);
	for (int i = 0; i < CASES; i++) {
		const char *why;
		run_case(&cases[i], &run);
		applied += run.applied;
		why = verdict(&cases[i], &run);
		fprintf(stderr, "case %s: %s -> %s; effects=%s%s%s\n", case_name(&cases[i]),
			run.log, run.end, run.effects[0] ? run.effects : "none",
			why ? "; WRONG: " : "", why ? why : "");
		if (why && !bad++)
			snprintf(first, sizeof(first), "; first: %s -> %s", case_name(&cases[i]), why);
	}
	fprintf(stderr, "requests-applied: %d\n", applied);
	observe("cases=%d revived-or-wrong-end=%d%s", CASES, bad, first);
}
