/*
 * cri.h - a CRI (Container Runtime Interface, runtime.v1) client for
 * containerd, over gRPC unary calls on HTTP/2 (nghttp2) on a unix socket,
 * with messages from the project's own .proto subset (proto/cri.proto,
 * package runtime.v1, so generated types are Runtime__V1__<Message>).
 *
 * Every call is one gRPC unary request: a 5-byte length prefix (compressed
 * flag 0 + big-endian length) before the serialized message, headers
 * :method POST, :path /runtime.v1.RuntimeService/<Method> (or
 * ImageService), content-type application/grpc, te: trailers; the status is
 * in the grpc-status trailer (grpc-message for the text).
 *
 * Thread safety: a struct cri may be used from many threads at once. Calls
 * are multiplexed (or spread over a small pool of connections) so that a
 * long call (PullImage) never holds up short ones (ContainerStatus). A
 * broken connection is re-established on the next call.
 */
#ifndef CAPSTAN_KUBELET_CRI_H
#define CAPSTAN_KUBELET_CRI_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "agent/kubelet/proto/cri.pb-c.h"

struct cri;

/* gRPC status codes that callers branch on. */
#define CRI_OK 0
#define CRI_NOT_FOUND 5
#define CRI_ALREADY_EXISTS 6
#define CRI_DEADLINE_EXCEEDED 4
#define CRI_UNAVAILABLE 14

/*
 * endpoint: "unix:///run/containerd/containerd.sock" (or a plain path).
 * 0 with *out set, -errno with a message otherwise. Does not connect yet.
 */
int cri_open(const char *endpoint, struct cri **out, char *err, size_t errlen);
void cri_close(struct cri *c);

/*
 * One unary call. method: the full path, e.g.
 * "/runtime.v1.RuntimeService/Version". *resp (when the call succeeds) is a
 * message of resp_desc to free with protobuf_c_message_free_unpacked(, NULL).
 * Returns 0; a positive gRPC status code (with grpc-message in err); or
 * -errno for transport failures (-ECONNREFUSED, -ETIMEDOUT after
 * timeout_ms, -EPROTO for a malformed answer).
 */
int cri_call(struct cri *c, const char *method, const ProtobufCMessage *req,
	     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
	     int timeout_ms, char *err, size_t errlen);

/*
 * Typed convenience wrappers: same return contract as cri_call, response
 * freed by the caller (protobuf_c_message_free_unpacked). Default timeouts:
 * 2 minutes for RunPodSandbox, PullImage and ExecSync (or its own timeout
 * + 10 s), StopContainer its grace period (timeout) + 10 s, 10 s for the rest.
 */
#define CRI_DECLARE(name, svc, req_t, resp_t)                                              \
	int cri_##name(struct cri *c, const Runtime__V1__##req_t *req,                     \
		       Runtime__V1__##resp_t **resp, char *err, size_t errlen)

CRI_DECLARE(version, RuntimeService, VersionRequest, VersionResponse);
CRI_DECLARE(status, RuntimeService, StatusRequest, StatusResponse);
CRI_DECLARE(run_pod_sandbox, RuntimeService, RunPodSandboxRequest, RunPodSandboxResponse);
CRI_DECLARE(stop_pod_sandbox, RuntimeService, StopPodSandboxRequest, StopPodSandboxResponse);
CRI_DECLARE(remove_pod_sandbox, RuntimeService, RemovePodSandboxRequest,
	    RemovePodSandboxResponse);
CRI_DECLARE(pod_sandbox_status, RuntimeService, PodSandboxStatusRequest,
	    PodSandboxStatusResponse);
CRI_DECLARE(list_pod_sandbox, RuntimeService, ListPodSandboxRequest, ListPodSandboxResponse);
CRI_DECLARE(create_container, RuntimeService, CreateContainerRequest, CreateContainerResponse);
CRI_DECLARE(start_container, RuntimeService, StartContainerRequest, StartContainerResponse);
CRI_DECLARE(stop_container, RuntimeService, StopContainerRequest, StopContainerResponse);
CRI_DECLARE(remove_container, RuntimeService, RemoveContainerRequest, RemoveContainerResponse);
CRI_DECLARE(list_containers, RuntimeService, ListContainersRequest, ListContainersResponse);
CRI_DECLARE(container_status, RuntimeService, ContainerStatusRequest, ContainerStatusResponse);
CRI_DECLARE(exec_sync, RuntimeService, ExecSyncRequest, ExecSyncResponse);
CRI_DECLARE(reopen_container_log, RuntimeService, ReopenContainerLogRequest,
	    ReopenContainerLogResponse);
CRI_DECLARE(image_status, ImageService, ImageStatusRequest, ImageStatusResponse);
CRI_DECLARE(pull_image, ImageService, PullImageRequest, PullImageResponse);
CRI_DECLARE(list_images, ImageService, ListImagesRequest, ListImagesResponse);
CRI_DECLARE(remove_image, ImageService, RemoveImageRequest, RemoveImageResponse);

#endif
