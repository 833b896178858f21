/*
 * TSYNC on random thread/filter trees agrees with a model of filter
 * ancestry (suites/src/models/tsync.rs).
 *
 * The model: filters form a tree (each points at the filter it was
 * installed on), a thread runs the path from its newest filter to the
 * root. TSYNC by t succeeds iff every other thread's newest filter is an
 * ancestor of (or equal to) t's, none counting as the root; then every
 * thread's newest filter is the new one, stacked on t's. Otherwise
 * nothing changes and the answer names one of the threads that failed
 * the test, or is ESRCH with TSYNC_ESRCH (kernel/seccomp.c:
 * seccomp_can_sync_threads, seccomp_sync_threads).
 *
 * The cases are the first CASES values of kconform's proptest strategy
 * from proptest's fixed ChaCha seed; the generator below draws from the
 * same ChaCha20 keystream in the same order as proptest 1.12 / rand 0.10
 * do, so it yields the same operation sequences. Each case runs in a
 * fresh subject process: one thread per model thread, each filter tagged
 * with its step's id (its index plus one).
 */

#define CASES 12
#define MAX_THREADS 6
#define MAX_OPS 16

/* ---------------------------------------------------------------------
 * ChaCha20 (64-bit block counter, zero stream id), as chacha20's
 * ChaCha20Rng: u32 words in keystream order; a u64 is two words, low
 * first.
 */

struct chacha { uint32_t key[8]; uint64_t counter; uint32_t block[16]; int used; };

#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define QR(a, b, c, d) (a += b, d ^= a, d = ROTL(d, 16), c += d, b ^= c, b = ROTL(b, 12), \
			a += b, d ^= a, d = ROTL(d, 8), c += d, b ^= c, b = ROTL(b, 7))

static void chacha_next_block(struct chacha *c)
{
	uint32_t s[16] = { 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574 }, x[16];
	memcpy(s + 4, c->key, sizeof(c->key));
	s[12] = (uint32_t)c->counter;
	s[13] = (uint32_t)(c->counter >> 32);
	memcpy(x, s, sizeof(s));
	for (int i = 0; i < 10; i++) {
		QR(x[0], x[4], x[8], x[12]);
		QR(x[1], x[5], x[9], x[13]);
		QR(x[2], x[6], x[10], x[14]);
		QR(x[3], x[7], x[11], x[15]);
		QR(x[0], x[5], x[10], x[15]);
		QR(x[1], x[6], x[11], x[12]);
		QR(x[2], x[7], x[8], x[13]);
		QR(x[3], x[4], x[9], x[14]);
	}
	for (int i = 0; i < 16; i++)
		c->block[i] = x[i] + s[i];
	c->counter++;
	c->used = 0;
}

static uint32_t next_u32(struct chacha *c)
{
	if (c->used == 16)
		chacha_next_block(c);
	return c->block[c->used++];
}

static uint64_t next_u64(struct chacha *c)
{
	uint64_t lo = next_u32(c);
	return lo | (uint64_t)next_u32(c) << 32;
}

/* TestRng::deterministic_rng(RngAlgorithm::ChaCha): proptest's fixed seed. */
static struct chacha deterministic_rng(void)
{
	static const uint8_t seed[32] = {
		0xf4, 0x16, 0x16, 0x48, 0xc3, 0xac, 0x77, 0xac, 0x72, 0x20, 0x0b, 0xea,
		0x99, 0x67, 0x2d, 0x6d, 0xca, 0x9f, 0x76, 0xaf, 0x1b, 0x09, 0x73, 0xa0,
		0x59, 0x22, 0x6d, 0xc5, 0x46, 0x39, 0x1c, 0x4a,
	};
	struct chacha c = { .used = 16 };
	for (int i = 0; i < 8; i++)
		c.key[i] = seed[4 * i] | seed[4 * i + 1] << 8 | seed[4 * i + 2] << 16 |
			   (uint32_t)seed[4 * i + 3] << 24;
	return c;
}

/* rand's Uniform<u64> over [0, n) (Lemire's method, unbiased): what a
 * Range<usize> strategy and proptest's weighted pick sample. */
