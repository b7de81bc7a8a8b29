/*
 * The top layer (context.h lists them all): setup, submit (which routes
 * each request to a backend or serves it inline), cancel, quiesce and
 * destroy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "atomics.h"
#include "context.h"
#include "io_exec.h"
#include "system_info.h"

#define AIOR_DEFAULT_THREADS 4
#define AIOR_MAX_IOVECS      1024
/* the v2 features a context can take over in a ring it adopts */
#define AIOR_ADOPTABLE_FEATURES AIORING_FEAT_USER_REAP

static uint32_t round_up_pow2(uint32_t n)
{
	uint32_t p = 1;

	while (p < n && p < AIORING_V2_MAX_ENTRIES)
		p <<= 1;
	return p;
}

/* legacy: the kernel's nr for nr_events; v2: the next power of two */
/*
 * The requests a context takes at once: nr_events, or with
 * AIORING_SETUP_KERNEL_REQS what the kernel's io_setup(nr_events) ring
 * holds (nr - 1), counted as fs/aio.c counts them (requests.c).
 */
static int64_t kernel_capacity(const struct aior_setup *s)
{
	int64_t nr;

	if (!(s->flags & AIORING_SETUP_KERNEL_REQS))
		return s->nr_events;
	nr = legacy_nr(s->nr_events, system_possible_cpus(), system_page_size(), 0);
	return nr < 0 ? nr : nr - 1;
}

static int64_t ring_nr(const struct aior_setup *s)
{
	if (s->nr_events == 0)
		return -EINVAL;
	if (s->flags & AIORING_SETUP_V2) {
		int64_t want = kernel_capacity(s);

		if (want < 0 || want > AIORING_V2_MAX_ENTRIES)
			return want < 0 ? want : -EINVAL;
		return round_up_pow2(want < 2 ? 2 : (uint32_t)want);
	}
	return legacy_nr(s->nr_events, system_possible_cpus(), system_page_size(), 0);
}

size_t aior_ring_bytes(const struct aior_setup *s)
{
	int64_t nr = ring_nr(s);

	if (nr < 0)
		return 0;
	if (s->flags & AIORING_SETUP_V2)
		return v2_ring_bytes((uint32_t)nr);
	return legacy_ring_bytes((uint32_t)nr, system_page_size());
}

static int check_setup(const struct aior_setup *s)
{
	int v2 = s->flags & AIORING_SETUP_V2;

	if (s->flags & ~AIORING_SETUP_ALL)
		return -EINVAL;
	if (s->backend > AIOR_BACKEND_URING || s->threads > AIORING_MAX_THREADS)
		return -EINVAL;
	if ((s->flags & AIORING_SETUP_KERNEL_RING) &&
	    (v2 || s->backend == AIOR_BACKEND_THREADPOOL || s->backend == AIOR_BACKEND_URING || s->memory))
		return -EINVAL;
	/* passthrough has the kernel's real accounting */
	if ((s->flags & AIORING_SETUP_KERNEL_REQS) && (s->flags & AIORING_SETUP_KERNEL_RING))
		return -EINVAL;
	if (s->memory && ((uintptr_t)s->memory % AIORING_MEMORY_ALIGN ||
			  (!s->attach && s->memory_len < aior_ring_bytes(s))))
		return -EINVAL;
	if (s->attach && !s->memory)
		return -EINVAL;
	return 0;
}

/* Map (or adopt) the ring memory and format the chosen layout in it. */
static int setup_ring(struct aior_ctx *ctx, const struct aior_setup *s, uint32_t nr)
{
	size_t bytes = aior_ring_bytes(s);
	/* one producer at a time (completion_lock): no multi-producer feature */
	uint32_t features = s->flags & AIORING_SETUP_NO_USER_REAP ? 0 : AIORING_FEAT_USER_REAP;
	int r;

	if (s->memory) {
		ctx->ring = s->memory;
		ctx->ring_len = s->memory_len;
	} else {
		r = ring_memory_anonymous(&ctx->mem, bytes, 0);
		if (r < 0)
			return r;
		ctx->ring = ctx->mem.addr;
		ctx->ring_len = ctx->mem.len;
	}
	if (s->attach) {
		/* adopt what is there: validated, and its nr is the truth from now */
		enum ring_field f = ctx->is_v2 ? v2_validate(ctx->ring, ctx->ring_len, &nr)
					       : legacy_validate(ctx->ring, ctx->ring_len, &nr);

		if (f != RING_OK)
			return -EINVAL;
		/*
		 * The engine produces alone (completion_lock) and its context reaps
		 * alone: on a ring agreed for several producers or consumers our
		 * private tail and plain head store would break the others' CAS
		 * protocol, so such a ring is refused rather than corrupted.
		 */
		if (ctx->is_v2 &&
		    (aior_load_relaxed(&((struct v2_ring_header *)ctx->ring)->features) &
		     ~AIOR_ADOPTABLE_FEATURES))
			return -EINVAL;
	}
	ctx->nr = nr;
	if (ctx->is_v2) {
		struct v2_ring ring;

		if (!s->attach) {
			r = v2_format(ctx->ring, ctx->ring_len, nr, features, s->flags);
			if (r < 0)
				return r;
		}
		v2_bind(&ring, ctx->ring, nr);
		v2_producer_init(&ctx->completion.v2, &ring);
		/*
		 * every slot (full is tail - head == entries), or with KERNEL_REQS
		 * what the kernel's io_setup(nr_events) ring would take
		 */
		ctx->capacity = (s->flags & AIORING_SETUP_KERNEL_REQS) ? (uint32_t)kernel_capacity(s) : nr;
		if (!s->private_waiters) {
			ctx->completion.wait_flags = &((struct v2_ring_header *)ctx->ring)->wait_flags;
			ctx->completion.wakeups = &((struct v2_ring_header *)ctx->ring)->wakeups;
		}
	} else {
		if (!s->attach)
			legacy_format(ctx->ring, nr);
		legacy_producer_init(&ctx->completion.legacy, ctx->ring, nr);
		ctx->capacity = nr - 1;
	}
	return 0;
}

