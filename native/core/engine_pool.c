/*
 * The thread pool backend: workers take requests in submission order, run
 * them with the ordinary syscalls, and complete them into the ring
 * themselves. Used for buffered files, whose kernel AIO would run
 * synchronously inside io_submit, and whenever io_setup is unavailable.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/uio.h>
#include "atomics.h"
#include "engine_internal.h"

/* How often a pending poll request looks whether the context is stopping. */
#define POLL_SLICE_MS 50

static int stopping(struct aior_ctx *ctx)
{
	return aior_load_acquire(&ctx->stopping);
}

static int64_t result(ssize_t r)
{
	return r < 0 ? -errno : r;
}

static int64_t run_poll(struct aior_ctx *ctx, const struct iocb *cb)
{
	struct pollfd p = {(int)cb->aio_fildes, (short)cb->aio_buf, 0};

	for (;;) {
		int r = poll(&p, 1, POLL_SLICE_MS);

		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			return p.revents;
		if (stopping(ctx))
			return -ECANCELED;
	}
}

int64_t aior_execute(struct aior_ctx *ctx, struct aior_req *req)
{
	const struct iocb *cb = &req->cb;
	int fd = (int)cb->aio_fildes;
	void *buf = (void *)(uintptr_t)cb->aio_buf;
	int flags = (int)cb->aio_rw_flags;
	struct iovec one = {buf, cb->aio_nbytes};

	switch (cb->aio_lio_opcode) {
	case IOCB_CMD_PREAD:
		return result(flags ? preadv2(fd, &one, 1, cb->aio_offset, flags)
				    : pread(fd, buf, cb->aio_nbytes, cb->aio_offset));
	case IOCB_CMD_PWRITE:
		return result(flags ? pwritev2(fd, &one, 1, cb->aio_offset, flags)
				    : pwrite(fd, buf, cb->aio_nbytes, cb->aio_offset));
	case IOCB_CMD_PREADV:
		return result(preadv2(fd, req->iov, (int)cb->aio_nbytes, cb->aio_offset, flags));
	case IOCB_CMD_PWRITEV:
		return result(pwritev2(fd, req->iov, (int)cb->aio_nbytes, cb->aio_offset, flags));
	case IOCB_CMD_FSYNC:
		return result(fsync(fd));
	case IOCB_CMD_FDSYNC:
		return result(fdatasync(fd));
	case IOCB_CMD_POLL:
		return run_poll(ctx, cb);
	case IOCB_CMD_NOOP:
		return 0;
	}
	return -EINVAL;
}

static void *worker(void *arg)
{
	struct aior_ctx *ctx = arg;

	for (;;) {
		struct aior_req *req;

		pthread_mutex_lock(&ctx->lock);
		while (!ctx->queue_head && !ctx->stopping)
			pthread_cond_wait(&ctx->work, &ctx->lock);
		req = ctx->queue_head;
		if (req == NULL) {
			pthread_mutex_unlock(&ctx->lock);
			return NULL;
		}
		ctx->queue_head = req->next;
		if (ctx->queue_head == NULL)
			ctx->queue_tail = NULL;
		req->state = REQ_RUNNING;
		pthread_mutex_unlock(&ctx->lock);
		aior_complete(ctx, req, aior_execute(ctx, req), 0);
	}
}

int aior_pool_start(struct aior_ctx *ctx, uint32_t threads)
{
	ctx->threads = calloc(threads, sizeof(pthread_t));
	if (!ctx->threads)
		return -ENOMEM;
	for (; ctx->nthreads < threads; ctx->nthreads++) {
		int r = pthread_create(&ctx->threads[ctx->nthreads], NULL, worker, ctx);

		if (r)
			return -r;
	}
	return 0;
}

/* Called with ctx->lock held. */
void aior_pool_enqueue(struct aior_ctx *ctx, struct aior_req *req)
{
	req->state = REQ_QUEUED;
	req->next = NULL;
	if (ctx->queue_tail)
		ctx->queue_tail->next = req;
	else
		ctx->queue_head = req;
	ctx->queue_tail = req;
	pthread_cond_signal(&ctx->work);
}

/* Queued requests complete with -ECANCELED; running ones finish. */
void aior_pool_stop(struct aior_ctx *ctx)
{
	struct aior_req *queued;

	pthread_mutex_lock(&ctx->lock);
	queued = ctx->queue_head;
	ctx->queue_head = ctx->queue_tail = NULL;
	pthread_cond_broadcast(&ctx->work);
	pthread_mutex_unlock(&ctx->lock);
	while (queued) {
		struct aior_req *next = queued->next;

		aior_complete(ctx, queued, -ECANCELED, 0);
		queued = next;
	}
	for (uint32_t i = 0; i < ctx->nthreads; i++)
		pthread_join(ctx->threads[i], NULL);
	ctx->nthreads = 0;
}
