/*
 * wait4(pid, &status, WNOHANG, NULL) with one child alive that has nothing
 * to report. INT_MIN has no negation, so the kernel refuses it with ESRCH
 * (dd83c161fbcc, CVE-2018-10087); a group with no member answers ECHILD;
 * -1 (any child) answers 0.
 */

static int live_child(void *arg)
{
	gate_wait(arg);
	return 0;
}

static void run_instance(const char *params)
{
	struct gate go = gate_new();
	pid_t child = spawn(live_child, &go);
	int pid, status;
	long rc;
	char answer[32];

	if (!strcmp(params, "int-min"))
		pid = INT_MIN;
	else if (!strcmp(params, "unused-pgid"))
		pid = -0x3ffffff0;
	else
		pid = -1; /* any-child */

	rc = wait4(pid, &status, WNOHANG, NULL);
	if (rc == 0)
		snprintf(answer, sizeof(answer), "0");
	else if (rc == child)
		snprintf(answer, sizeof(answer), "child");
	else if (rc > 0)
		snprintf(answer, sizeof(answer), "pid %ld", rc);
	else
		snprintf(answer, sizeof(answer), "%s", errno_name(errno));

	gate_open(&go);
	observe("wait4=%s; child %s", answer, wait_exit(child));
}
