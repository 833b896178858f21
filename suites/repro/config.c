/*
 * The kernel's config, as kconform reads it: /proc/config.gz (a kernel
 * built with IKCONFIG_PROC), else /boot/config-RELEASE; where neither is
 * readable the option is not checked. A small inflater (RFC 1951, the way
 * zlib's contrib/puff does it) reads the first, as the reproducer may use
 * libc only. Included for instances that need a config option.
 */

struct inflate {
	const uint8_t *in; size_t inlen, inpos;
	uint8_t *out; size_t outlen, outpos;
	uint32_t bitbuf; int bitcnt, err;
};

struct huffman { short count[16]; short symbol[320]; };

static int inf_bits(struct inflate *s, int need)
{
	uint32_t val = s->bitbuf;
	while (s->bitcnt < need) {
		if (s->inpos >= s->inlen) {
			s->err = 1;
			return 0;
		}
		val |= (uint32_t)s->in[s->inpos++] << s->bitcnt;
		s->bitcnt += 8;
	}
	s->bitbuf = val >> need;
	s->bitcnt -= need;
	return val & ((1U << need) - 1);
}

static void inf_put(struct inflate *s, uint8_t b)
{
	if (s->outpos >= s->outlen)
		s->err = 1;
	else
		s->out[s->outpos++] = b;
}

static int inf_stored(struct inflate *s)
{
	unsigned len;
	s->bitbuf = 0;
	s->bitcnt = 0;
	if (s->inpos + 4 > s->inlen)
		return -1;
	len = s->in[s->inpos] | s->in[s->inpos + 1] << 8;
	s->inpos += 4;
	if (s->inpos + len > s->inlen)
		return -1;
	while (len--)
		inf_put(s, s->in[s->inpos++]);
	return 0;
}

static int inf_decode(struct inflate *s, const struct huffman *h)
{
	int code = 0, first = 0, index = 0;
	for (int len = 1; len < 16; len++) {
		code |= inf_bits(s, 1);
		int count = h->count[len];
		if (code - count < first)
			return h->symbol[index + (code - first)];
		index += count;
		first += count;
		first <<= 1;
		code <<= 1;
	}
	return -1;
}

static void inf_construct(struct huffman *h, const short *length, int n)
{
	short offs[16];
	memset(h->count, 0, sizeof(h->count));
	for (int sym = 0; sym < n; sym++)
		h->count[length[sym]]++;
	offs[1] = 0;
	for (int len = 1; len < 15; len++)
		offs[len + 1] = offs[len] + h->count[len];
	for (int sym = 0; sym < n; sym++)
		if (length[sym])
			h->symbol[offs[length[sym]]++] = sym;
}

static int inf_codes(struct inflate *s, const struct huffman *lencode, const struct huffman *distcode)
{
	static const short lbase[29] = { 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
					 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258 };
	static const short lext[29] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
					3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0 };
	static const short dbase[30] = { 1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
					 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
					 8193, 12289, 16385, 24577 };
	static const short dext[30] = { 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
					7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13 };
	for (;;) {
		int sym = inf_decode(s, lencode);
		if (sym < 0 || s->err)
			return -1;
		if (sym < 256) {
			inf_put(s, sym);
		} else if (sym == 256) {
			return 0;
		} else {
			sym -= 257;
			if (sym >= 29)
				return -1;
			int len = lbase[sym] + inf_bits(s, lext[sym]);
			int dsym = inf_decode(s, distcode);
			if (dsym < 0 || dsym >= 30)
				return -1;
			size_t dist = dbase[dsym] + inf_bits(s, dext[dsym]);
			if (dist > s->outpos)
				return -1;
			while (len--)
				inf_put(s, s->outpos >= dist ? s->out[s->outpos - dist] : 0);
		}
		if (s->err)
			return -1;
	}
}

static int inf_fixed(struct inflate *s)
{
	static struct huffman lencode, distcode;
	short lengths[288];
	int sym;
	for (sym = 0; sym < 144; sym++) lengths[sym] = 8;
	for (; sym < 256; sym++) lengths[sym] = 9;
	for (; sym < 280; sym++) lengths[sym] = 7;
	for (; sym < 288; sym++) lengths[sym] = 8;
	inf_construct(&lencode, lengths, 288);
	for (sym = 0; sym < 30; sym++) lengths[sym] = 5;
	inf_construct(&distcode, lengths, 30);
	return inf_codes(s, &lencode, &distcode);
}

