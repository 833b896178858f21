/*
 * Random stacks of one to five filters on the probe, each run in a fresh
 * subject, against a model of seccomp_run_filters() (kernel/seccomp.c):
 * the newest filter with the lowest action (as s32) wins; no filter below
 * ALLOW means the call runs; an unknown action that wins kills the
 * process (4d671d922d51); ERRNO data is capped at MAX_ERRNO and 0 returns
 * 0; USER_NOTIF reaches a listener only if the winning filter has one
 * (else ENOSYS).
 *
 * The stacks are the first CASES values of the Rust scenario's proptest
 * strategy (suites/src/models/precedence.rs, model::stacks) from
 * proptest's fixed ChaCha seed, so both run the same twelve stacks. That
 * needs proptest 1.12's draws done the same way here: a ChaCha20 key
 * stream (chacha20 0.10's ChaCha20Rng: 64-bit block counter, zero nonce),
 * rand 0.10's Lemire sampling for ranges, and proptest's union and
 * lazy-tree choices (an option a union did not pick, below the pick,
 * forks an RNG: 32 words).
 */

#define CASES 12
#define MAX_LAYERS 5

/* ---------------------------------------------------------------------
 * ChaCha20, as a stream of little-endian 32-bit words.
 */

struct chacha {
	uint32_t key[8];
	uint64_t counter;
	uint32_t block[16];
	int used;
};

#define ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QR(a, b, c, d) (a += b, d ^= a, d = ROTL(d, 16), c += d, b ^= c, b = ROTL(b, 12), \
			a += b, d ^= a, d = ROTL(d, 8), c += d, b ^= c, b = ROTL(b, 7))

static void chacha_seed(struct chacha *c, const uint8_t seed[32])
{
	for (int i = 0; i < 8; i++)
		c->key[i] = seed[4 * i] | seed[4 * i + 1] << 8 | seed[4 * i + 2] << 16 |
			    (uint32_t)seed[4 * i + 3] << 24;
	c->counter = 0;
	c->used = 16;
}

static void chacha_block(struct chacha *c)
{
	uint32_t in[16] = { 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574 }, x[16];
	memcpy(in + 4, c->key, sizeof(c->key));
	in[12] = (uint32_t)c->counter;
	in[13] = (uint32_t)(c->counter >> 32);
	in[14] = in[15] = 0;
	memcpy(x, in, sizeof(x));
	for (int i = 0; i < 10; i++) {
		QR(x[0], x[4], x[8], x[12]); QR(x[1], x[5], x[9], x[13]);
		QR(x[2], x[6], x[10], x[14]); QR(x[3], x[7], x[11], x[15]);
		QR(x[0], x[5], x[10], x[15]); QR(x[1], x[6], x[11], x[12]);
		QR(x[2], x[7], x[8], x[13]); QR(x[3], x[4], x[9], x[14]);
	}
	for (int i = 0; i < 16; i++)
		c->block[i] = x[i] + in[i];
	c->counter++;
	c->used = 0;
}

static uint32_t next_u32(struct chacha *c)
{
	if (c->used == 16)
		chacha_block(c);
	return c->block[c->used++];
}

static uint64_t next_u64(struct chacha *c)
{
	uint64_t lo = next_u32(c);
	return lo | (uint64_t)next_u32(c) << 32;
}

/* ---------------------------------------------------------------------
 * rand 0.10's uniform ranges (Lemire's method), and proptest's draws.
 */

/* [0, range) from 32-bit draws (UniformInt<u32>, UniformUsize). */
static uint32_t below_u32(struct chacha *c, uint32_t range)
{
	uint32_t thresh = (0u - range) % range;
	for (;;) {
		uint64_t m = (uint64_t)next_u32(c) * range;
		if ((uint32_t)m >= thresh)
			return m >> 32;
	}
}

/* [0, range) from 64-bit draws (UniformInt<u64>: proptest's usize
 * ranges and union picks). */
static uint64_t below_u64(struct chacha *c, uint64_t range)
{
	uint64_t thresh = (0 - range) % range;
	for (;;) {
		unsigned __int128 m = (unsigned __int128)next_u64(c) * range;
		if ((uint64_t)m >= thresh)
			return m >> 64;
	}
}

/* TestRunner::partial_clone() (a LazyValueTree left unpicked): a new
 * ChaCha seed of 32 bytes, one u32 draw each. */
static void fork_rng(struct chacha *c)
{
	for (int i = 0; i < 32; i++)
		next_u32(c);
}

/* prop_oneof![w0 => .., w1 => .., ...]: which option; the unpicked ones
 * below it fork an RNG each, in order, around the picked one's draw. */
static int pick_weighted(struct chacha *c, const uint32_t *w, int n)
{
	uint64_t sum = 0, acc = 0, pick;
	int count = 0;
	for (int i = 0; i < n; i++)
		sum += w[i];
	pick = below_u64(c, sum);
	for (int i = 0; i < n; i++) {
		acc += w[i];
		if (acc <= pick)
			count++;
	}
	return count;
}

