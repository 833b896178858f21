/*
 * An action value the kernel does not know, stacked with a known one, in
 * both install orders. The BPF checker looks only at opcodes, so such a
 * filter installs; seccomp_run_filters() ranks it by its value like any
 * other (one below TRAP beats TRAP, one above LOG loses to LOG), and when
 * it wins, the default: case of __seccomp_filter() kills the process
 * (4d671d922d51, 5.10-rc1, backported to 4.19.y; before, the thread).
 *
 * params: "<unknown hex value>/<known action>", e.g. "0x10000/trap".
 */

static void run_instance(const char *params)
{
	const char *known = strchr(params, '/') + 1;

	both_orders((struct layer){ strtoul(params, NULL, 16), 0 },
		    (struct layer){ parse_action(known), 0 });
}
