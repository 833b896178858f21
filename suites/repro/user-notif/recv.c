/*
 * SECCOMP_IOCTL_NOTIF_RECV reports the call: the syscall number, the
 * arch, all six arguments and the id of the task that made the call (its
 * tid, in the supervisor's pid namespace, seccomp_unotify(2)); the
 * notification's id is valid until it is answered. A child forked after
 * the filter was installed inherits the filter, and so the listener.
 *
 * params: "main-thread", "second-thread", "forked-child".
 */

static const char *caller;

/* Note our tid, then make the notifying call and note what it returned. */
static void call_and_note(void)
{
	char line[32];
	snprintf(line, sizeof(line), "caller=%d", gettid());
	note(line);
	note(ret_text(notif_call()));
}

static void *call_thread(void *arg)
{
	(void)arg;
	call_and_note();
	return NULL;
}

static int forked_caller(void *arg)
{
	(void)arg;
	call_and_note();
	return 0;
}

static int target(void)
{
	if (!strcmp(caller, "second-thread")) {
		pthread_t t;
		if (pthread_create(&t, NULL, call_thread, NULL) || pthread_join(t, NULL))
			return 123;
		return 0;
	}
	if (!strcmp(caller, "forked-child")) {
		pid_t child = spawn(forked_caller, NULL);
		return strcmp(wait_exit(child), "exit 0") ? 124 : 0;
	}
	call_and_note();
	return 0;
}

static void run_instance(const char *params)
{
	struct seccomp_notif n;
	char valid[32], end[64], rest[512] = "", args[256] = "", arch[24];
	const char *notes, *who;
	pid_t pid;
	long caller_tid = -1;
	int l;

	caller = params;
	target_notes = notes_new();
	pid = spawn_target(0, target, &l);
	n = recv_one(l);
	snprintf(valid, sizeof(valid), "%s", result_name(notif_id_valid(l, n.id)));
	SETUP(notif_reply(l, n.id, 0));
	snprintf(end, sizeof(end), "%s", wait_exit(pid));

	/* The caller's tid is compared with the notification's pid, not printed. */
	notes = notes_joined(&target_notes);
	for (const char *s = notes; *s; ) {
		size_t len = strcspn(s, ",");
		if (!strncmp(s, "caller=", 7))
			caller_tid = strtol(s + 7, NULL, 10);
		else
			snprintf(rest + strlen(rest), sizeof(rest) - strlen(rest), "%s%.*s",
				 rest[0] ? "," : "", (int)len, s);
		s += len + (s[len] == ',');
	}
	if ((long)n.pid == caller_tid)
		who = "caller-tid";
	else if ((pid_t)n.pid == pid)
		who = "target-pid";
	else
		who = "other";

	if (n.data.arch == AUDIT_ARCH_X86_64)
		snprintf(arch, sizeof(arch), "x86_64");
	else
		snprintf(arch, sizeof(arch), "0x%x", n.data.arch);
	for (int i = 0; i < 6; i++)
		snprintf(args + strlen(args), sizeof(args) - strlen(args), "%s0x%llx",
			 i ? "," : "", (unsigned long long)n.data.args[i]);
	observe("nr=%d arch=%s args=[%s] pid=%s id-valid=%s; target %s %s", n.data.nr, arch,
		args, who, valid, rest, end);
}
