#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "atomics.h"
#include "context.h"
#include "system_info.h"

static int kreqs_start(struct aior_ctx *ctx)
{
	struct kernel_reqs *k = calloc(1, sizeof(*k));
	uint32_t cpus = (uint32_t)system_possible_cpus();

	if (!k || !(k->cpu = calloc(cpus, sizeof(*k->cpu)))) {
		free(k);
		return -ENOMEM;
	}
	k->ncpus = cpus;
	k->batch = ctx->capacity / (cpus * 4);
	if (k->batch < 1)
		k->batch = 1;
	k->global = ctx->capacity;
	ctx->reqs.kreqs = k;
	return 0;
}

int requests_setup(struct aior_ctx *ctx)
{
	struct aior_requests *r = &ctx->reqs;

	/* what an adopted ring already holds counts as accepted */
	r->accepted = ctx->is_v2 ? ctx->completion.v2.tail : ctx->completion.legacy.tail;
	if (requests_available(ctx) == 0)
		return -EAGAIN;
	r->table = calloc(ctx->capacity, sizeof(*r->table));
	if (!r->table)
		return -ENOMEM;
	for (uint32_t i = ctx->capacity; i-- > 0;) {
		r->table[i].next = r->free_list;
		r->free_list = &r->table[i];
	}
	if (ctx->flags & AIORING_SETUP_KERNEL_REQS)
		return kreqs_start(ctx);
	return 0;
}

void requests_release(struct aior_ctx *ctx)
{
	struct aior_requests *r = &ctx->reqs;

	if (r->table)
		for (uint32_t i = 0; i < ctx->capacity; i++)
			free(r->table[i].iov);
	free(r->table);
	if (r->kreqs)
		free(r->kreqs->cpu);
	free(r->kreqs);
}

/*
 * Every request accepted is in flight, published and unreaped, or reaped:
 * so accepted minus the consumer's head is exactly what occupies the ring,
 * with no window in which a completing request is counted twice (a
 * spurious EAGAIN that fio, for one, waits on forever). head is the
 * consumer's word, so it is clamped.
 */
uint32_t requests_available(struct aior_ctx *ctx)
{
	uint32_t accepted = ctx->reqs.accepted, used;

	if (ctx->is_v2)
		used = accepted - aior_load_acquire(ctx->completion.v2.ring.head);
	else
		used = (accepted + ctx->nr -
			aior_load_acquire(&ctx->completion.legacy.ring->head) % ctx->nr) % ctx->nr;
	return used >= ctx->capacity ? 0 : ctx->capacity - used;
}

int requests_corrupt(struct aior_ctx *ctx)
{
	return ctx->is_v2 &&
	       ctx->reqs.accepted - aior_load_acquire(ctx->completion.v2.ring.head) > ctx->capacity;
}

/* Count a request accepted (+1) or given back (-1): free-running for v2, mod nr for legacy. */
static void account(struct aior_ctx *ctx, int delta)
{
	if (ctx->is_v2)
		ctx->reqs.accepted += (uint32_t)delta;
	else
		ctx->reqs.accepted = (ctx->reqs.accepted + ctx->nr + (uint32_t)delta) % ctx->nr;
}

uint32_t requests_cpu(const struct aior_ctx *ctx)
{
	const struct kernel_reqs *k = ctx->reqs.kreqs;
	int cpu;

	if (!k)
		return 0;
	cpu = sched_getcpu();
	return cpu >= 0 && (uint32_t)cpu < k->ncpus ? (uint32_t)cpu : 0;
}

/* put_reqs_available: back to a CPU's cache, the surplus to the global count. */
static void kreqs_put(struct kernel_reqs *k, uint32_t cpu, uint32_t n)
{
	k->cpu[cpu] += n;
	while (k->cpu[cpu] >= k->batch * 2) {
		k->cpu[cpu] -= k->batch;
		k->global += k->batch;
	}
}

/* get_reqs_available */
static int kreqs_get(struct kernel_reqs *k, uint32_t cpu)
{
	if (k->cpu[cpu] == 0) {
		if (k->global < k->batch)
			return 0;
		k->global -= k->batch;
		k->cpu[cpu] += k->batch;
	}
	k->cpu[cpu]--;
	return 1;
}

/* refill_reqs_available: the completed events that have left the ring come back. */
static void kreqs_refill(struct aior_ctx *ctx, uint32_t cpu)
{
	struct kernel_reqs *k = ctx->reqs.kreqs;
	uint32_t in_ring, completed;

	if (ctx->is_v2) {
		in_ring = aior_load_acquire(&ctx->completion.v2.tail) - aior_load_acquire(ctx->completion.v2.ring.head);
	} else {
		uint32_t head = aior_load_acquire(&ctx->completion.legacy.ring->head) % ctx->nr;
		uint32_t tail = aior_load_acquire(&ctx->completion.legacy.tail);

		in_ring = head <= tail ? tail - head : ctx->nr - (head - tail);
	}
	completed = k->completed > in_ring ? k->completed - in_ring : 0;
	if (completed) {
		k->completed -= completed;
		kreqs_put(k, cpu, completed);
	}
}

