#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include "atomics.h"
#include "context.h"

#define REAP_BATCH 64
/* The kernel's IORING_MAX_CQ_ENTRIES: past it, io_uring keeps overflow itself (IORING_FEAT_NODROP). */
#define URING_MAX_CQ 65536u
/* SQ entries: a submit of more goes to io_uring_enter in parts. */
#define URING_MAX_SQ 1024u
/* io_uring_enter retries on EINTR/EAGAIN/EBUSY before the mover's next look takes over. */
#define SUBMIT_RETRIES 64
/* The kernel's MAX_RW_COUNT: a longer plain read or write is short, as read(2) is. */
#define URING_MAX_RW 0x7ffff000u
/* a file table slot's states besides the descriptor it was registered from */
#define URING_FILE_FREE (-1)
#define URING_FILE_LOST (-2)
/* requests in a row that completed inside their own io_uring_enter before submits are batched again */
#define URING_HOT_RUN 8

static uint32_t pow2_at_least(uint32_t n, uint32_t cap)
{
	uint32_t p = 1;

	while (p < n && p < cap)
		p <<= 1;
	return p;
}

static int ring_init(struct io_uring *ring, uint32_t sq, uint32_t cq)
{
	struct io_uring_params p;
	int r;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
	p.cq_entries = cq;
	r = io_uring_queue_init_params(sq, ring, &p);
	/* SUBMIT_ALL is 5.18's: without it a failing SQE ends the submit at itself */
	if (r == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
		p.cq_entries = cq;
		r = io_uring_queue_init_params(sq, ring, &p);
	}
	return r;
}

int aior_uring_probe(void)
{
	struct io_uring ring;
	int r = ring_init(&ring, 1, 2);

	if (r == 0)
		io_uring_queue_exit(&ring);
	return r;
}

/*
 * An event's request: user_data is a request slot, but the CQ is memory
 * this process can write, so it is checked to name one of ours with the
 * kernel before use (as the kernel AIO ring's obj is).
 */
void aior_uring_reap(struct aior_ctx *ctx)
{
	struct aior_uring *u = &ctx->uring;
	struct aior_req *reqs[REAP_BATCH];
	int64_t res[REAP_BATCH];

	/* held across the completions too, so events keep the CQ's order */
	pthread_mutex_lock(&u->cq_lock);
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int m = 0;

		io_uring_for_each_cqe(&u->ring, head, cqe) {
			struct aior_req *req = request_with_kernel(ctx, cqe->user_data);

			if (req) {
				/* recorded before its event is published: the sync has ended by now */
				if (aior_is_sync(req->cb.aio_lio_opcode))
					aior_record_sync(ctx, req, req->queued_ns, aior_monotonic_ns());
				reqs[m] = req;
				res[m++] = cqe->res;
			}
			if (++seen == REAP_BATCH)
				break;
		}
		if (seen == 0)
			break;
		io_uring_cq_advance(&u->ring, seen);
		/* one pass over the locks, one tail publication and one wakeup for the batch */
		if (m)
			aior_complete_many(ctx, reqs, res, NULL, m);
	}
	pthread_mutex_unlock(&u->cq_lock);
}

int aior_uring_pollfd(const struct aior_ctx *ctx)
{
	return ctx->uring.started ? ctx->uring.ring.ring_fd : -1;
}

void aior_uring_take(struct aior_ctx *ctx)
{
	if (ctx->uring.started)
		aior_uring_reap(ctx);
}

void aior_uring_mark_polled(struct aior_ctx *ctx)
{
	if (ctx->uring.started)
		aior_store_release(&ctx->uring.consumer_polls, 1);
}

/* Submit what waits in the SQ; with reqs.lock held. */
static void submit_queued(struct aior_uring *u)
{
	for (int tries = 0; u->queued && tries < SUBMIT_RETRIES; tries++) {
		int r = io_uring_submit(&u->ring);

		if (r > 0) {
			aior_store_release(&u->queued, (uint32_t)r > u->queued ? 0 : u->queued - (uint32_t)r);
			tries = 0;
			continue;
		}
		if (r == 0 || r == -EINTR || r == -EAGAIN || r == -EBUSY) {
			sched_yield();
			continue;
		}
		/* the ring itself failed: nothing more goes in until the mover's next try */
		break;
	}
}

