/*
 * SECCOMP_IOCTL_NOTIF_ID_VALID answers to its _IOW('!', 2, __u64) number
 * (the id travels to the kernel: 47e33c05f9f0, 5.9-rc1, 5.8.2, 5.7.16)
 * and to the _IOR number 5.0 to 5.8 defined, kept as an alias since.
 * Kernels before the fix answered EINVAL to the _IOW number.
 */

#define ID_VALID_IOR ((2UL << 30) | (8UL << 16) | ((unsigned long)'!' << 8) | 2)

static int target(void)
{
	note(ret_text(notif_call()));
	return 0;
}

static const char *ask(int l, unsigned long cmd, uint64_t id)
{
	return result_name(ioctl(l, cmd, &id));
}

static void run_instance(const char *params)
{
	struct seccomp_notif n;
	char iow[32], ior[32];
	pid_t pid;
	int l;

	(void)params;
	target_notes = notes_new();
	pid = spawn_target(0, target, &l);
	n = recv_one(l);
	snprintf(iow, sizeof(iow), "%s", ask(l, SECCOMP_IOCTL_NOTIF_ID_VALID, n.id));
	snprintf(ior, sizeof(ior), "%s", ask(l, ID_VALID_IOR, n.id));
	SETUP(notif_reply(l, n.id, 0));
	observe("iow=%s ior=%s; %s", iow, ior, target_end(pid));
}