int aior_setup(const struct aior_setup *s, struct aior_ctx **out)
{
	struct aior_ctx *ctx;
	int64_t nr = ring_nr(s);
	int r = check_setup(s);

	if (r < 0)
		return r;
	if (nr < 0)
		return (int)nr;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->flags = s->flags;
	ctx->is_v2 = !!(s->flags & AIORING_SETUP_V2);
	ctx->mode = s->backend;
	ctx->completion.wake = s->wake;
	ctx->completion.wake_arg = s->wake_arg;
	ctx->mem.fd = -1;
	pthread_mutex_init(&ctx->completion.lock, NULL);
	pthread_mutex_init(&ctx->reqs.lock, NULL);
	pthread_cond_init(&ctx->reqs.idle, NULL);
	ctx->control = mmap(NULL, (size_t)system_page_size(), PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ctx->control == MAP_FAILED) {
		ctx->control = NULL;
		r = -ENOMEM;
		goto fail;
	}

	/* a legacy ring has no room for them; setup_ring moves a v2 ring's into its header */
	ctx->completion.wait_flags = &ctx->control->wait_flags;
	ctx->completion.wakeups = &ctx->control->wakeups;
	if (s->flags & AIORING_SETUP_KERNEL_RING) {
		/* passthrough: the context's ring is the kernel's own */
		r = aior_kernel_start(ctx, s->nr_events, s->waits_on_kernel_fd);
		if (r < 0)
			goto fail;
		*out = ctx;
		return 0;
	}

	r = setup_ring(ctx, s, (uint32_t)nr);
	if (r == 0)
		r = requests_setup(ctx);
	if (r == 0 && s->backend == AIOR_BACKEND_URING)
		r = aior_uring_start(ctx);
	if (r < 0)
		goto fail;
	/* a one-thread pool runs in submission order, which io_uring does not keep: it stays */
	if (s->backend == AIOR_BACKEND_AUTO && s->prefer_uring && s->threads != 1) {
		int allowed = aior_uring_allowed();

		ctx->uring_auto = allowed == 0;
		ctx->uring_refused = -allowed;
	}
	/*
	 * The caller's nr_events, so aio-nr is charged as io_setup would charge
	 * it; auto charges it only once it has an O_DIRECT request (route_of).
	 */
	if (s->backend == AIOR_BACKEND_KERNEL) {
		r = aior_kernel_start(ctx, s->kernel_events ? s->kernel_events : s->nr_events,
				      s->waits_on_kernel_fd);
		if (r < 0)
			goto fail;
	} else if (s->backend == AIOR_BACKEND_AUTO) {
		aior_kernel_defer(ctx, s->kernel_events ? s->kernel_events : s->nr_events, s->waits_on_kernel_fd);
	}
	if (s->backend != AIOR_BACKEND_KERNEL && s->backend != AIOR_BACKEND_URING) {
		r = aior_pool_start(ctx, s->threads ? s->threads : AIOR_DEFAULT_THREADS);
		if (r == 0)
			r = aior_helper_start(ctx);
		if (r < 0)
			goto fail;
	}
	*out = ctx;
	return 0;
fail:
	aior_destroy(ctx);
	return r;
}

void aior_info(const struct aior_ctx *ctx, struct aior_info *info)
{
	int passthrough = ctx->flags & AIORING_SETUP_KERNEL_RING;
	const struct aior_kernel *k = &ctx->kernel;
	/* an auto context's appears at its first O_DIRECT request */
	aio_context_t kctx = aior_load_acquire(&k->kctx);

	info->ring = passthrough ? (void *)(uintptr_t)kctx : ctx->ring;
	info->ring_len = passthrough ? system_mapping_length((uintptr_t)kctx) : ctx->ring_len;
	info->nr = passthrough ? k->ring.nr : ctx->nr;
	info->capacity = passthrough ? k->ring.nr - 1 : ctx->capacity;
	info->kernel = kctx != 0;
	info->kernel_id = kctx;
	info->threads = ctx->pool.limit;
	info->kernel_error = k->error;
	info->wait_flags = ctx->completion.wait_flags;
	info->read_helper = ctx->helper.user;
	info->uring = ctx->uring.started;
	info->uring_error = ctx->uring.error;
	info->uring_auto = ctx->uring_auto;
	info->uring_refused = ctx->uring_refused;
	info->memory = (ctx->mem.addr ? ctx->mem.len : 0) + (passthrough ? info->ring_len : 0) +
		       (size_t)system_page_size() + (size_t)ctx->capacity * sizeof(struct aior_req);
}

