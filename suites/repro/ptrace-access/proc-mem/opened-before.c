/*
 * An open /proc/PID/mem keeps reading the mm it was opened on after the
 * target turned non-dumpable: access is checked at open only
 * (mem_open() takes the mm with mm_access(), mem_rw() does not check
 * again). Once the target exec'd, that mm is gone and reads return
 * nothing, even where a fresh open is refused.
 */

struct opened {
	pid_t pid;
	int lines;		/* the target's notes, one a line */
	struct gate *go;
};

/* One line from fd, without its newline ("" at EOF). */
static void read_line(int fd, char *line, size_t len)
{
	size_t got = 0;
	while (got < len - 1 && read(fd, line + got, 1) == 1 && line[got] != '\n')
		got++;
	line[got] = 0;
}

/* As NOBODY: open the target's /proc/PID/mem, read; let it change; read
 * through the same fd, and open again. */
static void read_before_and_after(void *arg)
{
	struct opened *o = arg;
	char before[64], after[64], changed[1024];
	const char *reopen;
	int fd = open_mem(o->pid), again;

	if (fd < 0)
		instance_error("first open: %s: %s", errno_name(errno), strerror(errno));
	pread_mark(fd, before, sizeof(before));
	gate_open(o->go);
	read_line(o->lines, changed, sizeof(changed));
	if (!changed[0])
		instance_error("the target died making its change");
	pread_mark(fd, after, sizeof(after));
	again = open_mem(o->pid);
	reopen = again < 0 ? errno_name(errno) : "ok";
	if (again >= 0)
		close(again);
	observe("before: %s; after: fd %s reopen=%s", before, after, reopen);
}

static void run_instance(const char *params)
{
	int setuid_exec = !strcmp(params, "then-setuid-exec");
	char exe[PATH_MAX] = "", ready[64], b[8];
	int line[2], in[2];
	struct gate go;
	struct opened o;
	pid_t pid;

	yama_lets_unprivileged_in();
	if (setuid_exec)
		probe_copy(04755, exe, sizeof(exe));
	go = gate_new();
	/* The target notes `ready`, waits for the reader to have its fd
	 * open, makes the change and notes `changed` (or execs the probe in
	 * state-park mode, whose state line is the note). */
	SETUP(pipe2(line, O_CLOEXEC));
	SETUP(pipe2(in, O_CLOEXEC));
	pid = subject();
	if (pid == 0) {
		drop_to(NOBODY);
		SETUP(set_dumpable(1));
		allow_any_tracer();
		set_mark();
		if (write(line[1], "ready\n", 6) < 0)
			_exit(SUBJECT_EXIT);
		gate_wait(&go);
		if (setuid_exec) {
			SETUP(dup2(line[1], 1));
			SETUP(dup2(in[0], 0));
			exec_probe(exe, "state-park");
		}
		SETUP(set_dumpable(0));
		if (write(line[1], "changed\n", 8) < 0)
			_exit(SUBJECT_EXIT);
		while (read(in[0], b, sizeof(b)) > 0)
			;
		_exit(0);
	}
	close(line[1]);
	close(in[0]);
	read_line(line[0], ready, sizeof(ready));
	if (strcmp(ready, "ready"))
		instance_error("the target died during setup");
	o = (struct opened){ pid, line[0], &go };
	as_uid(NOBODY, read_before_and_after, &o);
	close(in[1]);
	kill(pid, SIGKILL);
	wait_exit(pid);
	cleanup();
}
