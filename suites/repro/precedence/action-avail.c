/*
 * SECCOMP_GET_ACTION_AVAIL (4.14, seccomp(2)) compares the whole 32-bit
 * value: every action is known with its data bits clear, an action with
 * data (errno(1)) and values no action has are EOPNOTSUPP.
 */

static const char *action_avail(uint32_t action)
{
	return result_name(seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action));
}

static void run_instance(const char *params)
{
	static const uint32_t actions[] = {
		SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP,
		SECCOMP_RET_ERRNO, SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE,
		SECCOMP_RET_LOG, SECCOMP_RET_ALLOW,
	};
	static const uint32_t unknown[] = { 0xffff0000, 0x00010000, 0x7ffe0000 };
	char text[1024];
	size_t at = 0;

	(void)params;
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		at += snprintf(text + at, sizeof(text) - at, "%s=%s ",
			       action_slug(actions[i]), action_avail(actions[i]));
	at += snprintf(text + at, sizeof(text) - at, "errno(1)=%s",
		       action_avail(SECCOMP_RET_ERRNO | 1));
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		at += snprintf(text + at, sizeof(text) - at, " 0x%x=%s", unknown[i],
			       action_avail(unknown[i]));
	observe("%s", text);
}