int aior_register_buffers(struct aior_ctx *ctx, const struct iovec *iov, uint32_t n)
{
	return ctx->mode == AIOR_BACKEND_URING ? aior_uring_register_buffers(ctx, iov, n) : 0;
}

int aior_register_file(struct aior_ctx *ctx, int fd)
{
	return ctx->mode == AIOR_BACKEND_URING ? aior_uring_register_file(ctx, fd) : -EOPNOTSUPP;
}

int aior_unregister_file(struct aior_ctx *ctx, int slot)
{
	return ctx->mode == AIOR_BACKEND_URING ? aior_uring_unregister_file(ctx, slot) : -EINVAL;
}

void aior_file_stats(struct aior_ctx *ctx, struct aior_file_stats *out)
{
	struct aior_uring_files f = {0, 0, 0, 0};

	if (ctx->mode == AIOR_BACKEND_URING)
		aior_uring_files(ctx, &f);
	out->registered = f.registered;
	out->capacity = f.capacity;
	out->fixed_requests = f.fixed_requests;
	out->error = f.error;
}

int aior_uring_fd(const struct aior_ctx *ctx)
{
	return aior_uring_pollfd(ctx);
}

void aior_uring_service(struct aior_ctx *ctx)
{
	aior_uring_take(ctx);
}

void aior_uring_consumer_polls(struct aior_ctx *ctx)
{
	aior_uring_mark_polled(ctx);
}

int aior_uring_available(void)
{
	return aior_uring_probe();
}

/* 1: not probed yet (or last answer transient); else the cached answer */
static int uring_allowed = 1;

int aior_uring_allowed(void)
{
	int r = aior_load_acquire(&uring_allowed);

	if (r <= 0)
		return r;
	r = aior_uring_probe();
	if (r == 0 || r == -EPERM || r == -EACCES || r == -ENOSYS || r == -EINVAL)
		aior_store_release(&uring_allowed, r);
	return r;
}

int aior_ring_move(struct aior_ctx *ctx, int (*move)(void *arg, void **to), void *arg)
{
	uintptr_t waiters = (uintptr_t)ctx->completion.wait_flags, ring = (uintptr_t)ctx->ring;
	void *to;
	int r;

	if ((ctx->flags & AIORING_SETUP_KERNEL_RING) || ctx->mem.addr != ctx->ring ||
	    (waiters >= ring && waiters < ring + ctx->ring_len))
		return -EINVAL;
	/* requests_available reads head under the one, producers write under the other */
	pthread_mutex_lock(&ctx->reqs.lock);
	pthread_mutex_lock(&ctx->completion.lock);
	r = move(arg, &to);
	if (r == 0) {
		ctx->ring = ctx->mem.addr = to;
		if (ctx->is_v2)
			v2_bind(&ctx->completion.v2.ring, to, ctx->nr);
		else
			ctx->completion.legacy.ring = to;
	}
	pthread_mutex_unlock(&ctx->completion.lock);
	pthread_mutex_unlock(&ctx->reqs.lock);
	return r;
}

int aior_user_busy(struct aior_ctx *ctx, const struct iocb *iocb)
{
	int busy;

	pthread_mutex_lock(&ctx->reqs.lock);
	busy = requests_busy(ctx, iocb);
	pthread_mutex_unlock(&ctx->reqs.lock);
	return busy;
}

uint32_t aior_inflight(const struct aior_ctx *ctx)
{
	return aior_load_acquire(&ctx->reqs.inflight);
}

static int opcode_known(uint16_t op)
{
	switch (op) {
	case IOCB_CMD_PREAD:
	case IOCB_CMD_PWRITE:
	case IOCB_CMD_FSYNC:
	case IOCB_CMD_FDSYNC:
	case IOCB_CMD_POLL:
	case IOCB_CMD_NOOP:
	case IOCB_CMD_PREADV:
	case IOCB_CMD_PWRITEV:
		return 1;
	}
	return 0;
}

/*
 * What a submit call knows of the last descriptor it looked at: that it is
 * open, with these file status flags. One fcntl(F_GETFL) answers both the
 * routes' question (O_DIRECT?) and the check that the descriptor is open,
 * so a run of requests on one file costs at most one fcntl per call, and
 * none where the caller told the flags (aior_submit_known, fd_flags).
 */
