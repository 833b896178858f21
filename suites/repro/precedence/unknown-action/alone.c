/*
 * One filter returning an action value the kernel does not know: it
 * installs (the BPF checker looks only at opcodes), and the default: case
 * of __seccomp_filter() kills the whole process, not just the calling
 * thread (4d671d922d51, 5.10-rc1, backported to 4.19.y).
 *
 * params: the value in hex, e.g. "0x7ffe0000".
 */

static void run_instance(const char *params)
{
	alone(strtoul(params, NULL, 16));
}
