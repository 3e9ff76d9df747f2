/*
 * lbprobe - servers and clients for load-balancing tests.
 *
 * Servers answer every TCP connection or UDP datagram with their name, so a
 * client can tell which backend it reached:
 *   lbprobe serve tcp PORT NAME
 *   lbprobe serve udp PORT NAME
 *   lbprobe serve tcpsrc PORT NAME  TCP, answering "NAME@CLIENT-ADDRESS" (the
 *                                  source address the server saw)
 * Clients (every loop is bounded in count and time):
 *   lbprobe tcp ADDR PORT N        N connections; prints "NAME COUNT" per
 *                                  backend and "error ERRNO COUNT" per failure
 *   lbprobe udp ADDR PORT N        N datagrams (unconnected sendto); prints
 *                                  "NAME COUNT" and "from ADDR:PORT" of replies
 *   lbprobe udpconn ADDR PORT N    the same over a connected UDP socket; also
 *                                  prints "peer ADDR:PORT" from getpeername()
 *   lbprobe peer ADDR PORT         one connection; prints getpeername()
 *   lbprobe hold ADDR PORT SECS    connect, read the name, keep the connection
 *                                  open SECS seconds, then send "again" and
 *                                  print the name read back ("held NAME NAME")
 *   lbprobe refused ADDR PORT      one connect(); prints "errno NAME MS"
 * Servers stop after 10 minutes at most.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_NAMES 64
#define SERVER_LIFETIME_S 600

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct sockaddr_in addr_of(const char *ip, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "lbprobe: bad address %s\n", ip);
		exit(2);
	}
	return a;
}

/* Counting replies by name. */
static struct {
	char name[64];
	int n;
} tally[MAX_NAMES];
static int errors[256];

static void count(const char *name)
{
	for (int i = 0; i < MAX_NAMES; i++) {
		if (!tally[i].name[0])
			snprintf(tally[i].name, sizeof(tally[i].name), "%s", name);
		if (strcmp(tally[i].name, name) == 0) {
			tally[i].n++;
			return;
		}
	}
}

static void print_tally(void)
{
	for (int i = 0; i < MAX_NAMES && tally[i].name[0]; i++)
		printf("%s %d\n", tally[i].name, tally[i].n);
	for (int e = 0; e < 256; e++)
		if (errors[e])
			printf("error %s %d\n", strerrorname_np(e) ? strerrorname_np(e) : "?",
			       errors[e]);
}

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int serve(const char *proto, const char *port, const char *name)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	bool udp = strcmp(proto, "udp") == 0, src = strcmp(proto, "tcpsrc") == 0;
	char reply[128];
	int fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0), one = 1;
	double deadline = now_ms() + SERVER_LIFETIME_S * 1e3;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || (!udp && listen(fd, 1024) < 0)) {
		perror("lbprobe serve");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	while (now_ms() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[512];

		if (poll(&p, 1, 1000) <= 0)
			continue;
		if (udp) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);

			if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) >= 0)
				sendto(fd, name, strlen(name), 0, (struct sockaddr *)&from, fl);
			continue;
		}
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);
		int c = accept(fd, (struct sockaddr *)&peer, &pl);
		if (c < 0)
			continue;
		snprintf(reply, sizeof(reply), "%s", name);
		if (src)
			snprintf(reply, sizeof(reply), "%s@%s", name, inet_ntoa(peer.sin_addr));
		if (fork() == 0) {
			/* Name on connect; name again for every message until EOF. */
			set_timeouts(c, 120000);
			if (write(c, reply, strlen(reply)) < 0)
				_exit(0);
			while (read(c, buf, sizeof(buf)) > 0)
				if (write(c, reply, strlen(reply)) < 0)
					break;
			_exit(0);
		}
		close(c);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	return 0;
}

/* One TCP connection; reads the server's name into buf. 0 or errno. */
static int tcp_once(const struct sockaddr_in *a, char *buf, size_t len, int *fd_out)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), err;
	ssize_t n;

	set_timeouts(fd, 3000);
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		err = errno;
		close(fd);
		return err;
	}
	n = read(fd, buf, len - 1);
	if (n <= 0) {
		err = n == 0 ? ECONNRESET : errno;
		close(fd);
		return err;
	}
	buf[n] = '\0';
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return 0;
}

