/*
 * A thread-group leader that has exited (a zombie until the group ends)
 * does not block TSYNC. main installs 1 and spawns sibling-1; with
 * own-filter it stacks 2 on itself. Then main exits as a thread (exit(2),
 * what pthread_exit does in the kernel, not exit_group), staying a zombie
 * leader until the group ends. Once it is gone sibling-1 syncs 3. An
 * exited thread runs no more syscalls, so whatever filter it had must not
 * matter: the sync succeeds and the survivor runs 3. (Before 6.11 a zombie
 * leader kept its filter and was still checked, so own-filter failed with
 * its tid: fixed by bfafe5efa975, "seccomp: release task filters when the
 * task exits".)
 */
#include <linux/futex.h>

/* The kernel zeroes this and wakes its futex once the leader has left
 * (mm_release, after PF_EXITING is set): set_tid_address(2). */
static int gone;
static pid_t leader;

static void wait_for_zero(int *word)
{
	int v;
	/* A shared (not PRIVATE) futex: the kernel's wake on exit is shared. */
	while ((v = __atomic_load_n(word, __ATOMIC_SEQ_CST)) != 0)
		syscall(__NR_futex, word, FUTEX_WAIT, v, NULL);
}

/* On the survivor: wait for the leader to be gone, sync 3, and report
 * the observation itself (main cannot: it has exited); then end the
 * group with exit_group. */
static long survivor(void *arg)
{
	const char *answer;
	long ret;

	(void)arg;
	wait_for_zero(&gone);

	ret = tsync(3, 0);

	if (ret == leader)
		answer = "main";
	else if (ret > 0)
		answer = "unknown-tid";
	else
		answer = result_text(ret);
	observe("tsync=%s survivor-probe=%s", answer, probe());
	if (write(result_fd, "O", 1) < 0 ||
	    write(result_fd, observation, strlen(observation)) < 0)
		_exit(SUBJECT_EXIT);
	_exit(0);
}

static void run_instance(const char *params)
{
	static struct job job = { survivor, NULL, 0, -1 };
	struct crew crew = crew_of_this_thread();

	crew_install(&crew, 0, 1);
	crew_spawn_from(&crew, 0);
	if (!strcmp(params, "own-filter"))
		crew_install(&crew, 0, 2);
	leader = gettid();
	gone = leader;
	syscall(__NR_set_tid_address, &gone);

	crew_send(&crew, 1, &job);
	/* exit(2) ends only this thread; the survivor ends the group. */
	syscall(__NR_exit, 0);
}
