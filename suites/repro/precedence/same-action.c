/*
 * Two stacked filters with the same action and different values, in
 * both install orders: seccomp_run_filters() replaces the best value only
 * with a strictly lower action, so among equal actions the newest
 * filter's return value is acted on: its data (the SIGSYS si_errno, the
 * errno, the tracer's event message), and for USER_NOTIF its listener: a
 * USER_NOTIF from the newest filter, which has none, fails with ENOSYS
 * even though an older filter's USER_NOTIF has a listener.
 *
 * params: "trap", "errno", "trace", "user-notif".
 */

static void run_instance(const char *params)
{
	uint32_t action = parse_action(params) & SECCOMP_RET_ACTION_FULL;

	if (action == SECCOMP_RET_USER_NOTIF)
		both_orders((struct layer){ action, 1 }, (struct layer){ action, 0 });
	else
		both_orders((struct layer){ action | 1, 0 }, (struct layer){ action | 2, 0 });
}
