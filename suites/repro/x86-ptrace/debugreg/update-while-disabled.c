/*
 * A disabled breakpoint's address can still be changed: a second
 * POKEUSER of DR0 while DR7 leaves it disabled takes effect and reads
 * back.
 */

static void run_instance(const char *params)
{
	pid_t pid = stopped(stop_self, NULL);
	const char *first, *second;
	uint64_t dr0;

	(void)params;
	first = result_name(poke(pid, debugreg_offset(0), 1));
	second = result_name(poke(pid, debugreg_offset(0), 2));
	SETUP(peek(pid, debugreg_offset(0), &dr0));
	observe("POKEUSER DR0=0x1: %s, DR0=0x2: %s; DR0 reads 0x%lx; %s", first, second,
		(unsigned long)dr0, finish(pid));
}
