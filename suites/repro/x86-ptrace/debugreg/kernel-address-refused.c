/*
 * A hardware breakpoint on a kernel address is refused: POKEUSER of the
 * first upper-half address into DR0 while DR7 enables it fails with
 * EINVAL, and DR0 keeps the address it had.
 */

#define KERNEL_ADDR 0xffff800000000000ULL

static void run_instance(const char *params)
{
	pid_t pid = stopped(stop_self, NULL);
	uint64_t dr0;
	const char *set;

	(void)params;
	SETUP(poke(pid, debugreg_offset(0), 1));
	/* L0: the breakpoint at address 1 is enabled (an execute breakpoint
	 * nothing runs into). */
	SETUP(poke(pid, debugreg_offset(7), 1));
	set = result_name(poke(pid, debugreg_offset(0), KERNEL_ADDR));
	SETUP(peek(pid, debugreg_offset(0), &dr0));
	observe("POKEUSER DR0=0x%llx: %s; DR0 reads 0x%lx; %s", KERNEL_ADDR, set,
		(unsigned long)dr0, finish(pid));
}
