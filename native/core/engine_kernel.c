/*
 * The kernel AIO backend. Every request carries IOCB_FLAG_RESFD with our
 * eventfd; a mover thread waits on it, then reaps the kernel's own ring in
 * userspace (legacy_reap: no syscall per event) and completes each event
 * into the context's ring. In passthrough mode the kernel's ring is the
 * context's ring, and the thread only wakes waiters.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "atomics.h"
#include "engine_internal.h"
#include "system_info.h"

#define MOVE_BATCH 64
/* How long the mover leaves new completions to a waiting consumer. */
#define MOVER_GRACE_US 200
/* pause-loops the mover keeps watching after a batch (a few tens of µs) */
#define MOVER_LINGER_SPINS 20000

static int passthrough(const struct aior_ctx *ctx)
{
	return ctx->flags & AIORING_SETUP_KERNEL_RING;
}

/*
 * The kernel's ring lives in memory this process can write, so an event's
 * obj is checked to name one of our requests with the kernel before use.
 */
static struct aior_req *request_of(struct aior_ctx *ctx, uint64_t obj)
{
	uintptr_t base = (uintptr_t)ctx->reqs, p = (uintptr_t)obj;
	struct aior_req *req;

	if (p < base || p >= base + ctx->capacity * sizeof(*ctx->reqs) ||
	    (p - base) % sizeof(*ctx->reqs))
		return NULL;
	req = (struct aior_req *)p;
	return __atomic_load_n(&req->state, __ATOMIC_ACQUIRE) == REQ_KERNEL ? req : NULL;
}

static void move_completions(struct aior_ctx *ctx)
{
	struct io_event ev[MOVE_BATCH];
	uint32_t n;

	struct aior_req *reqs[MOVE_BATCH];
	int64_t res[MOVE_BATCH], res2[MOVE_BATCH];

	/* held across the completions too, so events keep the kernel's order */
	pthread_mutex_lock(&ctx->kring_lock);
	while ((n = legacy_reap(&ctx->kring, ev, MOVE_BATCH)) > 0) {
		int k = 0;

		for (uint32_t i = 0; i < n; i++) {
			struct aior_req *req = request_of(ctx, ev[i].obj);

			if (req) {
				reqs[k] = req;
				res[k] = ev[i].res;
				res2[k++] = ev[i].res2;
			}
		}
		/* one pass over the locks and one wakeup for the whole batch */
		if (k)
			aior_complete_many(ctx, reqs, res, res2, k);
	}
	pthread_mutex_unlock(&ctx->kring_lock);
}

void aior_kernel_move(struct aior_ctx *ctx)
{
	move_completions(ctx);
}

int aior_kernel_fd(const struct aior_ctx *ctx)
{
	return ctx->kctx ? ctx->eventfd : -1;
}

int aior_service(struct aior_ctx *ctx)
{
	uint64_t count;
	ssize_t r;

	if (!ctx->kctx)
		return 0;
	__atomic_add_fetch(&ctx->service_calls, 1, __ATOMIC_RELAXED);
	r = read(ctx->eventfd, &count, sizeof(count));
	if (!passthrough(ctx))
		move_completions(ctx);
	return r > 0;
}

/*
 * After a batch, watch the kernel's ring a little longer before sleeping:
 * with a program that reaps the ring itself and never comes to
 * io_getevents (fio's userspace_reap), the next completions are moved
 * without another eventfd wakeup (bench:fio userspace_reap=1: 0.50x ->
 * 1.24x the kernel's libaio).
 */
static void mover_linger(struct aior_ctx *ctx)
{
	uint32_t calls = aior_load_acquire(&ctx->service_calls);

	/* a consumer that comes for its events itself needs no lingering mover */
	if (calls != ctx->service_seen) {
		ctx->service_seen = calls;
		return;
	}
	for (int spin = 0; spin < MOVER_LINGER_SPINS; spin++) {
		if (aior_load_acquire(ctx->wait_flags) & AIORING_V2_WAITER)
			return;
		if (legacy_count(&ctx->kring) > 0) {
			move_completions(ctx);
			spin = 0;
		}
		aior_cpu_relax();
	}
}

