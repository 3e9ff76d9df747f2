/*
 * cri.c - the CRI client (cri.h): protobuf-c messages over grpc.c.
 *
 * This module only encodes, decodes and picks timeouts; connections,
 * concurrency and re-dialling belong to grpc.c. The typed wrappers are one
 * table-like list of CRI_DEFINE lines so a method's path, its types and its
 * timeout sit side by side. Timeouts follow cri.h: long for the calls that
 * do real work in the runtime (pulls, sandbox setup with CNI, exec), short
 * for everything else, and "the runtime's own timeout + 10 s" where the
 * request carries one (ExecSync, and StopContainer, whose grace period can
 * exceed any fixed limit).
 */
#include "agent/kubelet/cri.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/kubelet/grpc.h"
#include "util.h"

#define CRI_TIMEOUT_MS (10 * 1000)
#define CRI_LONG_TIMEOUT_MS (2 * 60 * 1000)
#define CRI_SLACK_MS (10 * 1000)

struct cri {
	struct grpc_client *grpc;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int cri_open(const char *endpoint, struct cri **out, char *err, size_t errlen)
{
	static const char scheme[] = "unix://";
	struct grpc_client *g;
	const char *path;
	int ret;

	if (!endpoint || !out) {
		set_err(err, errlen, "no runtime endpoint");
		return -EINVAL;
	}
	if (strncmp(endpoint, scheme, sizeof(scheme) - 1) == 0)
		path = endpoint + sizeof(scheme) - 1;
	else if (strstr(endpoint, "://"))
		path = NULL;
	else
		path = endpoint;
	if (!path || path[0] != '/') {
		set_err(err, errlen,
			"runtime endpoint %s: want unix:///absolute/path or an absolute path",
			endpoint);
		return -EINVAL;
	}
	ret = grpc_open(path, &g, err, errlen);
	if (ret < 0)
		return ret;
	*out = xcalloc(1, sizeof(**out));
	(*out)->grpc = g;
	return 0;
}

void cri_close(struct cri *c)
{
	if (!c)
		return;
	grpc_close(c->grpc);
	free(c);
}

int cri_call(struct cri *c, const char *method, const ProtobufCMessage *req,
	     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, int timeout_ms,
	     char *err, size_t errlen)
{
	ProtobufCMessage *msg;
	uint8_t *body = NULL;
	void *answer = NULL;
	size_t len, answer_len;
	int ret;

	if (!c || !method || !req || !resp_desc || !resp) {
		set_err(err, errlen, "bad arguments to cri_call");
		return -EINVAL;
	}
	len = protobuf_c_message_get_packed_size(req);
	if (len > GRPC_MAX_MESSAGE) {
		set_err(err, errlen, "%s: request of %zu bytes is too large", method, len);
		return -EMSGSIZE;
	}
	body = xmalloc(len + 1);
	protobuf_c_message_pack(req, body);
	ret = grpc_call(c->grpc, method, body, len, &answer, &answer_len, timeout_ms, err, errlen);
	if (ret != 0)
		goto out;
	msg = protobuf_c_message_unpack(resp_desc, NULL, answer_len, answer);
	if (!msg) {
		set_err(err, errlen, "%s: cannot decode the %zu-byte answer as %s", method,
			answer_len, resp_desc->name);
		ret = -EPROTO;
		goto out;
	}
	*resp = msg;
out:
	free(body);
	free(answer);
	return ret;
}

/* The runtime's own timeout in seconds, plus slack; long when it has none. */
static int runtime_timeout_ms(int64_t seconds, int none_ms)
{
	if (seconds <= 0)
		return none_ms;
	if (seconds > (INT32_MAX - CRI_SLACK_MS) / 1000)
		return INT32_MAX;
	return (int)seconds * 1000 + CRI_SLACK_MS;
}

#define CRI_DEFINE(name, svc, method, req_t, resp_t, timeout)                          \
	CRI_DECLARE(name, svc, req_t, resp_t)                                          \
	{                                                                              \
		if (!req || !resp) {                                                   \
			set_err(err, errlen, "cri_" #name ": no request or response"); \
			return -EINVAL;                                                \
		}                                                                      \
		return cri_call(c, "/runtime.v1." #svc "/" #method, &req->base,        \
				&runtime__v1__##name##_response__descriptor,           \
				(ProtobufCMessage **)resp, (timeout), err, errlen);    \
	}

CRI_DEFINE(version, RuntimeService, Version, VersionRequest, VersionResponse, CRI_TIMEOUT_MS)
CRI_DEFINE(status, RuntimeService, Status, StatusRequest, StatusResponse, CRI_TIMEOUT_MS)
CRI_DEFINE(run_pod_sandbox, RuntimeService, RunPodSandbox, RunPodSandboxRequest,
	   RunPodSandboxResponse, CRI_LONG_TIMEOUT_MS)
CRI_DEFINE(stop_pod_sandbox, RuntimeService, StopPodSandbox, StopPodSandboxRequest,
	   StopPodSandboxResponse, CRI_TIMEOUT_MS)
CRI_DEFINE(remove_pod_sandbox, RuntimeService, RemovePodSandbox, RemovePodSandboxRequest,
	   RemovePodSandboxResponse, CRI_TIMEOUT_MS)
CRI_DEFINE(pod_sandbox_status, RuntimeService, PodSandboxStatus, PodSandboxStatusRequest,
	   PodSandboxStatusResponse, CRI_TIMEOUT_MS)
CRI_DEFINE(list_pod_sandbox, RuntimeService, ListPodSandbox, ListPodSandboxRequest,
	   ListPodSandboxResponse, CRI_TIMEOUT_MS)
CRI_DEFINE(create_container, RuntimeService, CreateContainer, CreateContainerRequest,
	   CreateContainerResponse, CRI_TIMEOUT_MS)
CRI_DEFINE(start_container, RuntimeService, StartContainer, StartContainerRequest,
	   StartContainerResponse, CRI_TIMEOUT_MS)
CRI_DEFINE(stop_container, RuntimeService, StopContainer, StopContainerRequest,
	   StopContainerResponse, runtime_timeout_ms(req->timeout, CRI_TIMEOUT_MS))
CRI_DEFINE(remove_container, RuntimeService, RemoveContainer, RemoveContainerRequest,
	   RemoveContainerResponse, CRI_TIMEOUT_MS)
CRI_DEFINE(list_containers, RuntimeService, ListContainers, ListContainersRequest,
	   ListContainersResponse, CRI_TIMEOUT_MS)
CRI_DEFINE(container_status, RuntimeService, ContainerStatus, ContainerStatusRequest,
	   ContainerStatusResponse, CRI_TIMEOUT_MS)
CRI_DEFINE(exec_sync, RuntimeService, ExecSync, ExecSyncRequest, ExecSyncResponse,
	   runtime_timeout_ms(req->timeout, CRI_LONG_TIMEOUT_MS))
CRI_DEFINE(reopen_container_log, RuntimeService, ReopenContainerLog, ReopenContainerLogRequest,
	   ReopenContainerLogResponse, CRI_TIMEOUT_MS)
CRI_DEFINE(image_status, ImageService, ImageStatus, ImageStatusRequest, ImageStatusResponse,
	   CRI_TIMEOUT_MS)
CRI_DEFINE(pull_image, ImageService, PullImage, PullImageRequest, PullImageResponse,
	   CRI_LONG_TIMEOUT_MS)
CRI_DEFINE(list_images, ImageService, ListImages, ListImagesRequest, ListImagesResponse,
	   CRI_TIMEOUT_MS)
CRI_DEFINE(remove_image, ImageService, RemoveImage, RemoveImageRequest, RemoveImageResponse,
	   CRI_TIMEOUT_MS)
