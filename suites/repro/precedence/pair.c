/*
 * Two stacked filters with different actions on the probe, in both
 * install orders: the more restrictive action wins whatever the order,
 * KILL_PROCESS < KILL_THREAD < TRAP < ERRNO < USER_NOTIF < TRACE < LOG <
 * ALLOW, because seccomp_run_filters() keeps the lowest ACTION_ONLY()
 * value, compared as a signed number (KILL_PROCESS, 0x80000000, is the
 * one negative action: an unsigned compare, or the old 0x7fff0000 mask
 * that made it equal to KILL_THREAD, shows against every other action).
 * See seccomp(2), "Filter return values", and kernel/seccomp.c.
 *
 * params: "<stronger>/<weaker>", e.g. "kill-process/trap".
 */

static void run_instance(const char *params)
{
	char stronger[32];
	const char *weaker = strchr(params, '/') + 1;

	snprintf(stronger, sizeof(stronger), "%.*s", (int)(weaker - 1 - params), params);
	both_orders(pair_layer(parse_action(stronger)), pair_layer(parse_action(weaker)));
}
