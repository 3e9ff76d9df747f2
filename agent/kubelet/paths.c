/* paths.c - where the kubelet keeps things on disk (see kubelet.h). */
#include <stdio.h>

#include "agent/kubelet/kubelet.h"

void kl_pod_log_dir(const struct kubelet *k, const char *ns, const char *name, const char *uid,
		    char *buf, size_t len)
{
	snprintf(buf, len, "%s/pod-logs/%s_%s_%s", k->cfg.root_dir, ns, name, uid);
}