static void *mover(void *arg)
{
	struct aior_ctx *ctx = arg;

	for (;;) {
		struct pollfd p = {ctx->eventfd, POLLIN, 0};
		uint64_t count;

		/* non-blocking: a waiting JavaScript thread may read it first */
		if (poll(&p, 1, -1) < 0)
			continue;
		/*
		 * A consumer waiting in io_getevents (or getEvents) services the
		 * eventfd itself: step aside for it rather than race it for the
		 * kernel's ring, and take over only what it left.
		 */
		if (aior_load_acquire(ctx->wait_flags) & AIORING_V2_WAITER)
			usleep(MOVER_GRACE_US);
		if (read(ctx->eventfd, &count, sizeof(count)) < 0) {
			if (aior_load_acquire(&ctx->mover_stop))
				return NULL;
			continue;
		}
		if (passthrough(ctx)) {
			aior_wake_waiters(ctx);
		} else {
			move_completions(ctx);
			mover_linger(ctx);
		}
		if (aior_load_acquire(&ctx->mover_stop))
			return NULL;
	}
}

int aior_kernel_start(struct aior_ctx *ctx, uint32_t nr_events)
{
	aio_context_t kctx = 0;
	size_t len;
	uint32_t nr;
	int r;

	if (syscall(SYS_io_setup, nr_events, &kctx) < 0) {
		ctx->kernel_error = errno;
		return -errno;
	}
	/* The mapping's length is the trusted bound on the kernel ring's nr. */
	len = system_mapping_length((uintptr_t)kctx);
	if (legacy_validate((void *)kctx, len, &nr) != RING_OK) {
		syscall(SYS_io_destroy, kctx);
		ctx->kernel_error = EFAULT;
		return -EFAULT;
	}
	ctx->eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctx->eventfd < 0) {
		ctx->kernel_error = errno;
		syscall(SYS_io_destroy, kctx);
		return -ctx->kernel_error;
	}
	ctx->kctx = kctx;
	pthread_mutex_init(&ctx->kring_lock, NULL);
	legacy_consumer_init(&ctx->kring, (struct aio_ring *)kctx, nr);
	/* passthrough: what the watcher does, the embedder's waiters do themselves */
	if (passthrough(ctx) && ctx->waits_on_kernel_fd)
		return 0;
	r = pthread_create(&ctx->mover, NULL, mover, ctx);
	if (r) {
		ctx->kernel_error = r;
		return -r;
	}
	ctx->mover_running = 1;
	return 0;
}

/* Called with ctx->lock held. */
long aior_kernel_submit_reqs(struct aior_ctx *ctx, struct aior_req **reqs, long n)
{
	struct iocb *cbs[64];
	long r, i;

	if (n > 64)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct iocb *cb = &reqs[i]->cb;

		if (reqs[i]->iov)
			cb->aio_buf = (uint64_t)(uintptr_t)reqs[i]->iov;
		cb->aio_flags |= IOCB_FLAG_RESFD;
		cb->aio_resfd = (uint32_t)ctx->eventfd;
		__atomic_store_n(&reqs[i]->state, REQ_KERNEL, __ATOMIC_RELEASE);
		cbs[i] = cb;
	}
	r = syscall(SYS_io_submit, ctx->kctx, n, cbs);
	if (r < 0)
		r = -errno;
	for (i = r < 0 ? 0 : r; i < n; i++)
		__atomic_store_n(&reqs[i]->state, REQ_FREE, __ATOMIC_RELEASE);
	return r;
}

long aior_kernel_submit_batch(struct aior_ctx *ctx, struct iocb **iocbs, long n)
{
	long r = syscall(SYS_io_submit, ctx->kctx, n, iocbs);

	return r < 0 ? -errno : r;
}

void aior_kernel_stop_threads(struct aior_ctx *ctx)
{
	uint64_t one = 1;
	ssize_t w;

	if (!ctx->kctx)
		return;
	/* Kernel requests always complete: wait for the mover to bring them in. */
	if (!passthrough(ctx)) {
		pthread_mutex_lock(&ctx->lock);
		while (aior_load_acquire(&ctx->inflight) > 0)
			pthread_cond_wait(&ctx->idle, &ctx->lock);
		pthread_mutex_unlock(&ctx->lock);
	}
	if (ctx->mover_running) {
		aior_store_release(&ctx->mover_stop, 1);
		w = write(ctx->eventfd, &one, sizeof(one));
		(void)w;
		pthread_join(ctx->mover, NULL);
		ctx->mover_running = 0;
	}
}

void aior_kernel_release(struct aior_ctx *ctx)
{
	if (!ctx->kctx)
		return;
	aior_kernel_stop_threads(ctx);
	/* io_destroy waits for whatever the kernel still holds, then unmaps its ring */
	syscall(SYS_io_destroy, ctx->kctx);
	ctx->kctx = 0;
	close(ctx->eventfd);
	ctx->eventfd = -1;
}