static int client_tcp(const struct sockaddr_in *a, int n)
{
	double deadline = now_ms() + 120e3;
	char name[256];

	for (int i = 0; i < n && now_ms() < deadline; i++) {
		int err = tcp_once(a, name, sizeof(name), NULL);

		if (err)
			errors[err & 255]++;
		else
			count(name);
	}
	print_tally();
	return 0;
}

static void print_addr(const char *what, const struct sockaddr_in *a)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	printf("%s %s:%d\n", what, ip, ntohs(a->sin_port));
}

static int client_udp(const struct sockaddr_in *a, int n, bool connected)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in from = { 0 };
	char name[256];

	set_timeouts(fd, 2000);
	if (connected && connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		printf("error %s 1\n", strerrorname_np(errno));
		return 0;
	}
	for (int i = 0; i < n; i++) {
		socklen_t fl = sizeof(from);
		ssize_t r;

		if (connected)
			r = send(fd, "hi", 2, 0);
		else
			r = sendto(fd, "hi", 2, 0, (const struct sockaddr *)a, sizeof(*a));
		if (r < 0) {
			errors[errno & 255]++;
			continue;
		}
		r = recvfrom(fd, name, sizeof(name) - 1, 0, (struct sockaddr *)&from, &fl);
		if (r < 0) {
			errors[errno & 255]++;
			continue;
		}
		name[r] = '\0';
		count(name);
	}
	print_tally();
	if (from.sin_family)
		print_addr("from", &from);
	if (connected) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);

		if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0)
			print_addr("peer", &peer);
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	char name[256], again[256];
	int fd, err;

	if (argc == 5 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2], argv[3], argv[4]);
	if (argc < 4) {
		fprintf(stderr, "usage: see the comment at the top of lbprobe.c\n");
		return 2;
	}
	a = addr_of(argv[2], argv[3]);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "tcp") == 0 && argc == 5)
		return client_tcp(&a, atoi(argv[4]));
	if (strcmp(argv[1], "udp") == 0 && argc == 5)
		return client_udp(&a, atoi(argv[4]), false);
	if (strcmp(argv[1], "udpconn") == 0 && argc == 5)
		return client_udp(&a, atoi(argv[4]), true);
	if (strcmp(argv[1], "peer") == 0) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);

		err = tcp_once(&a, name, sizeof(name), &fd);
		if (err) {
			printf("error %s\n", strerrorname_np(err));
			return 1;
		}
		getpeername(fd, (struct sockaddr *)&peer, &pl);
		print_addr("peer", &peer);
		close(fd);
		return 0;
	}
	if (strcmp(argv[1], "hold") == 0 && argc == 5) {
		int secs = atoi(argv[4]);
		ssize_t n;

		if (secs < 0 || secs > 300)
			return 2;
		err = tcp_once(&a, name, sizeof(name), &fd);
		if (err) {
			printf("error %s\n", strerrorname_np(err));
			return 1;
		}
		printf("connected %s\n", name);
		fflush(stdout);
		sleep(secs);
		if (write(fd, "again", 5) != 5 || (n = read(fd, again, sizeof(again) - 1)) <= 0) {
			printf("lost %s\n", name);
			return 1;
		}
		again[n] = '\0';
		printf("held %s %s\n", name, again);
		close(fd);
		return 0;
	}
	if (strcmp(argv[1], "refused") == 0) {
		double t = now_ms();

		fd = socket(AF_INET, SOCK_STREAM, 0);
		set_timeouts(fd, 3000);
		err = connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? errno : 0;
		printf("errno %s %.1f\n", err ? strerrorname_np(err) : "0", now_ms() - t);
		close(fd);
		return 0;
	}
	fprintf(stderr, "lbprobe: unknown mode %s\n", argv[1]);
	return 2;
}
