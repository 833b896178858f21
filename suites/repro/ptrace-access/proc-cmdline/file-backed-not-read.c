/*
 * A (root) target maps a file and points its argument (or environment)
 * area at it with PR_SET_MM; /proc/PID/cmdline (environ) then reads as
 * nothing: the kernel reads those strings only from anonymous memory
 * (FOLL_ANON), so a reader never blocks on, or reads, a file the target
 * chose (7f7ccc2ccc2e, v4.17, CVE-2018-1120).
 */

/* What the file mapped over the strings holds (NUL-terminated). */
static const char file_text[] = "kconform-file-backed";

struct strings {
	const char *file;
	int cmdline;
};

static const char *map_file_over_strings(void *arg, char *note, size_t len)
{
	const struct strings *s = arg;
	int fd = SETUP(open(s->file, O_RDONLY | O_CLOEXEC));	/* kept open */
	void *addr = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	unsigned long start, end;

	if (addr == MAP_FAILED)
		setup_failed("mmap(strings)");
	start = (unsigned long)addr;
	end = start + sizeof(file_text);
	/* The start first: the new area lies below the stack, so start <=
	 * end holds at each step. */
	if (prctl(PR_SET_MM, s->cmdline ? PR_SET_MM_ARG_START : PR_SET_MM_ENV_START, start, 0, 0) < 0 ||
	    prctl(PR_SET_MM, s->cmdline ? PR_SET_MM_ARG_END : PR_SET_MM_ENV_END, end, 0, 0) < 0) {
		/* Root without CAP_SYS_RESOURCE (a container's root). */
		if (errno == EPERM) {
			snprintf(note, len, "set-mm=EPERM");
			return NULL;
		}
		setup_failed("prctl(PR_SET_MM)");
	}
	return NULL;
}

static void run_instance(const char *params)
{
	char dir[PATH_MAX], file[PATH_MAX], path[64], text[4096] = { 0 }, buf[8192];
	struct strings s = { file, !strcmp(params, "cmdline") };
	const char *name = s.cmdline ? "cmdline" : "environ";
	ssize_t n, total = 0;
	struct target t;
	int fd;

	if (temp_dir("kconform-strings", 0, dir, sizeof(dir)))
		instance_error("no writable directory for a scratch file");
	SETUP(chmod(dir, 0755));
	snprintf(file, sizeof(file), "%.4000s/strings", dir);
	memcpy(text, file_text, sizeof(file_text));
	fd = SETUP(open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	if (SETUP(write(fd, text, sizeof(text))) != sizeof(text))
		setup_failed("write(strings)");
	close(fd);

	t = target_spawn(map_file_over_strings, &s);
	if (!strcmp(t.note, "set-mm=EPERM")) {
		target_end(&t);
		cleanup();
		skip_forbidden("PR_SET_MM refused (EPERM): this root lacks CAP_SYS_RESOURCE");
	}
	snprintf(path, sizeof(path), "/proc/%d/%s", t.pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		observe("%s: read=%s", name, errno_name(errno));
	} else {
		while ((n = read(fd, buf + total, sizeof(buf) - total)) > 0)
			total += n;
		if (n < 0)
			observe("%s: read=%s", name, errno_name(errno));
		else if (total == 0)
			observe("%s: read=empty", name);
		else if (total >= (ssize_t)strlen(file_text) &&
			 !memcmp(buf, file_text, strlen(file_text)))
			observe("%s: read=file", name);
		else
			observe("%s: read=other(%zd bytes)", name, total);
		close(fd);
	}
	target_end(&t);
	cleanup();
}
