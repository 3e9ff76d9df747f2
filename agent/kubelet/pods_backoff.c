/*
 * pods_backoff.c - the restart and image pull back-off (see pods.h).
 *
 * One entry per container (restarts) or per image of a pod (pulls), kept
 * by the pod's worker. The schedule is upstream's flowcontrol.Backoff: a
 * first failure is retried at once and starts the delay at 10 s; each later
 * retry doubles it up to 5 min; an entry whose last step is more than twice
 * the maximum ago (10 min: the container then ran that long without a
 * problem) starts over. Times are the event's own (a container's finish
 * time from CRI), so a kubelet restart in between does not shift them; the
 * entries themselves live in memory and start over with the kubelet, as
 * upstream's do.
 */
#include <stdio.h>

#include "agent/kubelet/pods.h"

static bool expired(const struct pods_backoff *b, int64_t t)
{
	return t - b->last_ns > 2 * PODS_BACKOFF_MAX_NS;
}

bool pods_backoff_active(const struct pods_backoff *b, int64_t event_ns, int64_t now_ns)
{
	/* Expiry is judged at the event: a container that ran 10 min starts over. */
	if (!b->delay_ns || expired(b, event_ns))
		return false;
	return now_ns - event_ns < b->delay_ns;
}

void pods_backoff_next(struct pods_backoff *b, int64_t event_ns)
{
	if (!b->delay_ns || expired(b, event_ns))
		b->delay_ns = PODS_BACKOFF_INITIAL_NS;
	else if (b->delay_ns < PODS_BACKOFF_MAX_NS)
		b->delay_ns = b->delay_ns * 2 > PODS_BACKOFF_MAX_NS ? PODS_BACKOFF_MAX_NS
								    : b->delay_ns * 2;
	b->last_ns = event_ns;
}

int64_t pods_backoff_until(const struct pods_backoff *b, int64_t event_ns)
{
	return b->delay_ns ? event_ns + b->delay_ns : 0;
}

void pods_backoff_string(int64_t ns, char *buf, size_t len)
{
	long long s = (long long)(ns / PODS_NS_PER_S);

	if (s >= 3600)
		snprintf(buf, len, "%lldh%lldm%llds", s / 3600, s % 3600 / 60, s % 60);
	else if (s >= 60)
		snprintf(buf, len, "%lldm%llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%llds", s);
}
