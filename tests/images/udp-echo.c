/*
 * udp-echo - the UDP test server of image capstan.local/udp-echo:1.
 *
 * Every datagram is answered, to its sender, with its own bytes prefixed by
 * the pod's hostname and ": " ("pod-a: hello"), so UDP service tests see
 * which backend answered and that the payload survived. One log line per
 * datagram goes to stdout (sender, size; the payload is not printed, it may
 * be binary).
 *
 *   udp-echo [-p PORT]     (or $PORT; default 5353)
 *
 * The receive buffer holds the largest UDP payload (65507 bytes over IPv4;
 * a larger IPv6 datagram is cut, MSG_TRUNC is logged), and an answer that
 * would exceed that size is cut to fit, so no input can overflow anything.
 * A failed send (the sender's port is gone, the socket buffer is full) is
 * logged and the next datagram served. SIGTERM and SIGINT, through a
 * signalfd polled beside the socket, end it with status 0.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "imgprog.h"

#define PAYLOAD_MAX 65507

static char hostname[256];
static char in[PAYLOAD_MAX + 1];
static char out[PAYLOAD_MAX];

static void serve_one(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char peer[64], when[40];
	size_t prefix, n, body;
	ssize_t got, sent;

	got = recvfrom(fd, in, sizeof(in), MSG_TRUNC, (struct sockaddr *)&ss, &sl);
	if (got < 0)
		return; /* EAGAIN (spurious wakeup) or a queued ICMP error: nothing to answer */
	imgprog_peer(&ss, peer, sizeof(peer));
	imgprog_time(when, sizeof(when));
	n = (size_t)got > sizeof(in) ? sizeof(in) : (size_t)got;

	prefix = (size_t)snprintf(out, sizeof(out), "%s: ", hostname);
	body = n < sizeof(out) - prefix ? n : sizeof(out) - prefix;
	memcpy(out + prefix, in, body);
	sent = sendto(fd, out, prefix + body, MSG_DONTWAIT, (struct sockaddr *)&ss, sl);
	if (sent < 0)
		printf("%s %s %zd bytes%s, answer not sent: %s\n", when, peer, got,
		       (size_t)got > sizeof(in) ? " (truncated)" : "", strerror(errno));
	else
		printf("%s %s %zd bytes%s, answered %zd\n", when, peer, got,
		       (size_t)got > sizeof(in) ? " (truncated)" : "", sent);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *port_s = getenv("PORT");
	struct pollfd fds[2];
	unsigned port = 5353;
	sigset_t set;
	int opt;

	while ((opt = getopt(argc, argv, "p:h")) != -1) {
		if (opt == 'p') {
			port_s = optarg;
		} else {
			fprintf(stderr, "usage: udp-echo [-p PORT]   (or $PORT; default 5353)\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (port_s && imgprog_port(port_s, &port) != 0) {
		fprintf(stderr, "udp-echo: bad port '%s'\n", port_s);
		return 2;
	}
	imgprog_hostname(hostname, sizeof(hostname));

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed stdout must not stop the echo */
	fds[0].fd = imgprog_bind(SOCK_DGRAM, port);
	fds[0].events = POLLIN;
	fds[1].fd = signalfd(-1, &set, SFD_CLOEXEC);
	fds[1].events = POLLIN;
	if (fds[0].fd < 0 || fds[1].fd < 0) {
		fprintf(stderr, "udp-echo: cannot bind port %u: %s\n", port, strerror(errno));
		return 1;
	}
	printf("udp-echo: listening on port %u/udp as %s\n", port, hostname);
	fflush(stdout);

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("udp-echo: poll");
			return 1;
		}
		if (fds[1].revents) {
			printf("udp-echo: stopping on signal\n");
			return 0;
		}
		if (fds[0].revents)
			serve_one(fds[0].fd);
	}
}