static uint64_t u64_below(struct chacha *c, uint64_t n)
{
	uint64_t thresh = (0 - n) % n;
	for (;;) {
		unsigned __int128 m = (unsigned __int128)next_u64(c) * n;
		if ((uint64_t)m >= thresh)
			return (uint64_t)(m >> 64);
	}
}

/* rand's UniformUsize over [lo, hi] for a small hi (sampled as u32):
 * what a vec strategy's size is. */
static unsigned usize_incl(struct chacha *c, unsigned lo, unsigned hi)
{
	uint32_t range = hi - lo + 1, thresh = (0 - range) % range;
	for (;;) {
		uint64_t m = (uint64_t)next_u32(c) * range;
		if ((uint32_t)m >= thresh)
			return lo + (uint32_t)(m >> 32);
	}
}

/* any::<bool>(): the sign bit of a u32. */
static int any_bool(struct chacha *c)
{
	return (int32_t)next_u32(c) < 0;
}

/* A union option before the pick is a LazyValueTree, which forks an RNG:
 * a ChaCha seed of 32 u8s, each drawn as a u32. */
static void skip_lazy_option(struct chacha *c)
{
	for (int i = 0; i < 32; i++)
		next_u32(c);
}

/* ---------------------------------------------------------------------
 * The operations and the strategy that generates them.
 */

enum kind { SPAWN, INSTALL, TSYNC };
struct op { enum kind kind; unsigned by; int esrch; };
struct ops { int n; struct op op[MAX_OPS]; };

/* prop_oneof![3 => Spawn, 3 => Install, 2 => Tsync] over 0..MAX_THREADS. */
static struct op any_op(struct chacha *c)
{
	uint64_t pick = u64_below(c, 8);
	int option = (pick >= 3) + (pick >= 6);
	struct op o = { .kind = option };

	for (int i = 0; i < option; i++)
		skip_lazy_option(c);
	o.by = u64_below(c, MAX_THREADS);
	if (option == TSYNC)
		o.esrch = any_bool(c);
	return o;
}

/* (vec(spawn, 1..4), vec(op, 0..10), 0..MAX_THREADS, any::<bool>()):
 * a few spawns, then anything, always ending with a TSYNC. */
static struct ops new_case(struct chacha *c)
{
	struct ops o = { 0 };
	unsigned n = usize_incl(c, 1, 3);
	for (unsigned i = 0; i < n; i++)
		o.op[o.n++] = (struct op){ SPAWN, u64_below(c, MAX_THREADS), 0 };
	n = usize_incl(c, 0, 9);
	for (unsigned i = 0; i < n; i++)
		o.op[o.n++] = any_op(c);
	o.op[o.n].kind = TSYNC;
	o.op[o.n].by = u64_below(c, MAX_THREADS);
	o.op[o.n].esrch = any_bool(c);
	o.n++;
	return o;
}

/* Resolve thread numbers against the threads alive at each point
 * (modulo their number); spawns past MAX_THREADS are dropped. */
static struct ops resolve(const struct ops *ops)
{
	struct ops steps = { 0 };
	unsigned threads = 1;
	for (int i = 0; i < ops->n; i++) {
		struct op o = ops->op[i];
		if (o.kind == SPAWN && threads >= MAX_THREADS)
			continue;
		o.by %= threads;
		if (o.kind == SPAWN)
			threads++;
		steps.op[steps.n++] = o;
	}
	return steps;
}

/* Steps as compact text: s0 spawn by main, i2 install by sibling-2, t1
 * TSYNC by sibling-1, T1 the same with TSYNC_ESRCH. */
static void describe(const struct ops *s, char *out, size_t size)
{
	size_t n = 0;
	out[0] = 0;
	for (int i = 0; i < s->n; i++)
		n += snprintf(out + n, size - n, "%s%c%u", i ? "," : "",
			      s->op[i].kind == SPAWN ? 's' : s->op[i].kind == INSTALL ? 'i'
			      : s->op[i].esrch ? 'T' : 't', s->op[i].by);
}

/* ---------------------------------------------------------------------
 * The model's prediction.
 */

struct expect { int kind; /* 0 synced, 1 refused, 2 ESRCH */ int by[MAX_THREADS], n; };
struct prediction { int tsyncs; struct expect e[MAX_OPS]; int threads; unsigned newest[MAX_THREADS]; };

