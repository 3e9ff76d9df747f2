/*
 * pause - the infra container of a capstan pod (image capstan.local/pause:1).
 *
 * It holds the pod's namespaces open by existing: it sleeps until told to
 * stop. As PID 1 of a pod that shares its PID namespace it also inherits
 * every orphan of the pod, so it reaps zombies as SIGCHLD reports them.
 * SIGTERM or SIGINT ends it with status 0.
 *
 * Signals are blocked and taken synchronously with sigwaitinfo(), so there
 * is no handler race and no sleep loop. They also get an empty handler:
 * the kernel drops signals whose disposition is the default for a PID
 * namespace's init, and blocking alone is not something to lean on for that.
 * Outside a PID namespace (PID != 1) it makes itself a child subreaper so
 * that it still reaps what its children leave behind.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void ignore(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGCHLD };
	struct sigaction sa;
	sigset_t set;

	(void)argc;
	(void)argv;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ignore;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaddset(&set, sigs[i]);
		sigaction(sigs[i], &sa, NULL);
	}
	/* A closed stdout must not end the pod: its lines are a courtesy. */
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
		perror("pause: sigprocmask");
		return 1;
	}
	if (getpid() != 1)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	printf("pause: pid %d, waiting for SIGTERM\n", (int)getpid());
	fflush(stdout);

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);

		if (sig < 0) {
			if (errno == EINTR)
				continue;
			perror("pause: sigwaitinfo");
			return 1;
		}
		if (sig == SIGCHLD) {
			/* One SIGCHLD may stand for many exits: reap all that are ready. */
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			continue;
		}
		printf("pause: %s, exiting\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		return 0;
	}
}
