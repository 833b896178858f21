/*
 * /proc/PID/pagemap shows physical frame numbers only to a reader that
 * opened it with CAP_SYS_ADMIN; others read the entry of a present page
 * with the PFN bits (0-54) zero (ab676b7d6fbf, v4.0, CVE-2016-0823;
 * PFNs hidden rather than the open refused since v4.2).
 */

static void read_own_entry(void *arg)
{
	unsigned char *page = malloc(3 * 4096);
	unsigned long addr;
	uint64_t entry;
	ssize_t n;
	int fd;

	(void)arg;
	if (!page)
		setup_failed("malloc");
	/* A page inside the buffer, touched so it is present. */
	addr = ((unsigned long)page + 4095) & ~4095UL;
	*(volatile unsigned char *)addr = 1;
	/* 4.0 and 4.1 refused the open to all but CAP_SYS_ADMIN. */
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		observe("open=%s", errno_name(errno));
		return;
	}
	n = pread(fd, &entry, 8, (addr / 4096) * 8);
	if (n < 0)
		instance_error("pread(/proc/self/pagemap): %s", errno_name(errno));
	if (n != 8)
		instance_error("pagemap: short read (%zd)", n);
	close(fd);
	observe("present=%llu pfn=%s", (unsigned long long)(entry >> 63),
		(entry & ((1ULL << 55) - 1)) ? "nonzero" : "zero");
	free(page);
}

static void run_instance(const char *params)
{
	as_uid(!strcmp(params, "root") ? 0 : NOBODY, read_own_entry, NULL);
}