/* The mover's call when the ring's descriptor turned readable: the CQ into the ring, then what waits in the SQ. */
static void uring_serve(struct aior_ctx *ctx)
{
	struct aior_uring *u = &ctx->uring;

	/*
	 * A waiter that polls the descriptor itself is woken by the same post
	 * (on its own thread, which ran the task work that posted the CQ when
	 * it submitted): it reaps, and this thread stays out of its way. Its
	 * poll is level-triggered and it reaps at every readable, held or not,
	 * so what it leaves is seen there or at the next edge here.
	 */
	if (!aior_load_acquire(&u->consumer_polls) ||
	    !(aior_load_acquire(ctx->completion.wait_flags) & AIORING_V2_WAITER))
		aior_uring_reap(ctx);
	if (aior_load_acquire(&u->queued)) {
		pthread_mutex_lock(&ctx->reqs.lock);
		submit_queued(u);
		pthread_mutex_unlock(&ctx->reqs.lock);
	}
}

int aior_uring_start(struct aior_ctx *ctx)
{
	struct aior_uring *u = &ctx->uring;
	/* every request the context can hold has room in the CQ */
	uint32_t cq = pow2_at_least(ctx->capacity < 2 ? 2 : ctx->capacity, URING_MAX_CQ);
	uint32_t sq = pow2_at_least(ctx->capacity, URING_MAX_SQ);
	int r;

	if (sq > cq)
		sq = cq;
	r = ring_init(&u->ring, sq, cq);
	if (r < 0) {
		u->error = -r;
		return r;
	}
	pthread_mutex_init(&u->cq_lock, NULL);
	u->started = 1;
	/* the ring's own descriptor polls readable while its CQ holds events: no eventfd needed */
	u->link = (struct aior_mover_link){.ctx = ctx, .serve = uring_serve, .fd = u->ring.ring_fd};
	r = aior_mover_join(&u->link);
	if (r < 0)
		u->error = -r;
	return r;
}

/* The fixed buffer a plain read or write lies inside, or -1. */
static int fixed_index(const struct aior_uring *u, const struct iocb *cb)
{
	uintptr_t buf = (uintptr_t)cb->aio_buf;

	for (uint32_t i = 0; i < u->nfixed; i++) {
		uintptr_t base = (uintptr_t)u->fixed[i].iov_base;

		if (buf >= base && buf - base <= u->fixed[i].iov_len &&
		    cb->aio_nbytes <= u->fixed[i].iov_len - (buf - base))
			return (int)i;
	}
	return -1;
}

static void prep(struct aior_uring *u, struct io_uring_sqe *sqe, struct aior_req *req)
{
	const struct iocb *cb = &req->cb;
	int fd = (int)cb->aio_fildes;
	void *buf = (void *)(uintptr_t)cb->aio_buf;
	/* an iovec count for the vectored ones (at most 1024: check_iocb) */
	unsigned len = cb->aio_nbytes > URING_MAX_RW ? URING_MAX_RW : (unsigned)cb->aio_nbytes;
	/* a registered file: the SQE names its slot, checked by the submitter (aior_uring_names_file) */
	int fixed_file = req->file >= 0 && cb->aio_lio_opcode != IOCB_CMD_NOOP;
	int fixed;

	if (fixed_file)
		fd = req->file;

	switch (cb->aio_lio_opcode) {
	case IOCB_CMD_PREAD:
	case IOCB_CMD_PWRITE:
		fixed = fixed_index(u, cb);
		if (cb->aio_lio_opcode == IOCB_CMD_PREAD) {
			if (fixed >= 0)
				io_uring_prep_read_fixed(sqe, fd, buf, len, (uint64_t)cb->aio_offset, fixed);
			else
				io_uring_prep_read(sqe, fd, buf, len, (uint64_t)cb->aio_offset);
		} else if (fixed >= 0) {
			io_uring_prep_write_fixed(sqe, fd, buf, len, (uint64_t)cb->aio_offset, fixed);
		} else {
			io_uring_prep_write(sqe, fd, buf, len, (uint64_t)cb->aio_offset);
		}
		sqe->rw_flags = (__kernel_rwf_t)cb->aio_rw_flags;
		break;
	case IOCB_CMD_PREADV:
		io_uring_prep_readv2(sqe, fd, req->iov, len, (uint64_t)cb->aio_offset, (int)cb->aio_rw_flags);
		break;
	case IOCB_CMD_PWRITEV:
		io_uring_prep_writev2(sqe, fd, req->iov, len, (uint64_t)cb->aio_offset, (int)cb->aio_rw_flags);
		break;
	case IOCB_CMD_FSYNC:
		io_uring_prep_fsync(sqe, fd, 0);
		break;
	case IOCB_CMD_FDSYNC:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case IOCB_CMD_POLL:
		io_uring_prep_poll_add(sqe, fd, (unsigned)(uint16_t)cb->aio_buf);
		break;
	default:
		io_uring_prep_nop(sqe);
		break;
	}
	if (cb->aio_flags & IOCB_FLAG_IOPRIO)
		sqe->ioprio = cb->aio_reqprio;
	if (fixed_file) {
		io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
		u->fixed_requests++;
	}
	io_uring_sqe_set_data(sqe, req);
}