static int is_ancestor(const unsigned *parent, unsigned a, unsigned of)
{
	if (!a)
		return 1;
	for (; of; of = parent[of])
		if (of == a)
			return 1;
	return 0;
}

static struct prediction predict(const struct ops *steps)
{
	struct prediction p = { .threads = 1 };
	unsigned parent[MAX_OPS + 1] = { 0 };

	for (int k = 0; k < steps->n; k++) {
		unsigned id = k + 1, by = steps->op[k].by;
		struct expect *e;
		switch (steps->op[k].kind) {
		case SPAWN:
			p.newest[p.threads++] = p.newest[by];
			break;
		case INSTALL:
			parent[id] = p.newest[by];
			p.newest[by] = id;
			break;
		case TSYNC:
			e = &p.e[p.tsyncs++];
			memset(e, 0, sizeof(*e));
			for (int u = 0; u < p.threads; u++)
				if (u != (int)by && !is_ancestor(parent, p.newest[u], p.newest[by]))
					e->by[e->n++] = u;
			if (!e->n) {
				parent[id] = p.newest[by];
				for (int u = 0; u < p.threads; u++)
					p.newest[u] = id;
			} else {
				e->kind = steps->op[k].esrch ? 2 : 1;
			}
			break;
		}
	}
	return p;
}

/* ---------------------------------------------------------------------
 * The kernel's side: the steps put to a crew in a fresh subject, which
 * reports "answers newest", e.g. "ok,t2 3,3,3".
 */

static void run_case_in_subject(const struct ops *steps, int tx)
{
	struct crew crew = crew_of_this_thread();
	char text[512], one[32];
	size_t n = 0;
	int answers = 0;

	text[0] = 0;
	for (int k = 0; k < steps->n; k++) {
		const struct op *s = &steps->op[k];
		long ret;
		if (s->kind == SPAWN) {
			crew_spawn_from(&crew, s->by);
		} else if (s->kind == INSTALL) {
			crew_install(&crew, s->by, k + 1);
		} else {
			ret = crew_tsync(&crew, s->by, k + 1,
					 s->esrch ? SECCOMP_FILTER_FLAG_TSYNC_ESRCH : 0);
			n += snprintf(text + n, sizeof(text) - n, "%s", answers++ ? "," : "");
			if (ret == 0)
				n += snprintf(text + n, sizeof(text) - n, "ok");
			else if (ret > 0 && crew_index_of(&crew, ret) >= 0)
				n += snprintf(text + n, sizeof(text) - n, "t%d", crew_index_of(&crew, ret));
			else if (ret > 0)
				n += snprintf(text + n, sizeof(text) - n, "xunknown-tid");
			else
				n += snprintf(text + n, sizeof(text) - n, "x%s", errno_name(-ret));
		}
	}
	n += snprintf(text + n, sizeof(text) - n, " ");
	for (int i = 0; i < crew.n; i++) {
		crew_on(&crew, i, probe_job, one);
		n += snprintf(text + n, sizeof(text) - n, "%s%s", i ? "," : "", one);
	}
	if (write(tx, text, n) < 0)
		_exit(SUBJECT_EXIT);
}

struct kernel_run { int answers; char answer[MAX_OPS][32]; int threads; unsigned newest[MAX_THREADS + 2]; };

static struct kernel_run run_on_kernel(const struct ops *steps)
{
	struct kernel_run run = { 0 };
	char text[512], *sp, *tok, *save;
	int fds[2];
	pid_t pid;

