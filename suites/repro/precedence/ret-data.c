/*
 * Where an action's 16 bits of SECCOMP_RET_DATA end up (seccomp(2)):
 * ERRNO's become the errno, capped at MAX_ERRNO (4095), and 0 makes the
 * call return 0 without running; TRAP's the SIGSYS si_errno; TRACE's the
 * tracer's PTRACE_GETEVENTMSG message, both uncapped.
 *
 * params: "errno/<decimal>", "trap/0xffff", "trace/0xffff".
 */

static void run_instance(const char *params)
{
	char action[16];
	const char *data = strchr(params, '/') + 1;

	snprintf(action, sizeof(action), "%.*s", (int)(data - 1 - params), params);
	alone((parse_action(action) & SECCOMP_RET_ACTION_FULL) |
	      (strtoul(data, NULL, 0) & SECCOMP_RET_DATA));
}
