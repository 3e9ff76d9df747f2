/*
 * image.c - see image.h.
 *
 * One getopt_long table per subcommand: build, load and inspect share no
 * option, so a misplaced one is simply "unknown option" for that command.
 * SOURCE_DATE_EPOCH, the reproducible-builds convention, sets the timestamp
 * of a build; without it every image is dated IMG_DEFAULT_MTIME, so a
 * rebuild from the same inputs always gives the same digest.
 */
#include "image.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image_build.h"
#include "image_layout.h"
#include "util.h"

#define CTR_OUTPUT_MAX (64u << 10)

void img_cli_usage(FILE *f)
{
	fprintf(f,
		"usage: capstan image COMMAND [options]\n"
		"\n"
		"Commands:\n"
		"  build -t NAME:TAG -o OUT.tar [options]\n"
		"        write a one-layer OCI image layout tarball (reproducible)\n"
		"    --busybox              add the static /bin/busybox, its applets in /bin,\n"
		"                           /etc/passwd, /etc/group and /tmp\n"
		"    --busybox-path PATH    another static busybox (default %s)\n"
		"    --add SRC:DST[:MODE]   add host file SRC as DST (absolute; MODE octal,\n"
		"                           default 0755 if SRC is executable, else 0644)\n"
		"    --entrypoint JSON      e.g. '[\"/httpd\"]'\n"
		"    --cmd JSON             e.g. '[\"sh\"]'\n"
		"    --env K=V              (repeatable; PATH has a default)\n"
		"    --workdir DIR          default /\n"
		"    --expose PORT[/PROTO]  (repeatable; tcp, udp or sctp)\n"
		"    --arch ARCH            default this machine's (%s)\n"
		"  load [--address SOCK] [--namespace NS] [--ctr PATH] OUT.tar...\n"
		"        import into containerd (default %s, namespace %s) with ctr\n"
		"  inspect OUT.tar...\n"
		"        print the names, digests and sizes an image tarball holds\n"
		"\n"
		"SOURCE_DATE_EPOCH sets the image timestamp (default 2024-01-01T00:00:00Z).\n",
		IMG_DEFAULT_BUSYBOX, img_host_arch(), IMG_DEFAULT_ADDRESS, IMG_DEFAULT_NAMESPACE);
}

int img_parse_add(const char *arg, char **src, char **dst, int *mode)
{
	const char *sep = arg ? strstr(arg, ":/") : NULL, *d, *colon;
	long m = -1;

	if (!sep || sep == arg)
		return -EINVAL;
	d = sep + 1;
	colon = strchr(d, ':');
	if (colon) {
		char *end;

		if (!colon[1] || colon[1] == '-' || colon[1] == '+')
			return -EINVAL;
		errno = 0;
		m = strtol(colon + 1, &end, 8);
		if (errno || *end || m < 0 || m > 07777)
			return -EINVAL;
	}
	if ((colon ? (size_t)(colon - d) : strlen(d)) < 2)
		return -EINVAL; /* "/" alone names no file */
	*src = xstrndup(arg, (size_t)(sep - arg));
	*dst = colon ? xstrndup(d, (size_t)(colon - d)) : xstrdup(d);
	*mode = (int)m;
	return 0;
}

/* ---------------------------------------------------------------- build */