/* CQEs io_uring has posted so far (a free-running count: the CQ's tail). */
static uint32_t cq_posted(const struct aior_uring *u)
{
	return aior_load_acquire(u->ring.cq.ktail);
}

/*
 * Whether io_uring posted req's CQE since the CQ's tail was before, with
 * reqs.lock held. The CQEs from before to the tail are read in place, not
 * consumed: the kernel overwrites a slot only after as many more posts as
 * the CQ has entries, and no more than the requests in flight can be
 * posted, which the CQ holds (aior_uring_start) and nothing adds to while
 * reqs.lock is held.
 */
static int posted_since(const struct aior_uring *u, uint32_t before, const struct aior_req *req)
{
	uint32_t tail = cq_posted(u);

	for (uint32_t i = before; i != tail; i++) {
		const struct io_uring_cqe *cqe = &u->ring.cq.cqes[io_uring_cqe_index(&u->ring, i, u->ring.cq.ring_mask)];

		if (cqe->user_data == (uint64_t)(uintptr_t)req)
			return 1;
	}
	return 0;
}

int aior_uring_queue(struct aior_ctx *ctx, struct aior_req *req)
{
	struct aior_uring *u = &ctx->uring;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (sqe == NULL) {
		submit_queued(u);
		sqe = io_uring_get_sqe(&u->ring);
	}
	/* a ring that took nothing for SUBMIT_RETRIES tries: EAGAIN, as io_submit's (the caller keeps the request) */
	if (sqe == NULL)
		return -EAGAIN;
	request_set_state(req, REQ_KERNEL);
	/* before the submit: io_uring cannot start it earlier */
	if (aior_is_sync(req->cb.aio_lio_opcode))
		req->queued_ns = aior_monotonic_ns();
	prep(u, sqe, req);
	aior_store_release(&u->queued, u->queued + 1);
	/*
	 * Into the kernel at once, one io_uring_enter per request (fio's
	 * default, iodepth_batch_submit=1): a batch of n in one enter is
	 * plugged (blk_start_plug) and reaches the device only after the n-th
	 * is prepared, a cold read's readahead included, so the device idles
	 * while the submitter works and the queue drains in convoys (bench:io's
	 * O_DIRECT and cold parts, docs/BENCHMARKS.md). Requests that complete
	 * inside the enter (page-cache hits) gain nothing from it: after
	 * URING_HOT_RUN of them in a row the rest go in one enter per submit
	 * (aior_uring_flush) until one such batch does not all complete there.
	 * A request counts as one only when its own CQE is posted by its
	 * enter: the enter also runs the task work that posts earlier
	 * requests' completions (O_DIRECT reads' among them), which is no sign
	 * that this one was a hit.
	 */
	u->last = req;
	if (!u->hot) {
		uint32_t before = cq_posted(u);

		submit_queued(u);
		u->hot_run = posted_since(u, before, req) ? u->hot_run + 1 : 0;
		u->hot = u->hot_run >= URING_HOT_RUN;
	}
	return 0;
}

void aior_uring_flush(struct aior_ctx *ctx)
{
	struct aior_uring *u = &ctx->uring;
	uint32_t n = u->queued, before = cq_posted(u);

	submit_queued(u);
	/* not all completed there: fewer CQEs than SQEs, or none for the batch's last request */
	if (u->hot && n && (cq_posted(u) - before < n || !posted_since(u, before, u->last)))
		u->hot = u->hot_run = 0;
}

