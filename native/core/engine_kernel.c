#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "atomics.h"
#include "context.h"
#include "system_info.h"

#define MOVE_BATCH 64
/* How long the mover leaves new completions to a waiting consumer. */
#define MOVER_GRACE_US 200
/* pause-loops the mover keeps looking after a batch (a few tens of µs) */
#define MOVER_LINGER_SPINS 20000

static int passthrough(const struct aior_ctx *ctx)
{
	return ctx->flags & AIORING_SETUP_KERNEL_RING;
}

void aior_kernel_move(struct aior_ctx *ctx)
{
	struct aior_kernel *k = &ctx->kernel;
	struct io_event ev[MOVE_BATCH];
	struct aior_req *reqs[MOVE_BATCH];
	int64_t res[MOVE_BATCH], res2[MOVE_BATCH];
	uint32_t n;

	/* held across the completions too, so events keep the kernel's order */
	pthread_mutex_lock(&k->ring_lock);
	while ((n = legacy_reap(&k->ring, ev, MOVE_BATCH)) > 0) {
		int m = 0;

		for (uint32_t i = 0; i < n; i++) {
			struct aior_req *req = request_with_kernel(ctx, ev[i].obj);

			if (req) {
				reqs[m] = req;
				res[m] = ev[i].res;
				res2[m++] = ev[i].res2;
			}
		}
		/* one pass over the locks and one wakeup for the whole batch */
		if (m)
			aior_complete_many(ctx, reqs, res, res2, m);
	}
	pthread_mutex_unlock(&k->ring_lock);
}

int aior_kernel_fd(const struct aior_ctx *ctx)
{
	return ctx->kernel.kctx ? ctx->kernel.eventfd : -1;
}

int aior_service(struct aior_ctx *ctx)
{
	uint64_t count;
	ssize_t r;

	if (!ctx->kernel.kctx)
		return 0;
	aior_add_relaxed(&ctx->kernel.service_calls, 1);
	r = read(ctx->kernel.eventfd, &count, sizeof(count));
	if (!passthrough(ctx))
		aior_kernel_move(ctx);
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
	struct aior_kernel *k = &ctx->kernel;
	uint32_t calls = aior_load_acquire(&k->service_calls);

	/* a consumer that comes for its events itself needs no lingering mover */
	if (calls != k->service_seen) {
		k->service_seen = calls;
		return;
	}
	for (int spin = 0; spin < MOVER_LINGER_SPINS; spin++) {
		if (aior_load_acquire(ctx->completion.wait_flags) & AIORING_V2_WAITER)
			return;
		if (legacy_count(&k->ring) > 0) {
			aior_kernel_move(ctx);
			spin = 0;
		}
		aior_cpu_relax();
	}
}

static void *mover(void *arg)
{
	struct aior_ctx *ctx = arg;
	struct aior_kernel *k = &ctx->kernel;

	for (;;) {
		struct pollfd p = {k->eventfd, POLLIN, 0};
		uint64_t count;

		/* non-blocking: a waiting JavaScript thread may read it first */
		if (poll(&p, 1, -1) < 0)
			continue;
		/*
		 * A consumer waiting in io_getevents (or getEvents) services the
		 * eventfd itself: step aside for it rather than race it for the
		 * kernel's ring, and take over only what it left.
		 */
		if (aior_load_acquire(ctx->completion.wait_flags) & AIORING_V2_WAITER)
			usleep(MOVER_GRACE_US);
		if (read(k->eventfd, &count, sizeof(count)) < 0) {
			if (aior_load_acquire(&k->mover_stop))
				return NULL;
			continue;
		}
		if (passthrough(ctx)) {
			aior_wake_waiters(ctx);
		} else {
			aior_kernel_move(ctx);
			mover_linger(ctx);
		}
		if (aior_load_acquire(&k->mover_stop))
			return NULL;
	}
}

int aior_kernel_start(struct aior_ctx *ctx, uint32_t nr_events, int waits_on_fd)
{
	struct aior_kernel *k = &ctx->kernel;
	aio_context_t kctx = 0;
	size_t len;
	uint32_t nr;
	int r;

	if (syscall(SYS_io_setup, nr_events, &kctx) < 0) {
		k->error = errno;
		return -errno;
	}
	/* The mapping's length is the trusted bound on the kernel ring's nr. */
	len = system_mapping_length((uintptr_t)kctx);
	if (legacy_validate((void *)kctx, len, &nr) != RING_OK) {
		syscall(SYS_io_destroy, kctx);
		k->error = EFAULT;
		return -EFAULT;
	}
	k->eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->eventfd < 0) {
		k->error = errno;
		syscall(SYS_io_destroy, kctx);
		return -k->error;
	}
	k->kctx = kctx;
	k->waits_on_fd = waits_on_fd;
	pthread_mutex_init(&k->ring_lock, NULL);
	legacy_consumer_init(&k->ring, (struct aio_ring *)kctx, nr);
	/* passthrough: what the mover does, the embedder's waiters do themselves */
	if (passthrough(ctx) && k->waits_on_fd)
		return 0;
	r = pthread_create(&k->mover, NULL, mover, ctx);
	if (r) {
		k->error = r;
		return -r;
	}
	k->mover_running = 1;
	return 0;
}

long aior_kernel_submit(struct aior_ctx *ctx, struct aior_req **reqs, long n)
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
		cb->aio_resfd = (uint32_t)ctx->kernel.eventfd;
		request_set_state(reqs[i], REQ_KERNEL);
		cbs[i] = cb;
	}
	r = syscall(SYS_io_submit, ctx->kernel.kctx, n, cbs);
	if (r < 0)
		r = -errno;
	for (i = r < 0 ? 0 : r; i < n; i++)
		request_set_state(reqs[i], REQ_FREE);
	return r;
}

long aior_kernel_submit_passthrough(struct aior_ctx *ctx, struct iocb *const *iocbs, long n)
{
	for (long i = 0; i < n; i++) {
		/* the mover hears of completions through our eventfd */
		if (!(iocbs[i]->aio_flags & IOCB_FLAG_RESFD)) {
			iocbs[i]->aio_flags |= IOCB_FLAG_RESFD;
			iocbs[i]->aio_resfd = (uint32_t)ctx->kernel.eventfd;
		}
	}
	for (long done = 0; done < n;) {
		long run = n - done < KERNEL_RUN ? n - done : KERNEL_RUN;
		long r = syscall(SYS_io_submit, ctx->kernel.kctx, run, iocbs + done);

		if (r < 0)
			return done ? done : -errno;
		done += r;
		if (r < run)
			return done;
	}
	return n;
}

void aior_kernel_stop(struct aior_ctx *ctx)
{
	struct aior_kernel *k = &ctx->kernel;
	uint64_t one = 1;
	ssize_t w;

	if (!k->kctx)
		return;
	/* Kernel requests always complete: wait for the mover to bring them in. */
	if (!passthrough(ctx))
		requests_wait_idle(ctx);
	if (k->mover_running) {
		aior_store_release(&k->mover_stop, 1);
		w = write(k->eventfd, &one, sizeof(one));
		(void)w;
		pthread_join(k->mover, NULL);
		k->mover_running = 0;
	}
}

void aior_kernel_release(struct aior_ctx *ctx)
{
	struct aior_kernel *k = &ctx->kernel;

	if (!k->kctx)
		return;
	aior_kernel_stop(ctx);
	/* io_destroy waits for whatever the kernel still holds, then unmaps its ring */
	syscall(SYS_io_destroy, k->kctx);
	k->kctx = 0;
	close(k->eventfd);
	k->eventfd = -1;
}
