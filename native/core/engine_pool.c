#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include "context.h"
#include "io_exec.h"

static uint64_t monotonic_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int is_sync(uint16_t op)
{
	return op == IOCB_CMD_FSYNC || op == IOCB_CMD_FDSYNC;
}

/* Run a sync and record it, before its event is published. */
static int64_t run_sync(struct aior_ctx *ctx, struct aior_req *req)
{
	struct aior_pool *pool = &ctx->pool;
	uint64_t start = monotonic_ns();
	int64_t res = aior_execute(req, &ctx->stopping);
	uint64_t end = monotonic_ns();
	uint64_t k;

	pthread_mutex_lock(&ctx->reqs.lock);
	k = pool->fsyncs + pool->fdatasyncs;
	pool->syncs[k % AIOR_SYNC_RECORDS] = (struct aior_sync_record){
		(int32_t)req->cb.aio_fildes, req->cb.aio_lio_opcode, start, end};
	if (req->cb.aio_lio_opcode == IOCB_CMD_FSYNC)
		pool->fsyncs++;
	else
		pool->fdatasyncs++;
	pthread_mutex_unlock(&ctx->reqs.lock);
	return res;
}

static void *worker(void *arg)
{
	struct aior_ctx *ctx = arg;
	struct aior_pool *pool = &ctx->pool;

	for (;;) {
		struct aior_req *req;

		pthread_mutex_lock(&ctx->reqs.lock);
		while (!pool->queue_head && !ctx->stopping)
			pthread_cond_wait(&pool->work, &ctx->reqs.lock);
		req = pool->queue_head;
		if (req == NULL) {
			pthread_mutex_unlock(&ctx->reqs.lock);
			return NULL;
		}
		pool->queue_head = req->next;
		if (pool->queue_head == NULL)
			pool->queue_tail = NULL;
		req->state = REQ_RUNNING;
		pthread_mutex_unlock(&ctx->reqs.lock);
		aior_complete(ctx, req, is_sync(req->cb.aio_lio_opcode) ? run_sync(ctx, req)
								  : aior_execute(req, &ctx->stopping), 0);
	}
}

int aior_pool_start(struct aior_ctx *ctx, uint32_t threads)
{
	struct aior_pool *pool = &ctx->pool;

	pool->threads = calloc(threads, sizeof(pthread_t));
	if (!pool->threads)
		return -ENOMEM;
	pthread_cond_init(&pool->work, NULL);
	for (; pool->nthreads < threads; pool->nthreads++) {
		int r = pthread_create(&pool->threads[pool->nthreads], NULL, worker, ctx);

		if (r)
			return -r;
	}
	return 0;
}

void aior_pool_submit(struct aior_ctx *ctx, struct aior_req *req)
{
	struct aior_pool *pool = &ctx->pool;

	req->state = REQ_QUEUED;
	req->next = NULL;
	if (pool->queue_tail)
		pool->queue_tail->next = req;
	else
		pool->queue_head = req;
	pool->queue_tail = req;
	pthread_cond_signal(&pool->work);
}

struct aior_req *aior_pool_cancel(struct aior_ctx *ctx, const struct iocb *user)
{
	struct aior_pool *pool = &ctx->pool;
	struct aior_req **link, *req;

	for (link = &pool->queue_head; *link; link = &(*link)->next) {
		if ((*link)->user != user)
			continue;
		req = *link;
		*link = req->next;
		if (pool->queue_tail == req) {
			pool->queue_tail = NULL;
			for (struct aior_req *q = pool->queue_head; q; q = q->next)
				pool->queue_tail = q;
		}
		return req;
	}
	return NULL;
}

void aior_pool_stop(struct aior_ctx *ctx)
{
	struct aior_pool *pool = &ctx->pool;
	struct aior_req *queued;

	if (!pool->threads)
		return;
	pthread_mutex_lock(&ctx->reqs.lock);
	queued = pool->queue_head;
	pool->queue_head = pool->queue_tail = NULL;
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&ctx->reqs.lock);
	while (queued) {
		struct aior_req *next = queued->next;

		aior_complete(ctx, queued, -ECANCELED, 0);
		queued = next;
	}
	for (uint32_t i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	pool->nthreads = 0;
}

void aior_syncs(struct aior_ctx *ctx, struct aior_sync_stats *out)
{
	struct aior_pool *pool = &ctx->pool;
	uint64_t total, first;

	pthread_mutex_lock(&ctx->reqs.lock);
	total = pool->fsyncs + pool->fdatasyncs;
	first = total > AIOR_SYNC_RECORDS ? total - AIOR_SYNC_RECORDS : 0;
	out->fsyncs = pool->fsyncs;
	out->fdatasyncs = pool->fdatasyncs;
	out->nrecords = (uint32_t)(total - first);
	for (uint64_t k = first; k < total; k++)
		out->records[k - first] = pool->syncs[k % AIOR_SYNC_RECORDS];
	pthread_mutex_unlock(&ctx->reqs.lock);
}

void aior_pool_release(struct aior_ctx *ctx)
{
	if (!ctx->pool.threads)
		return;
	pthread_cond_destroy(&ctx->pool.work);
	free(ctx->pool.threads);
	ctx->pool.threads = NULL;
}
