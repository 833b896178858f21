/*
 * /proc/PID/fdinfo (and its files) need PTRACE_MODE_READ_FSCREDS on top
 * of their mode 0555, checked in the inode's permission operation, so
 * every path-based call is refused alike (EACCES): opening it to list
 * the fd numbers, or inotify_add_watch() on it (7bc3fa0172a4 made them
 * 0555 in v5.14 with the check on the files' open only; 1927e498aee1,
 * v5.18, added it to the directory's open; 0a960ba49869, v6.10, moved
 * both into .permission). NOBODY's own task's is open to it.
 */

static void list_fdinfo(void *arg)
{
	DIR *d = opendir(arg);
	struct dirent *e;
	int n = 0;
	if (!d) {
		observe("opendir=%s", errno_name(errno));
		return;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	observe("opendir=ok listed=%s", n > 0 ? "fds" : "none");
}

static void watch_fdinfo(void *arg)
{
	int fd = inotify_init1(IN_CLOEXEC), wd;
	if (fd < 0) {
		if (errno == ENOSYS)
			skip_lacks("inotify_init1: ENOSYS (kernel built without CONFIG_INOTIFY_USER)");
		instance_error("inotify_init1: %s", errno_name(errno));
	}
	wd = inotify_add_watch(fd, arg, IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE);
	observe("inotify=%s", wd >= 0 ? "ok" : errno_name(errno));
	close(fd);
}

static void run_instance(const char *params)
{
	struct target t = parked_as(!strncmp(params, "other-uid", 9) ? OTHER : NOBODY, 1);
	char dir[64];

	snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", t.pid);
	as_uid(NOBODY, strstr(params, "/inotify") ? watch_fdinfo : list_fdinfo, dir);
	target_end(&t);
}