/* The request in flight for the caller's iocb, with reqs.lock held. */
static struct aior_req *find_request(struct aior_ctx *ctx, const struct iocb *iocb)
{
	for (uint32_t i = 0; i < ctx->capacity; i++) {
		struct aior_req *req = &ctx->reqs.table[i];

		if (req->user == iocb && req->state == REQ_KERNEL)
			return req;
	}
	return NULL;
}

/* Cancel by user_data without waiting for a running request: 0, -EALREADY/-ETIME, -ENOENT. */
static int cancel_request(struct aior_uring *u, struct aior_req *req)
{
	struct io_uring_sync_cancel_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.addr = (uint64_t)(uintptr_t)req;
	reg.fd = -1;
	return io_uring_register_sync_cancel(&u->ring, &reg);
}

int aior_uring_cancel(struct aior_ctx *ctx, const struct iocb *iocb)
{
	struct aior_req *req;
	int r, poll = 0;

	/* held across the cancel: the slot cannot be reused under it */
	pthread_mutex_lock(&ctx->reqs.lock);
	req = find_request(ctx, iocb);
	if (req)
		poll = req->cb.aio_lio_opcode == IOCB_CMD_POLL;
	r = req ? cancel_request(&ctx->uring, req) : -EINVAL;
	pthread_mutex_unlock(&ctx->reqs.lock);
	if (r == -EINVAL || r == 0)
		return r;
	/* a poll completed (or cancelled before) and not yet reaped is no longer in flight, as for io_cancel */
	if (r == -ENOENT && poll)
		return -EINVAL;
	/* running (EALREADY, ETIME), or completed and not yet reaped (ENOENT) */
	return -EAGAIN;
}

int aior_uring_register_buffers(struct aior_ctx *ctx, const struct iovec *iov, uint32_t n)
{
	struct aior_uring *u = &ctx->uring;
	int r = 0;

	if (!u->started)
		return 0;
	if (n > URING_MAX_FIXED)
		n = URING_MAX_FIXED;
	pthread_mutex_lock(&ctx->reqs.lock);
	/* requests in flight keep the old registration alive (the kernel's references) */
	if (u->nfixed)
		io_uring_unregister_buffers(&u->ring);
	u->nfixed = 0;
	if (n) {
		r = io_uring_register_buffers(&u->ring, iov, n);
		if (r == 0) {
			memcpy(u->fixed, iov, n * sizeof(*iov));
			u->nfixed = n;
		}
	}
	pthread_mutex_unlock(&ctx->reqs.lock);
	return r;
}

/*
 * Fixed files. A slot holds a reference to the file its descriptor named
 * at registration, not to the number: a table looked up by number would
 * send I/O to the old file once the program closed the number and opened
 * another file under it. So the engine never maps numbers to slots; a
 * request runs on a slot only when its submitter marked it (the addon, for
 * a FileHandle's requests, which registers at the handle's first use and
 * unregisters before it closes the descriptor), and only when the slot
 * still holds a file registered from the request's aio_fildes.
 *
 * A slot is reused only when the SQ is empty: an SQE waiting there names
 * its slot by index, and the kernel looks the index up when it consumes
 * the SQE, so it must not find another file there. Requests the kernel has
 * consumed hold the file themselves (its resource node) until they end.
 */

/* The sparse table, registered at the first use: 0 or a negative errno (then for good). */
static int files_ready(struct aior_uring *u)
{
	int r;

	if (u->files_table)
		return 0;
	if (u->files_error)
		return -u->files_error;
	r = io_uring_register_files_sparse(&u->ring, URING_MAX_FILES);
	if (r < 0) {
		u->files_error = -r;
		return r;
	}
	for (uint32_t i = 0; i < URING_MAX_FILES; i++)
		u->files[i] = URING_FILE_FREE;
	u->files_table = 1;
	return 0;
}