	SETUP(pipe2(fds, O_CLOEXEC));
	pid = SETUP(fork());
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		run_case_in_subject(steps, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	read_all(fds[0], text, sizeof(text));
	close(fds[0]);
	if (strcmp(wait_exit(pid), "exit 0") || !(sp = strchr(text, ' '))) {
		instance_error("a case's subject ended before it reported");
	}
	*sp = 0;
	for (tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		snprintf(run.answer[run.answers++], 32, "%s", tok);
	for (tok = strtok_r(sp + 1, ",", &save); tok && run.threads < MAX_THREADS + 2;
	     tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v = strtoul(tok, &end, 10);
		run.newest[run.threads++] = (*end || end == tok || *tok == '-') ? UINT32_MAX : v;
	}
	return run;
}

/* ---------------------------------------------------------------------
 * Kernel against model.
 */

/* One kernel answer in the model's words: ok, refused(i), ESRCH, other. */
static const char *answer_text(const char *a, char *buf, size_t size)
{
	if (!strcmp(a, "ok"))
		return "ok";
	if (!strcmp(a, "xESRCH"))
		return "ESRCH";
	if (a[0] == 't' && a[1] >= '0' && a[1] <= '9') {
		snprintf(buf, size, "refused(%s)", a + 1);
		return buf;
	}
	return a[0] == 'x' ? a + 1 : a;
}

static int answer_agrees(const char *a, const struct expect *e)
{
	if (!strcmp(a, "ok"))
		return e->kind == 0;
	if (!strcmp(a, "xESRCH"))
		return e->kind == 2;
	if (a[0] == 't' && a[1] >= '0' && a[1] <= '9' && e->kind == 1) {
		for (int i = 0; i < e->n; i++)
			if (e->by[i] == atoi(a + 1))
				return 1;
	}
	return 0;
}

/* NULL when the kernel's run agrees with the model, otherwise what
 * differs: "s0,i1,t0: kernel=[ok] [2,2] model=[refused(1)] [0,1]". */
static const char *disagreement(const struct ops *steps, const struct kernel_run *run)
{
	static char why[1024];
	struct prediction want = predict(steps);
	int agree = run->answers == want.tsyncs && run->threads == want.threads;
	char buf[32];
	size_t n;

	for (int i = 0; agree && i < want.tsyncs; i++)
		agree = answer_agrees(run->answer[i], &want.e[i]);
	for (int i = 0; agree && i < want.threads; i++)
		agree = run->newest[i] == want.newest[i];
	if (agree)
		return NULL;
	describe(steps, why, sizeof(why));
	n = strlen(why);
	n += snprintf(why + n, sizeof(why) - n, ": kernel=[");
	for (int i = 0; i < run->answers; i++)
		n += snprintf(why + n, sizeof(why) - n, "%s%s", i ? "," : "",
			      answer_text(run->answer[i], buf, sizeof(buf)));
	n += snprintf(why + n, sizeof(why) - n, "] [");
	for (int i = 0; i < run->threads; i++)
		n += snprintf(why + n, sizeof(why) - n, "%s%u", i ? "," : "", run->newest[i]);
	n += snprintf(why + n, sizeof(why) - n, "] model=[");
	for (int i = 0; i < want.tsyncs; i++) {
		const struct expect *e = &want.e[i];
		n += snprintf(why + n, sizeof(why) - n, "%s", i ? "," : "");
		if (e->kind == 0)
			n += snprintf(why + n, sizeof(why) - n, "ok");
		else if (e->kind == 2)
			n += snprintf(why + n, sizeof(why) - n, "ESRCH");
		else {
			n += snprintf(why + n, sizeof(why) - n, "refused(");
			for (int j = 0; j < e->n; j++)
				n += snprintf(why + n, sizeof(why) - n, "%s%d", j ? "|" : "", e->by[j]);
			n += snprintf(why + n, sizeof(why) - n, ")");
		}
	}
	n += snprintf(why + n, sizeof(why) - n, "] [");
	for (int i = 0; i < want.threads; i++)
		n += snprintf(why + n, sizeof(why) - n, "%s%u", i ? "," : "", want.newest[i]);
	snprintf(why + n, sizeof(why) - n, "]");
	return why;
}

static void run_instance(const char *params)
{
	struct chacha rng = deterministic_rng();
	char first[1100] = "";
	int agree = 0, synced = 0, refused = 0;

	(void)params;
	for (int i = 0; i < CASES; i++) {
		struct ops ops = new_case(&rng), steps = resolve(&ops);
		struct kernel_run run = run_on_kernel(&steps);
		const char *why = disagreement(&steps, &run);

		for (int a = 0; a < run.answers; a++)
			strcmp(run.answer[a], "ok") ? refused++ : synced++;
		if (!why)
			agree++;
		else if (!*first)
			snprintf(first, sizeof(first), " first=#%d:%s", i, why);
	}
	/* Kconform reports these as details: tsyncs-synced, tsyncs-refused. */
	printf("# tsyncs-synced=%d tsyncs-refused=%d\n", synced, refused);
	observe("cases=%d agree=%d%s", CASES, agree, first);
}
