#include <unistd.h>
#include "atomics.h"
#include "context.h"

/* Signal the caller's own eventfd, as the kernel does for IOCB_FLAG_RESFD. */
static void signal_resfd(int fd)
{
	uint64_t one = 1;
	ssize_t r;

	if (fd >= 0)
		r = write(fd, &one, sizeof(one));
	(void)r;
}

#define COMPLETE_CHUNK 64

/*
 * The embedder asked to hear when the last request in flight completes
 * (aior_notify_idle): the producer that brings the count to 0 rings wake,
 * once. Pairs with aior_notify_idle: each side writes its word, fences and
 * reads the other's, so at least one of them sees the context idle. Called
 * after aior_wake_waiters, whose fence follows this producer's write.
 */
static void wake_if_idle(struct aior_ctx *ctx)
{
	struct aior_completion *c = &ctx->completion;

	if (aior_load_relaxed(&c->idle_wanted) && aior_load_acquire(&ctx->reqs.inflight) == 0 &&
	    aior_exchange_relaxed(&c->idle_wanted, 0) && c->wake)
		c->wake(c->wake_arg);
}

int aior_notify_idle(struct aior_ctx *ctx)
{
	aior_store_seq_cst(&ctx->completion.idle_wanted, 1);
	aior_fence();
	return aior_load_acquire(&ctx->reqs.inflight) > 0;
}

/*
 * A request's slot goes back to the free list before its event is
 * published: a consumer that has reaped an event must be able to submit
 * again at once, or it would get an EAGAIN that in-flight plus unreaped do
 * not explain (the ring's room is accounted by requests_available, which
 * counts the event until it is reaped). The in-flight count drops only
 * after the events are published, so a quiesced context has published
 * every one.
 */
void aior_complete_many(struct aior_ctx *ctx, struct aior_req **reqs, const int64_t *res,
			const int64_t *res2, int n)
{
	struct aior_completion *c = &ctx->completion;

	for (int done = 0; done < n;) {
		struct io_event ev[COMPLETE_CHUNK];
		int resfd[COMPLETE_CHUNK];
		int k = n - done < COMPLETE_CHUNK ? n - done : COMPLETE_CHUNK;
		uint32_t cpu = reqs[done]->cpu;

		pthread_mutex_lock(&ctx->reqs.lock);
		for (int i = 0; i < k; i++) {
			struct aior_req *req = reqs[done + i];

			ev[i] = (struct io_event){req->cb.aio_data, (uint64_t)(uintptr_t)req->user,
						  res[done + i], res2 ? res2[done + i] : 0};
			resfd[i] = req->user_resfd;
			request_put(ctx, req);
		}
		pthread_mutex_unlock(&ctx->reqs.lock);

		/* the chunk's events, then one store of tail for all of them */
		pthread_mutex_lock(&c->lock);
		if (!ctx->is_v2) {
			legacy_produce_many(&c->legacy, ev, (uint32_t)k);
		} else {
			int64_t placed = v2_produce_many(&c->v2, ev, (uint32_t)k);

			/* fewer only when another party forged head: count the rest lost, never drop them unsaid */
			if (placed < k)
				aior_add_acq_rel(&c->lost, (uint32_t)(k - (placed < 0 ? 0 : placed)));
		}
		pthread_mutex_unlock(&c->lock);

		for (int i = 0; i < k; i++)
			signal_resfd(resfd[i]);
		pthread_mutex_lock(&ctx->reqs.lock);
		requests_completed(ctx, cpu, (uint32_t)k);
		pthread_mutex_unlock(&ctx->reqs.lock);
		done += k;
	}
	aior_wake_waiters(ctx);
	wake_if_idle(ctx);
}

uint32_t aior_lost(const struct aior_ctx *ctx)
{
	return aior_load_acquire(&ctx->completion.lost);
}

uint32_t aior_produced(const struct aior_ctx *ctx)
{
	/* acquire: pairs with the producer's store of its private tail, after the events */
	return ctx->is_v2 ? aior_load_acquire(&ctx->completion.v2.tail) : aior_load_acquire(&ctx->completion.legacy.tail);
}

void aior_complete(struct aior_ctx *ctx, struct aior_req *req, int64_t res, int64_t res2)
{
	aior_complete_many(ctx, &req, &res, &res2, 1);
}

void aior_complete_events(struct aior_ctx *ctx, const struct io_event *ev, uint32_t n)
{
	struct aior_completion *c = &ctx->completion;

	if (n == 0)
		return;
	pthread_mutex_lock(&c->lock);
	if (!ctx->is_v2) {
		legacy_produce_many(&c->legacy, ev, n);
	} else {
		int64_t placed = v2_produce_many(&c->v2, ev, n);

		/* as aior_complete_many: what a forged head left no room for is lost, and said so */
		if (placed < (int64_t)n)
			aior_add_acq_rel(&c->lost, n - (uint32_t)(placed < 0 ? 0 : placed));
	}
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&ctx->reqs.lock);
	requests_published(ctx, requests_cpu(ctx), n);
	pthread_mutex_unlock(&ctx->reqs.lock);
	aior_wake_waiters(ctx);
}

void aior_wake_waiters(struct aior_ctx *ctx)
{
	struct aior_completion *c = &ctx->completion;

	/* Pairs with the waiter's: announce, full fence, look at the ring again. */
	aior_fence();
	if ((aior_load_relaxed(c->wait_flags) & AIORING_V2_WAITER) && c->wake) {
		aior_add_relaxed(c->wakeups, 1);
		c->wake(c->wake_arg);
	}
}
