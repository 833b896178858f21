/*
 * RET_TRAP's SIGSYS goes to the thread that made the trapped call, never
 * to another thread of the process (force_sig_seccomp() is thread
 * directed): the handler runs there, and if that thread blocks SIGSYS the
 * process dies even though another thread would have taken it.
 *
 * params: unblocked, blocked-in-trapping-thread.
 */
#include <pthread.h>

static volatile pid_t trapper_tid;
static int block_in_trapper;

static void thread_handler(int sig, siginfo_t *info, void *ctx)
{
	(void)sig;
	(void)info;
	(void)ctx;
	note(gettid() == trapper_tid ? "handler in=trapping-thread" : "handler in=other-thread");
}

static void *trapper(void *arg)
{
	(void)arg;
	if (block_in_trapper) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGSYS);
		errno = pthread_sigmask(SIG_BLOCK, &set, NULL);
		if (errno)
			setup_failed("pthread_sigmask(SIG_BLOCK, SIGSYS)");
	}
	trapper_tid = gettid();
	getppid_raw();
	note("trapping-thread-after");
	return NULL;
}

static int subject(void *arg)
{
	struct filter_rule trap[] = { RULE(__NR_getppid, SECCOMP_RET_TRAP | 2) };
	pthread_t t;

	(void)arg;
	handle(SIGSYS, thread_handler, 0, no_signals());
	install_rules_or_exit(trap, 1);
	errno = pthread_create(&t, NULL, trapper, NULL);
	if (errno)
		setup_failed("pthread_create");
	pthread_join(t, NULL);
	note("main-after");
	return 0;
}

static void run_instance(const char *params)
{
	char text[2048];
	block_in_trapper = !strcmp(params, "blocked-in-trapping-thread");
	run_subject(subject, NULL, text, sizeof(text));
	observe("%s", text);
}