struct fd_known {
	int fd;                    /* -1: none known */
	int flags;
	int stream;                /* a non-blocking stream (nonblocking_stream); -1: not looked at */
	int anon;                  /* an anonymous inode (anon_inode); -1: not looked at */
};

/* The status flags of cb's descriptor, or -1 where it is not open. */
static int flags_of(const struct iocb *cb, struct fd_known *k)
{
	int fd = (int)cb->aio_fildes;

	if (fd != k->fd) {
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0)
			return -1;
		k->fd = fd;
		k->flags = fl;
		k->stream = -1;
		k->anon = -1;
	}
	return k->flags;
}

/*
 * Whether cb's descriptor is an anonymous inode (epoll, eventfd, timerfd,
 * signalfd, inotify, pidfd...: no file type in its mode). io_uring waits
 * for such a file to be ready, where a read(2) refuses at once (epoll's
 * EINVAL) or waits as kernel AIO's does inside io_submit: a read of an
 * empty epoll set would never end. These go to the pool, and with the
 * uring backend, which has none, run on the submitting thread as kernel
 * AIO runs them. One fstat per run, only on io_uring's routes.
 */
static int anon_inode(const struct iocb *cb, struct fd_known *k)
{
	struct stat st;

	if (flags_of(cb, k) < 0)
		return 0;
	if (k->anon < 0)
		k->anon = fstat(k->fd, &st) == 0 && (st.st_mode & S_IFMT) == 0;
	return k->anon;
}

/*
 * Whether cb's descriptor is a pipe, socket or device opened O_NONBLOCK
 * (O_NONBLOCK means nothing to a regular file or a block device): its
 * reads and writes answer at once, EAGAIN where there is no data or room,
 * as read(2) and write(2) do. io_uring would wait for readiness instead
 * (it polls such a file, and a FIFO refuses RWF_NOWAIT), so these run on
 * the submitting thread (ROUTE_NOW). One fstat per run, and only for a
 * descriptor that has O_NONBLOCK.
 */
