/*
 * The thread pool backend: workers take requests in submission order, run
 * them with the ordinary syscalls, and complete them into the ring
 * themselves. Used for buffered files, whose kernel AIO would run
 * synchronously inside io_submit, and whenever io_setup is unavailable.
 */
#ifndef AIOR_ENGINE_POOL_H
#define AIOR_ENGINE_POOL_H

#include <pthread.h>
#include <stdint.h>
#include <linux/aio_abi.h>
#include "engine.h"

struct aior_ctx;
struct aior_req;

/*
 * Owned by engine_pool.c. The queue is under the context's request lock
 * (reqs.lock), which also guards the states the workers set; threads and
 * nthreads are written only by aior_pool_start and aior_pool_stop.
 */
struct aior_pool {
	pthread_cond_t work;                       /* a request was queued, or stop */
	struct aior_req *queue_head, *queue_tail;  /* under reqs.lock */
	pthread_t *threads;                        /* NULL: never started */
	uint32_t nthreads;
	/* the syncs the workers ran (aior_syncs), under reqs.lock */
	uint64_t fsyncs, fdatasyncs;
	struct aior_sync_record syncs[AIOR_SYNC_RECORDS];  /* a ring: sync k at k % AIOR_SYNC_RECORDS */
};

/* 0, or a negative errno (the threads started so far run until stopped). */
int aior_pool_start(struct aior_ctx *ctx, uint32_t threads);
/* Queue a request for the workers; called with reqs.lock held. */
void aior_pool_submit(struct aior_ctx *ctx, struct aior_req *req);
/* Take a request still queued for the caller's iocb off the queue, or NULL; with reqs.lock held. */
struct aior_req *aior_pool_cancel(struct aior_ctx *ctx, const struct iocb *user);
/* Queued requests complete with -ECANCELED, running ones finish; the threads are joined. */
void aior_pool_stop(struct aior_ctx *ctx);
void aior_pool_release(struct aior_ctx *ctx);

#endif