int aior_uring_register_file(struct aior_ctx *ctx, int fd)
{
	struct aior_uring *u = &ctx->uring;
	int r, slot = -1;

	if (fd < 0)
		return -EBADF;
	pthread_mutex_lock(&ctx->reqs.lock);
	r = !u->started || ctx->stopping ? -EINVAL : files_ready(u);
	for (uint32_t i = 0; r == 0 && slot < 0 && i < URING_MAX_FILES; i++)
		if (u->files[i] == URING_FILE_FREE)
			slot = (int)i;
	if (r == 0 && slot < 0)
		r = -ENFILE;
	if (r == 0) {
		submit_queued(u);
		if (u->queued)
			r = -EAGAIN;
	}
	if (r == 0) {
		r = io_uring_register_files_update(&u->ring, (unsigned)slot, &fd, 1);
		if (r == 1) {
			u->files[slot] = fd;
			u->nfiles++;
			r = slot;
		} else if (r >= 0) {
			r = -EBADF;
		}
	}
	pthread_mutex_unlock(&ctx->reqs.lock);
	return r;
}

int aior_uring_unregister_file(struct aior_ctx *ctx, int slot)
{
	struct aior_uring *u = &ctx->uring;
	int none = -1, r = -EINVAL;

	pthread_mutex_lock(&ctx->reqs.lock);
	if (u->started && u->files_table && slot >= 0 && slot < URING_MAX_FILES && u->files[slot] >= 0) {
		/* SQEs that name it reach the kernel first, while it still holds the file */
		submit_queued(u);
		r = io_uring_register_files_update(&u->ring, (unsigned)slot, &none, 1);
		u->files[slot] = r == 1 ? URING_FILE_FREE : URING_FILE_LOST;
		u->nfiles--;
		r = 0;
	}
	pthread_mutex_unlock(&ctx->reqs.lock);
	return r;
}

int aior_uring_names_file(const struct aior_ctx *ctx, int slot, int fd)
{
	const struct aior_uring *u = &ctx->uring;

	return slot >= 0 && slot < URING_MAX_FILES && u->files_table && u->files[slot] == fd;
}

void aior_uring_files(struct aior_ctx *ctx, struct aior_uring_files *out)
{
	struct aior_uring *u = &ctx->uring;

	pthread_mutex_lock(&ctx->reqs.lock);
	out->registered = u->nfiles;
	out->capacity = u->started ? URING_MAX_FILES : 0;
	out->fixed_requests = u->fixed_requests;
	out->error = u->files_error;
	pthread_mutex_unlock(&ctx->reqs.lock);
}

void aior_uring_stop(struct aior_ctx *ctx)
{
	struct aior_uring *u = &ctx->uring;

	if (!u->started)
		return;
	/*
	 * Polls, and reads and writes of pipes, sockets and terminals, can wait
	 * for ever: cancel everything in flight. A regular file's read or write
	 * that already runs refuses the cancel (-EALREADY) and completes.
	 */
	pthread_mutex_lock(&ctx->reqs.lock);
	submit_queued(u);
	for (uint32_t i = 0; i < ctx->capacity; i++) {
		struct aior_req *req = &ctx->reqs.table[i];

		if (req->state == REQ_KERNEL)
			cancel_request(u, req);
	}
	pthread_mutex_unlock(&ctx->reqs.lock);
	/*
	 * The stopper reaps until nothing is in flight, rather than leaving
	 * the CQ to the mover: the mover steps aside while a waiter that
	 * polls the ring's descriptor itself is announced (uring_serve), and
	 * that waiter may be this very thread (the Node API's destroy, called
	 * while its promises wait), which reaps nothing while it waits here.
	 */
	for (;;) {
		struct pollfd p = {u->ring.ring_fd, POLLIN, 0};

		aior_uring_reap(ctx);
		if (aior_load_acquire(&ctx->reqs.inflight) == 0)
			break;
		if (aior_load_acquire(&u->queued)) {
			pthread_mutex_lock(&ctx->reqs.lock);
			submit_queued(u);
			pthread_mutex_unlock(&ctx->reqs.lock);
		}
		/* readable while the CQ holds events; the timeout covers what the mover reaped meanwhile */
		poll(&p, 1, 10);
	}
	requests_wait_idle(ctx);
	aior_mover_leave(&u->link);
}

void aior_uring_release(struct aior_ctx *ctx)
{
	struct aior_uring *u = &ctx->uring;

	if (!u->started)
		return;
	aior_uring_stop(ctx);
	io_uring_queue_exit(&u->ring);
	pthread_mutex_destroy(&u->cq_lock);
	u->started = 0;
}
