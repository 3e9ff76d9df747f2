/* test_image_fixture.c - see test_image_fixture.h. */
#include "test_image_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "test.h"
#include "util.h"

const char *fx_path(const char *name)
{
	static char slots[8][512];
	static int next;
	char *p = slots[next++ % 8];

	snprintf(p, sizeof(slots[0]), "%s/%s", test_tmpdir(), name);
	return p;
}

void fx_quiet(void)
{
	int fd = open("/dev/null", O_WRONLY);

	ASSERT(fd >= 0);
	fflush(NULL);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
}

void fx_write(const char *path, const void *data, size_t len, unsigned mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ASSERT_MSG(fd >= 0, "open %s: %s", path, strerror(errno));
	ASSERT_EQ(write(fd, data, len), (ssize_t)len);
	ASSERT_OK(fchmod(fd, mode));
	close(fd);
}

char *fx_read(const char *path, size_t *len)
{
	struct stat st;
	char *data;
	int fd = open(path, O_RDONLY);

	ASSERT_MSG(fd >= 0, "open %s: %s", path, strerror(errno));
	ASSERT_OK(fstat(fd, &st));
	data = xmalloc((size_t)st.st_size + 1);
	ASSERT_EQ(read(fd, data, (size_t)st.st_size), st.st_size);
	data[st.st_size] = '\0';
	close(fd);
	if (len)
		*len = (size_t)st.st_size;
	return data;
}

const char *fx_image(const char *ref, const char *name, const char *content, struct img_result *res)
{
	char src_name[128], tar_name[128], err[512];
	struct img_file file;
	struct img_spec spec = { 0 };
	const char *src, *out;

	snprintf(src_name, sizeof(src_name), "%s.src", name);
	snprintf(tar_name, sizeof(tar_name), "%s.tar", name);
	src = fx_path(src_name);
	fx_write(src, content, strlen(content), 0755);
	file = (struct img_file){ .src = src, .dst = "/app", .mode = -1 };
	spec.ref = ref;
	spec.files = &file;
	spec.nfiles = 1;
	spec.entrypoint_json = "[\"/app\"]";
	spec.mtime = IMG_DEFAULT_MTIME;
	out = fx_path(tar_name);
	ASSERT_MSG(img_build(&spec, out, res, err, sizeof(err)) == 0, "img_build: %s", err);
	return out;
}

void fx_http(uint16_t port, const char *method, const char *path, const char *extra,
	     struct fx_http *out)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 10 };
	struct buf req = { 0 }, resp = { 0 };
	char chunk[65536], *sep, *line_end;
	int fd;

	memset(out, 0, sizeof(*out));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ASSERT_MSG(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0, "connect: %s",
		   strerror(errno));
	buf_appendf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n",
		    method, path, extra ? extra : "");
	ASSERT_EQ(write(fd, req.data, req.len), (ssize_t)req.len);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		ASSERT_MSG(n >= 0, "read: %s", strerror(errno));
		if (n == 0)
			break;
		buf_append(&resp, chunk, (size_t)n);
	}
	close(fd);
	buf_free(&req);
	ASSERT_MSG(resp.len > 12 && sscanf(resp.data, "HTTP/1.1 %d", &out->status) == 1,
		   "no HTTP answer to %s %s", method, path);
	sep = strstr(resp.data, "\r\n\r\n");
	ASSERT_NOT_NULL(sep);
	line_end = strstr(resp.data, "\r\n");
	snprintf(out->headers, sizeof(out->headers), "%.*s", (int)(sep - line_end), line_end);
	out->body_len = resp.len - (size_t)(sep + 4 - resp.data);
	out->body = xmalloc(out->body_len + 1);
	memcpy(out->body, sep + 4, out->body_len);
	out->body[out->body_len] = '\0';
	buf_free(&resp);
}

const char *fx_header(const struct fx_http *r, const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);

	for (const char *p = strstr(r->headers, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;

			while (*v == ' ')
				v++;
			snprintf(buf, len, "%.*s", (int)(end ? end - v : (long)strlen(v)), v);
			return buf;
		}
	}
	return NULL;
}

void fx_http_free(struct fx_http *r)
{
	free(r->body);
	r->body = NULL;
}