static int nonblocking_stream(const struct iocb *cb, struct fd_known *k)
{
	struct stat st;
	int fl = flags_of(cb, k);

	if (fl < 0 || !(fl & O_NONBLOCK))
		return 0;
	if (k->stream < 0)
		k->stream = fstat(k->fd, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
	return k->stream;
}

/*
 * The checks io_submit makes before it queues anything. The descriptor is
 * checked here unless the caller's own syscall will report EBADF at once.
 */
static int check_iocb(const struct iocb *cb, int check_fd, struct fd_known *k)
{
	if (cb->aio_reserved2 || (cb->aio_flags & ~(IOCB_FLAG_RESFD | IOCB_FLAG_IOPRIO)))
		return -EINVAL;
	if (!opcode_known(cb->aio_lio_opcode))
		return -EINVAL;
	if ((int64_t)cb->aio_nbytes < 0 || cb->aio_offset < 0 ||
	    (iocb_is_vectored(cb->aio_lio_opcode) && cb->aio_nbytes > AIOR_MAX_IOVECS))
		return -EINVAL;
	if (check_fd && cb->aio_lio_opcode != IOCB_CMD_NOOP && flags_of(cb, k) < 0)
		return -EBADF;
	return 0;
}

enum route { ROUTE_POOL, ROUTE_KERNEL, ROUTE_INLINE, ROUTE_URING, ROUTE_NOW };

/*
 * auto's io_uring: its ring is made at the first request it serves, so a
 * context that never needs it holds no descriptor for it. If the ring
 * cannot be made (uring.error says why) the context goes on as auto
 * without io_uring: the pool. With reqs.lock held.
 */
static int uring_ready(struct aior_ctx *ctx)
{
	if (ctx->uring.started)
		return ctx->uring_auto;
	if (aior_load_acquire(&ctx->stopping))
		return 0;
	if (aior_uring_start(ctx) == 0)
		return 1;
	ctx->uring_auto = 0;
	return 0;
}

static int is_read(uint16_t op)
{
	return op == IOCB_CMD_PREAD || op == IOCB_CMD_PREADV;
}

static int is_rw(uint16_t op)
{
	return is_read(op) || op == IOCB_CMD_PWRITE || op == IOCB_CMD_PWRITEV;
}

/*
 * Where a request runs: O_DIRECT reads and writes are what kernel AIO runs
 * asynchronously (auto makes its kernel context at the first, and sends
 * them to io_uring, else the pool, where io_setup failed); buffered reads
 * are tried inline first (RWF_NOWAIT, which refuses at once what the page
 * cache lacks, but does not keep an O_DIRECT read from waiting for the
 * device: reads of O_DIRECT files are never inline); the rest goes to the
 * pool, or with auto on io_uring (uring_auto) to io_uring, syncs aside, as
 * do the reads that would block (flush_runs). So the file's flags are looked
 * at for inline reads and for auto's reads and writes, once per submit call
 * for a run on one file (flags_of). A one-thread pool runs in submission order:
 * a read inline would pass what is queued before it, so there only a
 * context with nothing in flight (this submit's earlier requests count)
 * serves one inline. With reqs.lock held.
 */
static enum route route_of(struct aior_ctx *ctx, const struct iocb *cb, struct fd_known *k)
{
	uint16_t op = cb->aio_lio_opcode;
	int in_order = ctx->pool.limit > 1 || aior_load_acquire(&ctx->reqs.inflight) == 0;
	int inline_ok = is_read(op) && !(ctx->flags & AIORING_SETUP_NO_INLINE) && ctx->pool.limit && in_order;
	int fl = 0;

	/* group commit is the pool's (which refuses it where there is none) */
	if (cb->aio_rw_flags & AIORING_RWF_GROUP)
		return ROUTE_POOL;
	/* the pool keeps a non-blocking stream's EAGAIN itself; io_uring would wait */
	if ((ctx->mode == AIOR_BACKEND_URING || ctx->mode == AIOR_BACKEND_AUTO) && is_rw(op) &&
	    nonblocking_stream(cb, k))
		return ROUTE_NOW;
	if (ctx->mode == AIOR_BACKEND_URING)
		return is_rw(op) && anon_inode(cb, k) ? ROUTE_NOW : ROUTE_URING;
	if (ctx->kernel.kctx && ctx->mode == AIOR_BACKEND_KERNEL)
		return ROUTE_KERNEL;
	if (ctx->mode == AIOR_BACKEND_AUTO && is_rw(op)) {
		fl = flags_of(cb, k);
		/*
		 * O_DIRECT: kernel AIO first even where io_uring works (it ran
		 * faster here: docs/DECISIONS.md), io_uring where io_setup failed
		 */
		if (fl >= 0 && (fl & O_DIRECT)) {
			if (aior_kernel_ready(ctx))
				return ROUTE_KERNEL;
			if (ctx->uring_auto && uring_ready(ctx))
				return ROUTE_URING;
		}
	}
	/*
	 * Inline only what the page cache may hold: RWF_NOWAIT does not keep an
	 * O_DIRECT read from waiting for the device, on the caller's thread
	 * (the event loop's, under the Node API)
	 */
	if (inline_ok && !((fl = flags_of(cb, k)) >= 0 && (fl & O_DIRECT)))
		return ROUTE_INLINE;
	/* syncs stay on the pool, where group commit was proven and measured (docs/DECISIONS.md) */
	if (op == IOCB_CMD_FSYNC || op == IOCB_CMD_FDSYNC)
		return ROUTE_POOL;
	if (is_rw(op) && anon_inode(cb, k))
		return ROUTE_POOL;
	return ctx->uring_auto && uring_ready(ctx) ? ROUTE_URING : ROUTE_POOL;
}

#define INLINE_RUN 32

/* Whether every read of a run names the same file: only then may the helper share it. */
static int one_fd(struct aior_req **reqs, int n)
{
	for (int i = 1; i < n; i++)
		if (reqs[i]->cb.aio_fildes != reqs[0]->cb.aio_fildes)
			return 0;
	return 1;
}

/*
 * Serve a run of reads inline, called without reqs.lock: the ones the page
 * cache had complete together (one pass over the locks); the ones that
 * would block are left in deferred for the pool. Once the first read has
 * come from the cache (so the descriptor is good), the helper thread may
 * take the run's last ones. Returns how many were handled before a bad
 * descriptor (n when there was none; a descriptor closed after the helper
 * took its share gives -EBADF events instead, as in the pool).
 */
static int serve_inline(struct aior_ctx *ctx, struct aior_req **reqs, int n,
			struct aior_req **deferred, int *ndeferred)
{
	struct aior_req *served[INLINE_RUN];
	int64_t res[INLINE_RUN];
	int ns = 0, given = 0, i;

	for (i = 0; i < n - given; i++) {
		int64_t r = aior_try_nowait(reqs[i]);

		if (r == -EBADF && given == 0)
			break;
		if (r == AIOR_NOWAIT_DEFER) {
			deferred[(*ndeferred)++] = reqs[i];
		} else {
			served[ns] = reqs[i];
			res[ns++] = r;
		}
		/* the first read came from the cache: the rest likely will, share them */
		if (i == 0 && r >= 0 && n > AIOR_HELPER_MIN_RUN && one_fd(reqs, n))
			given = aior_helper_give(ctx, reqs + 1, n - 1);
	}
	if (ns)
		aior_complete_many(ctx, served, res, NULL, ns);
	return i == n - given ? n : i;
}

/*
 * Hand a run of kernel-bound requests to io_submit at once. Those it did
 * not take are released; returns how many it took, or a negative errno if
 * it took none.
 */
static long flush_kernel(struct aior_ctx *ctx, struct aior_req **run, long k)
{
	long r;

	if (k == 0)
		return 0;
	r = aior_kernel_submit(ctx, run, k);
	for (long i = r < 0 ? 0 : r; i < k; i++)
		request_give_back(ctx, run[i]);
	return r;
}

/* Requests taken but not yet handed on: at most one kind pending at a time. */
struct runs {
	struct aior_req *kernel[KERNEL_RUN];
	struct aior_req *inl[INLINE_RUN];
	struct aior_req *now[INLINE_RUN];   /* non-blocking streams' requests, run on this thread */
	long nk, ni, nn;
	int kernel_used;
	int run_here;              /* the pool had no worker: run its queue once reqs.lock is dropped */
	int uring_used;            /* SQEs were prepared: give them to io_uring, take what it finished */
};

/*
 * Flush the pending runs (kernel or inline) before a request of another
 * route is handled, so what submit returns is always a prefix: returns the
 * number of pending requests that were not taken (0 when all were), with
 * *err set when none was. Called and returns with reqs.lock held.
 */
static long flush_runs(struct aior_ctx *ctx, struct runs *rs, int *err)
{
	long r, lost = 0;

	if (rs->nk) {
		r = flush_kernel(ctx, rs->kernel, rs->nk);
		rs->kernel_used |= r > 0;
		if (r < rs->nk) {
			lost = rs->nk - (r < 0 ? 0 : r);
			if (r < 0)
				*err = (int)r;
		}
		rs->nk = 0;
	}
	if (rs->ni) {
		struct aior_req *deferred[INLINE_RUN];
		int nd = 0, handled;

		pthread_mutex_unlock(&ctx->reqs.lock);
		handled = serve_inline(ctx, rs->inl, (int)rs->ni, deferred, &nd);
		pthread_mutex_lock(&ctx->reqs.lock);
		for (int i = 0; i < nd; i++) {
			/* auto on io_uring: what the page cache did not have is io_uring's, no thread hop */
			if (ctx->uring_auto && uring_ready(ctx) && aior_uring_queue(ctx, deferred[i]) == 0) {
				rs->uring_used = 1;
				continue;
			}
			rs->run_here |= aior_pool_submit(ctx, deferred[i]) == AIOR_POOL_RUN_HERE;
		}
		if (handled < rs->ni) {
			/* a bad descriptor: it and what followed it were not taken */
			for (long i = handled; i < rs->ni; i++)
				request_give_back(ctx, rs->inl[i]);
			lost += rs->ni - handled;
			*err = -EBADF;
		}
		rs->ni = 0;
	}
	if (rs->nn) {
		int64_t res[INLINE_RUN];

		pthread_mutex_unlock(&ctx->reqs.lock);
		for (long i = 0; i < rs->nn; i++)
			res[i] = aior_execute(rs->now[i], NULL);
		aior_complete_many(ctx, rs->now, res, NULL, (int)rs->nn);
		pthread_mutex_lock(&ctx->reqs.lock);
		rs->nn = 0;
	}
	return lost;
}

long aior_submit(struct aior_ctx *ctx, struct iocb *const *iocbs, long n)
{
	return aior_submit_known(ctx, iocbs, n, -1, 0);
}

static long submit(struct aior_ctx *ctx, struct iocb *const *iocbs, long n, struct fd_known known,
		   const int32_t *files, const int32_t *fd_flags);

long aior_submit_known(struct aior_ctx *ctx, struct iocb *const *iocbs, long n, int fd, int fd_flags)
{
	return submit(ctx, iocbs, n, (struct fd_known){fd, fd_flags, -1, -1}, NULL, NULL);
}

long aior_submit_files(struct aior_ctx *ctx, struct iocb *const *iocbs, long n, const int32_t *files)
{
	return submit(ctx, iocbs, n, (struct fd_known){-1, 0, -1, -1}, files, NULL);
}

long aior_submit_owned(struct aior_ctx *ctx, struct iocb *const *iocbs, long n, const int32_t *files,
		       const int32_t *fd_flags)
{
	return submit(ctx, iocbs, n, (struct fd_known){-1, 0, -1, -1}, files, fd_flags);
}

static long submit(struct aior_ctx *ctx, struct iocb *const *iocbs, long n, struct fd_known known,
		   const int32_t *files, const int32_t *fd_flags)
{
	struct runs rs = {.nk = 0, .ni = 0, .nn = 0, .kernel_used = 0, .run_here = 0, .uring_used = 0};
	long done = 0, lost;
	int err = 0;
	uint32_t avail, cpu;

	if (ctx == NULL || n < 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (ctx->flags & AIORING_SETUP_KERNEL_RING)
		return aior_kernel_submit_passthrough(ctx, iocbs, n);

	pthread_mutex_lock(&ctx->reqs.lock);
	if (ctx->stopping) {
		pthread_mutex_unlock(&ctx->reqs.lock);
		return -EINVAL;
	}
	avail = requests_available(ctx);
	/* a forged head is not a full ring: EAGAIN would be retried for ever */
	if ((avail == 0 && requests_corrupt(ctx)) || aior_lost(ctx)) {
		pthread_mutex_unlock(&ctx->reqs.lock);
		return -EUCLEAN;
	}
	cpu = requests_cpu(ctx);
	for (; done < n; done++) {
		struct iocb *user = iocbs[done];
		struct aior_req *req;
		enum route route;
		int file = files ? files[done] : -1;
		int check;

		if (user == NULL) {
			err = -EFAULT;
			break;
		}
		if (avail == 0 || ctx->reqs.free_list == NULL) {
			err = -EAGAIN;
			break;
		}
		/* the caller owns the descriptor and told its flags: nothing to ask */
		if (fd_flags && fd_flags[done] >= 0) {
			if (known.fd != (int)user->aio_fildes || known.flags != fd_flags[done])
				known.stream = known.anon = -1;
			known.fd = (int)user->aio_fildes;
			known.flags = fd_flags[done];
		}
		route = route_of(ctx, user, &known);
		/* a registered file is the file itself: its number need not be looked at */
		if (route != ROUTE_URING || !aior_uring_names_file(ctx, file, (int)user->aio_fildes))
			file = -1;
		/* io_submit and the inline read report a bad descriptor themselves */
		check = route == ROUTE_POOL || (route == ROUTE_URING && file < 0);
		err = check_iocb(user, check, &known);
		if (err)
			break;
		if ((rs.nk && (route != ROUTE_KERNEL || rs.nk == KERNEL_RUN)) ||
		    (rs.ni && (route != ROUTE_INLINE || rs.ni == INLINE_RUN)) ||
		    (rs.nn && (route != ROUTE_NOW || rs.nn == INLINE_RUN))) {
			lost = flush_runs(ctx, &rs, &err);
			if (lost) {
				done -= lost;
				break;
			}
		}
		err = request_take(ctx, user, cpu, &req);
		if (err)
			break;
		req->file = file;
		avail--;
		if (route == ROUTE_KERNEL) {
			rs.kernel[rs.nk++] = req;
		} else if (route == ROUTE_URING) {
			err = aior_uring_queue(ctx, req);
			if (err) {
				request_give_back(ctx, req);
				break;
			}
			rs.uring_used = 1;
		} else if (route == ROUTE_INLINE) {
			req->state = REQ_RUNNING;
			rs.inl[rs.ni++] = req;
		} else if (route == ROUTE_NOW) {
			req->state = REQ_RUNNING;
			rs.now[rs.nn++] = req;
		} else {
			int r = aior_pool_submit(ctx, req);

			if (r < 0) {
				request_give_back(ctx, req);
				err = r;
				break;
			}
			rs.run_here |= r == AIOR_POOL_RUN_HERE;
		}
	}
	lost = flush_runs(ctx, &rs, &err);
	done -= lost;
	if (rs.uring_used)
		aior_uring_flush(ctx);
	pthread_mutex_unlock(&ctx->reqs.lock);
	/* no thread could start for the pool: buffered I/O runs inside io_submit, as the kernel's */
	if (rs.run_here)
		aior_pool_run_here(ctx);
	/* what io_uring finished inside io_uring_enter (cached reads): in now, no thread hop */
	if (rs.uring_used && done)
		aior_uring_reap(ctx);

	/* buffered kernel AIO finished inside io_submit: bring it in now */
	if (rs.kernel_used)
		aior_kernel_move(ctx);
	return done ? done : err;
}

int aior_direct_start(struct aior_ctx *ctx)
{
	int r = 0;

	if (ctx == NULL || ctx->mode != AIOR_BACKEND_AUTO || (ctx->flags & AIORING_SETUP_KERNEL_RING))
		return -EINVAL;
	pthread_mutex_lock(&ctx->reqs.lock);
	if (ctx->kernel.kctx || aior_inflight(ctx) || ctx->uring_auto) {
		r = -EINVAL;
	} else {
		/* before the kernel context is made: it then joins no mover */
		ctx->direct = 1;
		if (!aior_kernel_ready(ctx)) {
			ctx->direct = 0;
			r = ctx->kernel.error ? -ctx->kernel.error : -EAGAIN;
		}
	}
	pthread_mutex_unlock(&ctx->reqs.lock);
	return r;
}

long aior_submit_direct(struct aior_ctx *ctx, struct iocb **iocbs, long n)
{
	uint32_t cpu, room;
	long r;

	pthread_mutex_lock(&ctx->reqs.lock);
	if (ctx->stopping) {
		pthread_mutex_unlock(&ctx->reqs.lock);
		return -EINVAL;
	}
	/* as submit: a forged head is not a full ring, and a lost completion breaks the context */
	if ((requests_available(ctx) == 0 && requests_corrupt(ctx)) || aior_lost(ctx)) {
		pthread_mutex_unlock(&ctx->reqs.lock);
		return -EUCLEAN;
	}
	cpu = requests_cpu(ctx);
	room = requests_charge(ctx, cpu, n > (long)ctx->capacity ? ctx->capacity : (uint32_t)n);
	if (room == 0) {
		pthread_mutex_unlock(&ctx->reqs.lock);
		return -EAGAIN;
	}
	/* the room is held: the kernel may take its time (a buffered read runs inside io_submit) */
	pthread_mutex_unlock(&ctx->reqs.lock);
	r = aior_kernel_submit_direct(ctx, iocbs, room);
	if (r < (long)room) {
		pthread_mutex_lock(&ctx->reqs.lock);
		requests_uncharge(ctx, cpu, r < 0 ? room : room - (uint32_t)r);
		pthread_mutex_unlock(&ctx->reqs.lock);
	}
	return r;
}

long aior_wait_direct(struct aior_ctx *ctx, long min_nr, long nr, struct io_event *events,
		      const struct timespec *timeout, const sigset_t *sigmask)
{
	return aior_kernel_wait_direct(ctx, min_nr, nr, events, timeout, sigmask);
}

int aior_cancel_direct(struct aior_ctx *ctx, struct iocb *iocb, struct io_event *event)
{
	return syscall(SYS_io_cancel, ctx->kernel.kctx, iocb, event) < 0 ? -errno : 0;
}

/*
 * The kernel's io_cancel (aior_cancel_kernel), under reqs.lock: only a
 * pending poll is the kernel's to cancel; it is taken out of the pool's
 * poll service, or NULL (once taken out, a second cancel finds nothing:
 * EINVAL).
 */
static struct aior_req *kernel_cancel_locked(struct aior_ctx *ctx, const struct iocb *iocb, int *found)
{
	struct aior_req *req = aior_pool_cancel_poll(ctx, iocb);

	*found = req != NULL;
	return req;
}

static int cancel(struct aior_ctx *ctx, const struct iocb *iocb, int as_kernel)
{
	struct aior_req *req;
	int found;

	if (ctx == NULL || iocb == NULL)
		return -EINVAL;
	if (ctx->flags & AIORING_SETUP_KERNEL_RING)
		return aior_kernel_cancel(ctx, iocb);
	if (ctx->mode == AIOR_BACKEND_URING)
		return aior_uring_cancel(ctx, iocb);
	/*
	 * auto on io_uring: a request of its is io_uring's to cancel; one it
	 * does not know (-EINVAL) may be the pool's (a read the helper deferred)
	 */
	if (ctx->uring_auto && aior_load_acquire(&ctx->uring.started)) {
		int r = aior_uring_cancel(ctx, iocb);

		if (r != -EINVAL)
			return r;
	}
	pthread_mutex_lock(&ctx->reqs.lock);
	if (as_kernel) {
		req = kernel_cancel_locked(ctx, iocb, &found);
	} else {
		req = aior_pool_cancel(ctx, iocb);
		/* a poll waiting in the poll service has not started either */
		if (req == NULL)
			req = aior_pool_cancel_poll(ctx, iocb);
		found = req != NULL;
		/* a poll kernel AIO holds is the kernel's to cancel: its event comes through the ring */
		if (!found) {
			int r = aior_kernel_cancel_request(ctx, iocb);

			/* one already cancelled is no longer in flight, as for the kernel's io_cancel: EINVAL */
			if (r == 0 || r == -EALREADY) {
				pthread_mutex_unlock(&ctx->reqs.lock);
				return r == 0 ? 0 : -EINVAL;
			}
		}
		if (!found && requests_busy(ctx, iocb)) {
			pthread_mutex_unlock(&ctx->reqs.lock);
			return -EAGAIN;
		}
	}
	pthread_mutex_unlock(&ctx->reqs.lock);
	if (req)
		aior_complete(ctx, req, as_kernel ? 0 : -ECANCELED, 0);
	return found ? 0 : -EINVAL;
}

int aior_cancel(struct aior_ctx *ctx, const struct iocb *iocb)
{
	return cancel(ctx, iocb, 0);
}

int aior_cancel_kernel(struct aior_ctx *ctx, const struct iocb *iocb)
{
	return cancel(ctx, iocb, 1);
}

void aior_quiesce(struct aior_ctx *ctx)
{
	if (ctx == NULL)
		return;
	pthread_mutex_lock(&ctx->reqs.lock);
	aior_store_release(&ctx->stopping, 1);
	pthread_mutex_unlock(&ctx->reqs.lock);
	/* before the pool: what the helper defers goes to the pool's queue */
	aior_helper_stop(ctx);
	aior_pool_stop(ctx);
	aior_kernel_stop(ctx);
	aior_uring_stop(ctx);
}

void aior_destroy(struct aior_ctx *ctx)
{
	if (ctx == NULL)
		return;
	aior_quiesce(ctx);
	aior_kernel_release(ctx);
	aior_uring_release(ctx);
	aior_helper_release(ctx);
	aior_pool_release(ctx);
	requests_release(ctx);
	pthread_mutex_destroy(&ctx->completion.lock);
	pthread_mutex_destroy(&ctx->reqs.lock);
	pthread_cond_destroy(&ctx->reqs.idle);
	if (ctx->mem.addr)
		ring_memory_release(&ctx->mem);
	if (ctx->control)
		munmap(ctx->control, (size_t)system_page_size());
	free(ctx);
}