/* aio_get_req's accounting: a request, or refill from the ring and try again. */
static int kreqs_take(struct aior_ctx *ctx, uint32_t cpu)
{
	if (kreqs_get(ctx->reqs.kreqs, cpu))
		return 1;
	kreqs_refill(ctx, cpu);
	return kreqs_get(ctx->reqs.kreqs, cpu);
}

/* Vectored requests: copy the caller's iovecs, as the kernel imports them. */
static int copy_iovecs(struct aior_req *req)
{
	size_t n = req->cb.aio_nbytes;

	if (!iocb_is_vectored(req->cb.aio_lio_opcode))
		return 0;
	req->iov = malloc((n ? n : 1) * sizeof(struct iovec));
	if (!req->iov)
		return -ENOMEM;
	memcpy(req->iov, (const void *)(uintptr_t)req->cb.aio_buf, n * sizeof(struct iovec));
	return 0;
}

int request_take(struct aior_ctx *ctx, struct iocb *user, uint32_t cpu, struct aior_req **out)
{
	struct aior_requests *r = &ctx->reqs;
	struct aior_req *req;
	int err;

	if (r->kreqs && !kreqs_take(ctx, cpu))
		return -EAGAIN;
	req = r->free_list;
	r->free_list = req->next;
	req->next = NULL;
	req->cb = *user;
	req->user = user;
	req->iov = NULL;
	req->user_resfd = user->aio_flags & IOCB_FLAG_RESFD ? (int)user->aio_resfd : -1;
	req->cpu = cpu;
	err = copy_iovecs(req);
	if (err) {
		if (r->kreqs)
			kreqs_put(r->kreqs, cpu, 1);
		request_put(ctx, req);
		return err;
	}
	aior_add_acq_rel(&r->inflight, 1);
	account(ctx, 1);
	*out = req;
	return 0;
}

void request_give_back(struct aior_ctx *ctx, struct aior_req *req)
{
	aior_sub_acq_rel(&ctx->reqs.inflight, 1);
	account(ctx, -1);
	if (ctx->reqs.kreqs)
		kreqs_put(ctx->reqs.kreqs, req->cpu, 1);
	request_put(ctx, req);
}

void request_put(struct aior_ctx *ctx, struct aior_req *req)
{
	free(req->iov);
	req->iov = NULL;
	req->state = REQ_FREE;
	req->next = ctx->reqs.free_list;
	ctx->reqs.free_list = req;
}

void requests_completed(struct aior_ctx *ctx, uint32_t cpu, uint32_t n)
{
	struct kernel_reqs *k = ctx->reqs.kreqs;

	/* aio_complete: count the event, give back what has left the ring */
	if (k) {
		k->completed += n;
		if (k->completed > 1)
			kreqs_refill(ctx, cpu);
	}
	aior_sub_acq_rel(&ctx->reqs.inflight, n);
	pthread_cond_broadcast(&ctx->reqs.idle);
}

int requests_busy(const struct aior_ctx *ctx, const struct iocb *user)
{
	int busy = 0;

	for (uint32_t i = 0; i < ctx->capacity; i++)
		busy |= ctx->reqs.table[i].state != REQ_FREE && ctx->reqs.table[i].user == user;
	return busy;
}

struct aior_req *request_with_kernel(struct aior_ctx *ctx, uint64_t obj)
{
	uintptr_t base = (uintptr_t)ctx->reqs.table, p = (uintptr_t)obj;
	struct aior_req *req;

	if (p < base || p >= base + ctx->capacity * sizeof(*ctx->reqs.table) ||
	    (p - base) % sizeof(*ctx->reqs.table))
		return NULL;
	req = (struct aior_req *)p;
	return aior_load_acquire(&req->state) == REQ_KERNEL ? req : NULL;
}

void request_set_state(struct aior_req *req, enum req_state state)
{
	aior_store_release(&req->state, state);
}

void requests_wait_idle(struct aior_ctx *ctx)
{
	pthread_mutex_lock(&ctx->reqs.lock);
	while (aior_load_acquire(&ctx->reqs.inflight) > 0)
		pthread_cond_wait(&ctx->reqs.idle, &ctx->reqs.lock);
	pthread_mutex_unlock(&ctx->reqs.lock);
}
