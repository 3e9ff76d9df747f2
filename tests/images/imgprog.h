/*
 * imgprog.h - what the test images' programs (httpd, udp-echo) share: the
 * timestamp and peer formats of their log lines, port parsing, and a
 * dual-stack socket. Header-only (static functions) because each program
 * is one static binary built from one .c file with no library.
 */
#ifndef CAPSTAN_IMGPROG_H
#define CAPSTAN_IMGPROG_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* "2024-01-02T03:04:05.678Z" (UTC, milliseconds). */
static inline void imgprog_time(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

/* "10.0.0.1:4242" or "[fd00::1]:4242"; IPv4-mapped IPv6 addresses as IPv4. */
static inline void imgprog_peer(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		snprintf(buf, len, "%s:%u", addr, (unsigned)ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		unsigned port = ntohs(s6->sin6_port);

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], addr, sizeof(addr));
			snprintf(buf, len, "%s:%u", addr, port);
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
			snprintf(buf, len, "[%s]:%u", addr, port);
		}
	} else {
		snprintf(buf, len, "?");
	}
}

/* A port 1-65535. 0 on success, -1 otherwise. */
static inline int imgprog_port(const char *s, unsigned *port)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/*
 * A bound socket of type (SOCK_STREAM, SOCK_DGRAM) on every address: [::]
 * dual-stack when the network namespace has IPv6, else 0.0.0.0. -1 on
 * failure with errno set.
 */
static inline int imgprog_bind(int type, unsigned port)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, one = 1, zero = 0, err;

	fd = socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0)
			return fd;
		close(fd);
	}
	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&s4, sizeof(s4)) != 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* The host name (the pod's, in a pod), or "unknown". */
static inline size_t imgprog_hostname(char *buf, size_t len)
{
	if (gethostname(buf, len - 1) != 0)
		snprintf(buf, len, "unknown");
	buf[len - 1] = '\0';
	return strlen(buf);
}

#endif