static int parse_epoch(uint64_t *out)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end;
	unsigned long long v;

	*out = IMG_DEFAULT_MTIME;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || s[0] == '-') {
		fprintf(stderr, "capstan image build: SOURCE_DATE_EPOCH '%s' is not a number\n", s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int cmd_build(int argc, char **argv)
{
	enum {
		OPT_BUSYBOX = 0x100,
		OPT_BUSYBOX_PATH,
		OPT_ADD,
		OPT_ENTRYPOINT,
		OPT_CMD,
		OPT_ENV,
		OPT_WORKDIR,
		OPT_EXPOSE,
		OPT_ARCH
	};
	static const struct option opts[] = {
		{ "tag", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "busybox", no_argument, NULL, OPT_BUSYBOX },
		{ "busybox-path", required_argument, NULL, OPT_BUSYBOX_PATH },
		{ "add", required_argument, NULL, OPT_ADD },
		{ "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
		{ "cmd", required_argument, NULL, OPT_CMD },
		{ "env", required_argument, NULL, OPT_ENV },
		{ "workdir", required_argument, NULL, OPT_WORKDIR },
		{ "expose", required_argument, NULL, OPT_EXPOSE },
		{ "arch", required_argument, NULL, OPT_ARCH },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct img_spec spec = { 0 };
	struct img_file *files = xcalloc((size_t)argc, sizeof(*files));
	const char **env = xcalloc((size_t)argc, sizeof(*env));
	const char **expose = xcalloc((size_t)argc, sizeof(*expose));
	const char *out = NULL;
	struct img_result res;
	char err[1024];
	int opt, rc = 2;

	optind = 0; /* restarts GNU getopt: the caller parsed argv too */
	while ((opt = getopt_long(argc, argv, "t:o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			spec.ref = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case OPT_BUSYBOX:
			spec.busybox = true;
			break;
		case OPT_BUSYBOX_PATH:
			spec.busybox_path = optarg;
			break;
		case OPT_ADD: {
			struct img_file *f = &files[spec.nfiles];

			if (img_parse_add(optarg, (char **)&f->src, (char **)&f->dst, &f->mode)) {
				fprintf(stderr,
					"capstan image build: --add '%s': expected SRC:DST[:MODE] "
					"with DST absolute and MODE octal\n",
					optarg);
				goto out;
			}
			spec.nfiles++;
			break;
		}
		case OPT_ENTRYPOINT:
			spec.entrypoint_json = optarg;
			break;
		case OPT_CMD:
			spec.cmd_json = optarg;
			break;
		case OPT_ENV:
			env[spec.nenv++] = optarg;
			break;
		case OPT_WORKDIR:
			spec.workdir = optarg;
			break;
		case OPT_EXPOSE:
			expose[spec.nexpose++] = optarg;
			break;
		case OPT_ARCH:
			spec.arch = optarg;
			break;
		case 'h':
			img_cli_usage(stdout);
			rc = 0;
			goto out;
		default:
			img_cli_usage(stderr);
			goto out;
		}
	}
	if (!spec.ref || !out || optind != argc) {
		fprintf(stderr,
			"capstan image build: needs -t NAME:TAG and -o OUT.tar and no other "
			"arguments (see capstan image --help)\n");
		goto out;
	}
	if (parse_epoch(&spec.mtime))
		goto out;
	spec.files = files;
	spec.env = env;
	spec.expose = expose;
	if (img_build(&spec, out, &res, err, sizeof(err)) != 0) {
		fprintf(stderr, "capstan image build: %s\n", err);
		rc = 1;
		goto out;
	}
	printf("%s %s %s %llu bytes (layer %s, %llu bytes, %zu entries)\n", out, res.ref,
	       res.manifest_digest, (unsigned long long)res.archive_size, res.layer_digest,
	       (unsigned long long)res.layer_size, res.entries);
	rc = 0;
out:
	for (size_t i = 0; i < spec.nfiles; i++) {
		free((char *)files[i].src);
		free((char *)files[i].dst);
	}
	free(files);
	free(env);
	free(expose);
	return rc;
}

/* ---------------------------------------------------------------- load */

/* The last non-empty line of ctr's output: its error message. */
static const char *last_line(struct buf *b)
{
	char *p;

	if (!b->data)
		return "(no output)";
	while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r'))
		b->data[--b->len] = '\0';
	p = strrchr(b->data, '\n');
	return p ? p + 1 : (b->len ? b->data : "(no output)");
}

/* Is name a line of the `ctr images ls -q` output? */
static bool listed(const char *out, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

/* Run ctr; what names the step ("images import X") in messages. */
static int run_ctr(const char *const argv[], const char *what, struct buf *out, char *err,
		   size_t errlen)
{
	int status, ret = img_run(argv, out, CTR_OUTPUT_MAX, &status);

	if (ret == -ENOENT) {
		errbuf_setf(err, errlen, "%s not found (make deps installs containerd and ctr)",
			    argv[0]);
		return ret;
	}
	if (ret) {
		errbuf_setf(err, errlen, "cannot run %s: %s", argv[0], strerror(-ret));
		return ret;
	}
	if (status != 0) {
		errbuf_setf(err, errlen, "`%s %s` failed (exit %d): %s", argv[0], what, status,
			    last_line(out));
		return -EIO;
	}
	return 0;
}

int img_load(const char *ctr, const char *address, const char *ns, const char *path, char *err,
	     size_t errlen)
{
	struct img_archive a;
	struct buf out = { 0 };
	struct stat st;
	json_t *desc;
	size_t i, names = 0;
	int ret;

	/* ctr would retry a missing socket for seconds before saying so. */
	if (stat(address, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		errbuf_setf(err, errlen, "no containerd socket at %s (is containerd running?)",
			    address);
		return -ENOENT;
	}
	ret = img_archive_open(path, &a, err, errlen);
	if (ret)
		return ret;
	json_array_foreach(json_object_get(a.index, "manifests"), i, desc) {
		names += json_is_string(
			json_object_get(json_object_get(desc, "annotations"), IMG_ANN_IMAGE_NAME));
	}
	if (!names) {
		errbuf_setf(
			err, errlen,
			"%s names no image (no %s annotation in index.json); ctr would import it "
			"under a generated name",
			path, IMG_ANN_IMAGE_NAME);
		ret = -EINVAL;
		goto out;
	}
	{
		const char *import[] = { ctr,	   "--address", address, "-n", ns,
					 "images", "import",	path,	 NULL };

		char *what = xasprintf("images import %s", path);

		ret = run_ctr(import, what, &out, err, errlen);
		free(what);
		if (ret)
			goto out;
	}
	{
		const char *ls[] = {
			ctr, "--address", address, "-n", ns, "images", "ls", "-q", NULL
		};

		buf_reset(&out);
		ret = run_ctr(ls, "images ls", &out, err, errlen);
		if (ret)
			goto out;
	}
	json_array_foreach(json_object_get(a.index, "manifests"), i, desc) {
		const char *name = json_string_value(
			json_object_get(json_object_get(desc, "annotations"), IMG_ANN_IMAGE_NAME));

		if (name && !listed(out.data ? out.data : "", name)) {
			errbuf_setf(
				err, errlen,
				"ctr imported %s but containerd (namespace %s) does not list %s",
				path, ns, name);
			ret = -EIO;
			goto out;
		}
	}
out:
	buf_free(&out);
	img_archive_close(&a);
	return ret;
}

static int cmd_load(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "ctr", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *address = IMG_DEFAULT_ADDRESS, *ns = IMG_DEFAULT_NAMESPACE, *ctr = "ctr";
	char err[2048];
	int opt, rc = 0;

	optind = 0; /* restarts GNU getopt: the caller parsed argv too */
	while ((opt = getopt_long(argc, argv, "a:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			address = optarg;
			break;
		case 'n':
			ns = optarg;
			break;
		case 'c':
			ctr = optarg;
			break;
		case 'h':
			img_cli_usage(stdout);
			return 0;
		default:
			img_cli_usage(stderr);
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "capstan image load: no tarball given\n");
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		if (img_load(ctr, address, ns, argv[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "capstan image load: %s\n", err);
			rc = 1;
			continue;
		}
		printf("loaded %s into %s (namespace %s)\n", argv[i], address, ns);
	}
	return rc;
}

/* ---------------------------------------------------------------- inspect */

static int inspect_one(const char *path)
{
	struct img_archive a;
	char err[1024];
	json_t *desc;
	size_t i;

	if (img_archive_open(path, &a, err, sizeof(err)) != 0) {
		fprintf(stderr, "capstan image inspect: %s\n", err);
		return 1;
	}
	json_array_foreach(json_object_get(a.index, "manifests"), i, desc) {
		const char *name = json_string_value(
			json_object_get(json_object_get(desc, "annotations"), IMG_ANN_IMAGE_NAME));
		const char *digest = json_string_value(json_object_get(desc, "digest"));
		json_t *m = img_archive_json(&a, digest), *l;
		uint64_t total = (uint64_t)json_integer_value(json_object_get(desc, "size"));
		size_t j;

		total += (uint64_t)json_integer_value(
			json_object_get(json_object_get(m, "config"), "size"));
		json_array_foreach(json_object_get(m, "layers"), j, l) {
			total += (uint64_t)json_integer_value(json_object_get(l, "size"));
		}
		printf("%s\t%s\t%s\t%zu layer(s)\t%llu bytes\n", path, name ? name : "(unnamed)",
		       digest, json_array_size(json_object_get(m, "layers")),
		       (unsigned long long)total);
		json_decref(m);
	}
	img_archive_close(&a);
	return 0;
}

static int cmd_inspect(int argc, char **argv)
{
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "capstan image inspect: no tarball given\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		rc |= inspect_one(argv[i]);
	return rc;
}

int img_cli_main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "build", cmd_build },
		{ "load", cmd_load },
		{ "inspect", cmd_inspect },
	};

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		img_cli_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "capstan image: unknown command '%s' (see capstan image --help)\n",
		argv[1]);
	return 2;
}
