/*
 * Completing requests into the context's ring (legacy or v2) and waking
 * the waiters that announced themselves.
 */
#ifndef AIOR_COMPLETION_H
#define AIOR_COMPLETION_H

#include <pthread.h>
#include <stdint.h>
#include "legacy_ring.h"
#include "v2_ring.h"

struct aior_ctx;
struct aior_req;

/* A small page beside the ring: where a legacy-ring waiter announces itself. */
struct aior_control {
	uint32_t wait_flags;
	uint32_t wakeups;
};

/*
 * Owned by completion.c. Producers (pool workers, the read helper, the
 * kernel's mover, a submitter serving reads inline) take lock, as
 * aio_complete takes the kernel's, so the producer state stays private:
 * nothing a consumer writes to the ring can steer where events go.
 */
struct aior_completion {
	pthread_mutex_t lock;
	struct legacy_producer legacy;  /* under lock; the legacy ring's */
	struct v2_producer v2;          /* under lock; the v2 ring's */
	/* set at setup, read-only after */
	uint32_t *wait_flags;           /* where a waiter announces itself */
	uint32_t *wakeups;              /* counts the wakes rung */
	void (*wake)(void *);           /* the embedder's: called from producer threads */
	void *wake_arg;
	uint32_t idle_wanted;           /* atomic: ring wake once nothing is in flight (aior_notify_idle) */
	/*
	 * atomic: events the v2 ring had no room for because another party
	 * forged its shared head (capacity accounting leaves room for every
	 * request otherwise); nonzero breaks the context for good (aior_lost)
	 */
	uint32_t lost;
};

/*
 * Complete n requests into the ring, in order, in one pass over the locks
 * (res2 may be NULL: all 0); their slots go back to the table. Called
 * without the request lock.
 */
void aior_complete_many(struct aior_ctx *ctx, struct aior_req **reqs, const int64_t *res,
			const int64_t *res2, int n);
void aior_complete(struct aior_ctx *ctx, struct aior_req *req, int64_t res, int64_t res2);
/* Ring the embedder's wake callback if a waiter announced itself. */
void aior_wake_waiters(struct aior_ctx *ctx);

#endif