static const uint32_t ACTIONS[10] = {
	SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP,
	SECCOMP_RET_ERRNO, SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE,
	SECCOMP_RET_LOG, SECCOMP_RET_ALLOW, 0x00010000, 0x7ffe0000,
};

/* One layer: select(ACTIONS) and data from prop_oneof![3 => 0..8,
 * 1 => 4090..4100, 1 => any::<u16>()]. */
static struct layer draw_layer(struct chacha *c)
{
	static const uint32_t weights[3] = { 3, 1, 1 };
	uint32_t action = ACTIONS[below_u64(c, 10)], data;
	int pick = pick_weighted(c, weights, 3);

	if (pick == 0) {
		data = below_u32(c, 8);
	} else if (pick == 1) {
		fork_rng(c);
		data = 4090 + below_u32(c, 10);
	} else {
		fork_rng(c);
		fork_rng(c);
		data = (uint16_t)next_u32(c);
	}
	return (struct layer){ action | data, 0 };
}

/* One stack: vec(layer, 1..=MAX_LAYERS), then option::of(0..MAX_LAYERS)
 * naming the layer (modulo the length) that gets the listener. */
static int draw_stack(struct chacha *c, struct layer *layers)
{
	static const uint32_t weights[2] = { 0x40000000, 0x40000000 }; /* None, Some */
	int n = 1 + below_u32(c, MAX_LAYERS);

	for (int i = 0; i < n; i++)
		layers[i] = draw_layer(c);
	if (pick_weighted(c, weights, 2) == 1) {
		fork_rng(c);
		layers[below_u64(c, MAX_LAYERS) % n].listener = 1;
	}
	return n;
}

/* proptest's TestRng::deterministic_rng(RngAlgorithm::ChaCha) seed. */
static const uint8_t SEED_FOR_CHA_CHA[32] = {
	0xf4, 0x16, 0x16, 0x48, 0xc3, 0xac, 0x77, 0xac, 0x72, 0x20, 0x0b, 0xea,
	0x99, 0x67, 0x2d, 0x6d, 0xca, 0x9f, 0x76, 0xaf, 0x1b, 0x09, 0x73, 0xa0,
	0x59, 0x22, 0x6d, 0xc5, 0x46, 0x39, 0x1c, 0x4a,
};

/* ---------------------------------------------------------------------
 * The model (models/precedence.rs, stack::predict).
 */

static void predict(const struct layer *l, int n, char *out, size_t size)
{
	const struct layer *best = NULL;
	uint32_t data;
	char e[48];

	for (int i = n - 1; i >= 0; i--)
		if ((int32_t)(l[i].ret & SECCOMP_RET_ACTION_FULL) <
		    (int32_t)(best ? best->ret & SECCOMP_RET_ACTION_FULL : SECCOMP_RET_ALLOW))
			best = &l[i];
	if (!best) {
		snprintf(out, size, "ran");
		return;
	}
	data = best->ret & SECCOMP_RET_DATA;
	switch (best->ret & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_KILL_THREAD:
		snprintf(out, size, "kill-thread");
		break;
	case SECCOMP_RET_TRAP:
		snprintf(out, size, "trap data=0x%x", data);
		break;
	case SECCOMP_RET_ERRNO:
		if (data == 0) {
			snprintf(out, size, "ret=0");
		} else {
			errno_effect(data > 4095 ? 4095 : data, e, sizeof(e));
			snprintf(out, size, "%s", e);
		}
		break;
	case SECCOMP_RET_USER_NOTIF:
		if (best->listener)
			snprintf(out, size, "notified");
		else
			errno_effect(ENOSYS, out, size);
		break;
	case SECCOMP_RET_TRACE:
		snprintf(out, size, "trace data=0x%x", data);
		break;
	case SECCOMP_RET_LOG:
		snprintf(out, size, "ran");
		break;
	default:
		snprintf(out, size, "kill-process");
	}
}

static void run_instance(const char *params)
{
	struct chacha rng;
	struct layer cases[CASES][MAX_LAYERS];
	int lens[CASES], agree = 0;
	char first[2600] = "";

	(void)params;
	chacha_seed(&rng, SEED_FOR_CHA_CHA);
	for (int i = 0; i < CASES; i++)
		lens[i] = draw_stack(&rng, cases[i]);
	for (int i = 0; i < CASES; i++) {
		char got[1024], want[1024], stack[256];
		run_stack(cases[i], lens[i], got, sizeof(got));
		predict(cases[i], lens[i], want, sizeof(want));
		if (!strcmp(got, want)) {
			agree++;
		} else if (!first[0]) {
			describe_stack(cases[i], lens[i], stack, sizeof(stack));
			snprintf(first, sizeof(first), " first=#%d:%s: kernel=%s model=%s", i, stack,
				 got, want);
		}
	}
	observe("cases=%d agree=%d%s", CASES, agree, first);
}