static int inf_dynamic(struct inflate *s)
{
	static const short order[19] = { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15 };
	static struct huffman lencode, distcode;
	short lengths[320];
	int nlen = inf_bits(s, 5) + 257, ndist = inf_bits(s, 5) + 1, ncode = inf_bits(s, 4) + 4;
	int index;

	if (nlen > 286 || ndist > 30)
		return -1;
	for (index = 0; index < ncode; index++)
		lengths[order[index]] = inf_bits(s, 3);
	for (; index < 19; index++)
		lengths[order[index]] = 0;
	inf_construct(&lencode, lengths, 19);
	index = 0;
	while (index < nlen + ndist) {
		int sym = inf_decode(s, &lencode), len = 0, rep;
		if (sym < 0 || s->err)
			return -1;
		if (sym < 16) {
			lengths[index++] = sym;
			continue;
		}
		if (sym == 16) {
			if (index == 0)
				return -1;
			len = lengths[index - 1];
			rep = 3 + inf_bits(s, 2);
		} else if (sym == 17) {
			rep = 3 + inf_bits(s, 3);
		} else {
			rep = 11 + inf_bits(s, 7);
		}
		if (index + rep > nlen + ndist)
			return -1;
		while (rep--)
			lengths[index++] = len;
	}
	inf_construct(&lencode, lengths, nlen);
	inf_construct(&distcode, lengths + nlen, ndist);
	return inf_codes(s, &lencode, &distcode);
}

/* gunzip in (one member) into out; the length, or -1. */
static long gunzip(const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
	struct inflate s = { .in = in, .inlen = inlen, .inpos = 10, .out = out, .outlen = outlen };
	int last, flags;

	if (inlen < 18 || in[0] != 0x1f || in[1] != 0x8b || in[2] != 8)
		return -1;
	flags = in[3];
	if (flags & 4)
		s.inpos += 2 + (in[10] | in[11] << 8);
	if (flags & 8)
		while (s.inpos < inlen && in[s.inpos++])
			;
	if (flags & 16)
		while (s.inpos < inlen && in[s.inpos++])
			;
	if (flags & 2)
		s.inpos += 2;
	do {
		int type, rc;
		last = inf_bits(&s, 1);
		type = inf_bits(&s, 2);
		if (s.err)
			return -1;
		rc = type == 0 ? inf_stored(&s) : type == 1 ? inf_fixed(&s) :
		     type == 2 ? inf_dynamic(&s) : -1;
		if (rc < 0 || s.err)
			return -1;
	} while (!last);
	return s.outpos;
}

/* The running kernel's config as text (static), or NULL. */
static const char *running_config(char *where, size_t wlen)
{
	static uint8_t gz[1 << 20];
	static char text[8 << 20];
	size_t len = 0;
	ssize_t n;
	long tlen;
	struct utsname u;
	int fd = open("/proc/config.gz", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		while (len < sizeof(gz) && (n = read(fd, gz + len, sizeof(gz) - len)) > 0)
			len += n;
		close(fd);
		tlen = gunzip(gz, len, (uint8_t *)text, sizeof(text) - 1);
		if (tlen >= 0) {
			text[tlen] = 0;
			snprintf(where, wlen, "/proc/config.gz");
			return text;
		}
	}
	uname(&u);
	snprintf(where, wlen, "/boot/config-%s", u.release);
	fd = open(where, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	len = 0;
	while (len < sizeof(text) - 1 && (n = read(fd, text + len, sizeof(text) - 1 - len)) > 0)
		len += n;
	close(fd);
	text[len] = 0;
	return text;
}

/* Skip unless the running kernel's config (where it is readable) sets
 * option to y or m. */
static UNUSED void need_config(const char *option)
{
	char where[300];
	const char *config = running_config(where, sizeof(where));
	size_t olen = strlen(option);

	if (!config)
		return;
	for (const char *line = config; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (!strncmp(line, option, olen) && line[olen] == '=' &&
		    (line[olen + 1] == 'y' || line[olen + 1] == 'm'))
			return;
	skip_lacks("kernel config lacks %s (%s)", option, where);
}
