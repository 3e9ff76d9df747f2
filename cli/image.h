/*
 * image.h - `capstan image`: build OCI image tarballs from host files
 * (image_build.h does the work), import them into containerd, and show what
 * a tarball holds.
 *
 *   capstan image build -t NAME:TAG [--busybox] [--add SRC:DST[:MODE]]...
 *         [--entrypoint JSON] [--cmd JSON] [--env K=V]... [--workdir DIR]
 *         [--expose PORT[/PROTO]]... -o OUT.tar
 *   capstan image load [--address SOCK] [--namespace NS] OUT.tar...
 *   capstan image inspect OUT.tar...
 *
 * `load` runs `ctr images import` (containerd's own importer, so the content
 * store, leases and unpacking are containerd's business) and then checks
 * with `ctr images ls` that every name the tarball's index carries is
 * listed, because ctr imports an index without names silently and under a
 * generated name. Each failing step is reported with ctr's own output.
 */
#ifndef CAPSTAN_CLI_IMAGE_H
#define CAPSTAN_CLI_IMAGE_H

#include <stddef.h>
#include <stdio.h>

#define IMG_DEFAULT_ADDRESS "/run/containerd/containerd.sock"
#define IMG_DEFAULT_NAMESPACE "k8s.io"

/* argv[0] is "image". Returns the process exit status (0, 1 failure, 2 usage). */
int img_cli_main(int argc, char **argv);
void img_cli_usage(FILE *f);

/*
 * Parse an --add argument "SRC:DST[:MODE]": DST is the first component that
 * starts with '/' after a ':', MODE octal (<= 07777). 0 with *src and *dst
 * malloc'd (the caller frees) and *mode set (-1 when absent); -EINVAL
 * otherwise, nothing allocated.
 */
int img_parse_add(const char *arg, char **src, char **dst, int *mode);

/*
 * Import one tarball into containerd through ctr (program name or path),
 * then check that the names in its index are listed. 0 on success; -EINVAL
 * when the tarball is not an OCI layout or names no image, -ENOENT when ctr
 * or the containerd socket is missing, -EIO when ctr failed; err holds the
 * message (with ctr's output).
 */
int img_load(const char *ctr, const char *address, const char *ns, const char *path, char *err,
	     size_t errlen);

#endif
