/*
 * workqueue.h - Kubernetes' rate-limited work queue, in C.
 *
 * Keys (strings, usually "namespace/name") are added by event handlers and
 * taken by workers. A key is stored once however often it is added
 * (dirty set); a key being processed is not handed to another worker, and
 * if it is added meanwhile it is processed again after wq_done(). Failed
 * keys are re-added after a per-key exponential back-off (5 ms doubling to
 * 1000 s by default), which wq_forget() resets.
 */
#ifndef CAPSTAN_CONTROLLERS_WORKQUEUE_H
#define CAPSTAN_CONTROLLERS_WORKQUEUE_H

#include <stddef.h>

struct workqueue;

/* base_ms / max_ms: the back-off range (0 = 5 ms / 1000 s). */
struct workqueue *wq_new(const char *name, unsigned base_ms, unsigned max_ms);
void wq_free(struct workqueue *q);

void wq_add(struct workqueue *q, const char *key);
/* Add after a delay. */
void wq_add_after(struct workqueue *q, const char *key, unsigned ms);
/* Add after the key's next back-off step (counts a failure). */
void wq_add_rate_limited(struct workqueue *q, const char *key);
/* Reset the key's back-off (after a success). */
void wq_forget(struct workqueue *q, const char *key);
/* Failures counted for key since the last wq_forget. */
unsigned wq_requeues(struct workqueue *q, const char *key);

/*
 * Take the next key into buf (0), wait at most timeout_ms (-ETIMEDOUT; < 0
 * waits for ever), or -ECANCELED after wq_shutdown(). -EINVAL without a
 * buffer; -ENOSPC when the next key does not fit in len (it stays queued).
 * The caller must call wq_done(q, key).
 */
int wq_get(struct workqueue *q, char *buf, size_t len, int timeout_ms);
void wq_done(struct workqueue *q, const char *key);
/* Wake every waiting worker with -ECANCELED; later adds are ignored. */
void wq_shutdown(struct workqueue *q);
/* Keys waiting (not counting delayed ones). */
size_t wq_len(struct workqueue *q);

#endif
