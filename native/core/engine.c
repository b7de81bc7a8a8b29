#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "atomics.h"
#include "engine_internal.h"
#include "system_info.h"

#define AIOR_DEFAULT_THREADS 4
#define AIOR_MAX_THREADS     64
#define AIOR_MAX_IOVECS      1024
/* the v2 features a context can take over in a ring it adopts */
#define AIOR_ADOPTABLE_FEATURES AIORING_FEAT_USER_REAP

static uint32_t available(struct aior_ctx *ctx);
static int kreqs_start(struct aior_ctx *ctx);

static uint32_t round_up_pow2(uint32_t n)
{
	uint32_t p = 1;

	while (p < n && p < AIORING_V2_MAX_ENTRIES)
		p <<= 1;
	return p;
}

/* legacy: the kernel's nr for nr_events; v2: the next power of two */
static int64_t ring_nr(const struct aior_setup *s)
{
	if (s->nr_events == 0)
		return -EINVAL;
	if (s->flags & AIORING_SETUP_V2) {
		if (s->nr_events > AIORING_V2_MAX_ENTRIES)
			return -EINVAL;
		return round_up_pow2(s->nr_events < 2 ? 2 : s->nr_events);
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
	if (s->backend > AIOR_BACKEND_THREADPOOL || s->threads > AIOR_MAX_THREADS)
		return -EINVAL;
	if ((s->flags & AIORING_SETUP_KERNEL_RING) &&
	    (v2 || s->backend == AIOR_BACKEND_THREADPOOL || s->memory))
		return -EINVAL;
	/* the kernel's accounting is the legacy ring's; passthrough has the real one */
	if ((s->flags & AIORING_SETUP_KERNEL_REQS) && (v2 || (s->flags & AIORING_SETUP_KERNEL_RING)))
		return -EINVAL;
	if (s->memory && ((uintptr_t)s->memory % AIOR_MEMORY_ALIGN ||
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
		v2_producer_init(&ctx->v2, &ring);
		ctx->capacity = nr;
		ctx->wait_flags = &((struct v2_ring_header *)ctx->ring)->wait_flags;
	} else {
		if (!s->attach)
			legacy_format(ctx->ring, nr);
		legacy_producer_init(&ctx->legacy, ctx->ring, nr);
		ctx->capacity = nr - 1;
		ctx->wait_flags = &ctx->control->wait_flags;
	}
	return 0;
}

static int setup_requests(struct aior_ctx *ctx)
{
	ctx->reqs = calloc(ctx->capacity, sizeof(*ctx->reqs));
	if (!ctx->reqs)
		return -ENOMEM;
	for (uint32_t i = ctx->capacity; i-- > 0;) {
		ctx->reqs[i].next = ctx->free_list;
		ctx->free_list = &ctx->reqs[i];
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
	ctx->wake = s->wake;
	ctx->wake_arg = s->wake_arg;
	ctx->waits_on_kernel_fd = s->waits_on_kernel_fd;
	ctx->eventfd = -1;
	ctx->mem.fd = -1;
	pthread_mutex_init(&ctx->completion_lock, NULL);
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_cond_init(&ctx->work, NULL);
	pthread_cond_init(&ctx->idle, NULL);
	ctx->control = mmap(NULL, (size_t)system_page_size(), PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ctx->control == MAP_FAILED) {
		ctx->control = NULL;
		r = -ENOMEM;
		goto fail;
	}

	if (s->flags & AIORING_SETUP_KERNEL_RING) {
		/* passthrough: the context's ring is the kernel's own */
		r = aior_kernel_start(ctx, s->nr_events);
		if (r < 0)
			goto fail;
		ctx->wait_flags = &ctx->control->wait_flags;
		*out = ctx;
		return 0;
	}

	r = setup_ring(ctx, s, (uint32_t)nr);
	/* what an adopted ring already holds counts as accepted */
	ctx->accepted = ctx->is_v2 ? ctx->v2.tail : ctx->legacy.tail;
	if (r == 0 && available(ctx) == 0)
		r = -EAGAIN;   /* an adopted ring already full of unreaped events */
	if (r == 0)
		r = setup_requests(ctx);
	if (r == 0 && (s->flags & AIORING_SETUP_KERNEL_REQS))
		r = kreqs_start(ctx);
	if (r < 0)
		goto fail;
	if (s->backend != AIOR_BACKEND_THREADPOOL) {
		r = aior_kernel_start(ctx, ctx->capacity);
		if (r < 0 && s->backend == AIOR_BACKEND_KERNEL)
			goto fail;
	}
	if (s->backend != AIOR_BACKEND_KERNEL) {
		r = aior_pool_start(ctx, s->threads ? s->threads : AIOR_DEFAULT_THREADS);
		if (r == 0)
			r = aior_helper_setup(ctx);
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

	info->ring = passthrough ? (void *)(uintptr_t)ctx->kctx : ctx->ring;
	info->ring_len = passthrough ? system_mapping_length((uintptr_t)ctx->kctx) : ctx->ring_len;
	info->nr = passthrough ? ctx->kring.nr : ctx->nr;
	info->capacity = passthrough ? ctx->kring.nr - 1 : ctx->capacity;
	info->kernel = ctx->kctx != 0;
	info->threads = ctx->nthreads;
	info->kernel_error = ctx->kernel_error;
	info->wait_flags = ctx->wait_flags;
	info->read_helper = ctx->helper != NULL;
}

uint32_t aior_inflight(const struct aior_ctx *ctx)
{
	return aior_load_acquire(&ctx->inflight);
}

/*
 * Requests the ring can still take. Every request accepted is in flight,
 * published and unreaped, or reaped: so accepted minus the consumer's head
 * is exactly what occupies the ring, with no window in which a completing
 * request is counted twice (a spurious EAGAIN that fio, for one, waits on
 * forever). head is the consumer's word, so it is clamped.
 */
static uint32_t available(struct aior_ctx *ctx)
{
	uint32_t used;

	if (ctx->is_v2)
		used = ctx->accepted - aior_load_acquire(ctx->v2.ring.head);
	else
		used = (ctx->accepted + ctx->nr - aior_load_acquire(&ctx->legacy.ring->head) % ctx->nr) %
		       ctx->nr;
	return used >= ctx->capacity ? 0 : ctx->capacity - used;
}

/* Count a request accepted (+1) or given back (-1): free-running for v2, mod nr for legacy. */
static void account(struct aior_ctx *ctx, int delta)
{
	if (ctx->is_v2)
		ctx->accepted += (uint32_t)delta;
	else
		ctx->accepted = (ctx->accepted + ctx->nr + (uint32_t)delta) % ctx->nr;
}

static int kreqs_start(struct aior_ctx *ctx)
{
	struct kernel_reqs *k = calloc(1, sizeof(*k));
	uint32_t cpus = (uint32_t)system_possible_cpus();

	if (!k || !(k->cpu = calloc(cpus, sizeof(*k->cpu)))) {
		free(k);
		return -ENOMEM;
	}
	k->ncpus = cpus;
	k->batch = (ctx->nr - 1) / (cpus * 4);
	if (k->batch < 1)
		k->batch = 1;
	k->global = ctx->nr - 1;
	ctx->kreqs = k;
	return 0;
}

static uint32_t this_cpu(const struct kernel_reqs *k)
{
	int cpu = sched_getcpu();

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
	struct kernel_reqs *k = ctx->kreqs;
	uint32_t head = aior_load_acquire(&ctx->legacy.ring->head) % ctx->nr;
	uint32_t tail = aior_load_acquire(&ctx->legacy.tail);
	uint32_t in_ring = head <= tail ? tail - head : ctx->nr - (head - tail);
	uint32_t completed = k->completed > in_ring ? k->completed - in_ring : 0;

	if (completed) {
		k->completed -= completed;
		kreqs_put(k, cpu, completed);
	}
}

/* aio_get_req's accounting: a request, or refill from the ring and try again. */
static int kreqs_take(struct aior_ctx *ctx, uint32_t cpu)
{
	if (kreqs_get(ctx->kreqs, cpu))
		return 1;
	kreqs_refill(ctx, cpu);
	return kreqs_get(ctx->kreqs, cpu);
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

static int is_vectored(uint16_t op)
{
	return op == IOCB_CMD_PREADV || op == IOCB_CMD_PWRITEV;
}

/*
 * The checks io_submit makes before it queues anything. The descriptor is
 * checked here unless the caller's own syscall will report EBADF at once.
 */
static int check_iocb(const struct iocb *cb, int check_fd)
{
	if (cb->aio_reserved2 || (cb->aio_flags & ~(IOCB_FLAG_RESFD | IOCB_FLAG_IOPRIO)))
		return -EINVAL;
	if (!opcode_known(cb->aio_lio_opcode))
		return -EINVAL;
	if ((int64_t)cb->aio_nbytes < 0 || cb->aio_offset < 0 ||
	    (is_vectored(cb->aio_lio_opcode) && cb->aio_nbytes > AIOR_MAX_IOVECS))
		return -EINVAL;
	if (check_fd && cb->aio_lio_opcode != IOCB_CMD_NOOP && fcntl((int)cb->aio_fildes, F_GETFD) < 0)
		return -EBADF;
	return 0;
}

enum route { ROUTE_POOL, ROUTE_KERNEL, ROUTE_INLINE };

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
 * asynchronously; buffered reads are tried inline first (RWF_NOWAIT, which
 * also refuses at once whatever would block, O_DIRECT included); the rest
 * goes to the pool. Only the auto mode needs to look at the file's flags.
 */
static enum route route_of(struct aior_ctx *ctx, const struct iocb *cb)
{
	uint16_t op = cb->aio_lio_opcode;
	int inline_ok = is_read(op) && !(ctx->flags & AIORING_SETUP_NO_INLINE) && ctx->nthreads;
	int fl;

	if (ctx->kctx && ctx->mode == AIOR_BACKEND_KERNEL)
		return ROUTE_KERNEL;
	if (ctx->kctx && is_rw(op)) {
		fl = fcntl((int)cb->aio_fildes, F_GETFL);
		if (fl >= 0 && (fl & O_DIRECT))
			return ROUTE_KERNEL;
	}
	return inline_ok ? ROUTE_INLINE : ROUTE_POOL;
}

static struct aior_req *take_req(struct aior_ctx *ctx, struct iocb *user)
{
	struct aior_req *req = ctx->free_list;

	ctx->free_list = req->next;
	req->next = NULL;
	req->cb = *user;
	req->user = user;
	req->iov = NULL;
	req->user_resfd = user->aio_flags & IOCB_FLAG_RESFD ? (int)user->aio_resfd : -1;
	return req;
}

static void put_req(struct aior_ctx *ctx, struct aior_req *req)
{
	free(req->iov);
	req->iov = NULL;
	req->state = REQ_FREE;
	req->next = ctx->free_list;
	ctx->free_list = req;
}

/* Vectored requests: copy the caller's iovecs, as the kernel imports them. */
static int copy_iovecs(struct aior_req *req)
{
	size_t n = req->cb.aio_nbytes;

	if (!is_vectored(req->cb.aio_lio_opcode))
		return 0;
	req->iov = malloc((n ? n : 1) * sizeof(struct iovec));
	if (!req->iov)
		return -ENOMEM;
	memcpy(req->iov, (const void *)(uintptr_t)req->cb.aio_buf, n * sizeof(struct iovec));
	return 0;
}

/*
 * io_submit plugs the block queue for the whole batch it is given, so the
 * device sees nothing until the last iocb is prepared. Runs of 4 keep it
 * fed while the rest are prepared (bench:io O_DIRECT: runs of 16 or more
 * lost about a quarter of the IOPS on this machine class).
 */
#define KERNEL_RUN 4

static long submit_passthrough(struct aior_ctx *ctx, struct iocb *const *iocbs, long n)
{
	for (long i = 0; i < n; i++) {
		/* the watcher thread hears of completions through our eventfd */
		if (!(iocbs[i]->aio_flags & IOCB_FLAG_RESFD)) {
			iocbs[i]->aio_flags |= IOCB_FLAG_RESFD;
			iocbs[i]->aio_resfd = (uint32_t)ctx->eventfd;
		}
	}
	for (long done = 0; done < n;) {
		long run = n - done < KERNEL_RUN ? n - done : KERNEL_RUN;
		long r = aior_kernel_submit_batch(ctx, (struct iocb **)iocbs + done, run);

		if (r < 0)
			return done ? done : r;
		done += r;
		if (r < run)
			return done;
	}
	return n;
}

/* RWF_NOWAIT first, as io_uring does; see engine_internal.h */
int64_t aior_try_nowait(struct aior_req *req)
{
	struct iocb *cb = &req->cb;
	struct iovec one = {(void *)(uintptr_t)cb->aio_buf, cb->aio_nbytes};
	struct iovec *iov = req->iov ? req->iov : &one;
	int cnt = req->iov ? (int)cb->aio_nbytes : 1;
	size_t want = 0;
	ssize_t r;

	for (int i = 0; i < cnt; i++)
		want += iov[i].iov_len;
	r = preadv2((int)cb->aio_fildes, iov, cnt, cb->aio_offset, (int)cb->aio_rw_flags | RWF_NOWAIT);
	if (r == 0 || (r > 0 && (size_t)r == want))
		return r;
	if (r < 0 && errno != EAGAIN && errno != EOPNOTSUPP)
		return -errno;
	return AIOR_NOWAIT_DEFER;
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
 * Serve a run of reads inline, called without ctx->lock: the ones the page
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
		if (i == 0 && r >= 0 && ctx->helper && n > AIOR_HELPER_MIN_RUN && one_fd(reqs, n))
			given = aior_helper_give(ctx, reqs + 1, n - 1);
	}
	if (ns)
		aior_complete_many(ctx, served, res, NULL, ns);
	return i == n - given ? n : i;
}

/* A request submit took but could not start: as if never submitted. */
static void give_back(struct aior_ctx *ctx, struct aior_req *req)
{
	__atomic_sub_fetch(&ctx->inflight, 1, __ATOMIC_ACQ_REL);
	account(ctx, -1);
	if (ctx->kreqs)
		kreqs_put(ctx->kreqs, req->cpu, 1);
	put_req(ctx, req);
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
	r = aior_kernel_submit_reqs(ctx, run, k);
	for (long i = r < 0 ? 0 : r; i < k; i++)
		give_back(ctx, run[i]);
	return r;
}


/* Requests taken but not yet handed on: at most one kind pending at a time. */
struct runs {
	struct aior_req *kernel[KERNEL_RUN];
	struct aior_req *inl[INLINE_RUN];
	long nk, ni;
	int kernel_used;
};

/*
 * Flush the pending runs (kernel or inline) before a request of another
 * route is handled, so what submit returns is always a prefix: returns the
 * number of pending requests that were not taken (0 when all were), with
 * *err set when none was. Called and returns with ctx->lock held.
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

		pthread_mutex_unlock(&ctx->lock);
		handled = serve_inline(ctx, rs->inl, (int)rs->ni, deferred, &nd);
		pthread_mutex_lock(&ctx->lock);
		for (int i = 0; i < nd; i++)
			aior_pool_enqueue(ctx, deferred[i]);
		if (handled < rs->ni) {
			/* a bad descriptor: it and what followed it were not taken */
			for (long i = handled; i < rs->ni; i++)
				give_back(ctx, rs->inl[i]);
			lost += rs->ni - handled;
			*err = -EBADF;
		}
		rs->ni = 0;
	}
	return lost;
}

long aior_submit(struct aior_ctx *ctx, struct iocb *const *iocbs, long n)
{
	struct runs rs = {.nk = 0, .ni = 0, .kernel_used = 0};
	long done = 0, lost;
	int err = 0;
	uint32_t avail, cpu;

	if (ctx == NULL || n < 0)
		return -EINVAL;
	if (n == 0)
		return 0;
	if (ctx->flags & AIORING_SETUP_KERNEL_RING)
		return submit_passthrough(ctx, iocbs, n);

	pthread_mutex_lock(&ctx->lock);
	if (ctx->stopping) {
		pthread_mutex_unlock(&ctx->lock);
		return -EINVAL;
	}
	avail = available(ctx);
	cpu = ctx->kreqs ? this_cpu(ctx->kreqs) : 0;
	for (; done < n; done++) {
		struct iocb *user = iocbs[done];
		struct aior_req *req;
		enum route route;

		if (user == NULL) {
			err = -EFAULT;
			break;
		}
		if (avail == 0 || ctx->free_list == NULL) {
			err = -EAGAIN;
			break;
		}
		/* io_submit and the inline read report a bad descriptor themselves */
		route = route_of(ctx, user);
		err = check_iocb(user, route == ROUTE_POOL);
		if (err)
			break;
		if ((rs.nk && (route != ROUTE_KERNEL || rs.nk == KERNEL_RUN)) ||
		    (rs.ni && (route != ROUTE_INLINE || rs.ni == INLINE_RUN))) {
			lost = flush_runs(ctx, &rs, &err);
			if (lost) {
				done -= lost;
				break;
			}
		}
		if (ctx->kreqs && !kreqs_take(ctx, cpu)) {
			err = -EAGAIN;
			break;
		}
		req = take_req(ctx, user);
		req->cpu = cpu;
		err = copy_iovecs(req);
		if (err) {
			if (ctx->kreqs)
				kreqs_put(ctx->kreqs, cpu, 1);
			put_req(ctx, req);
			break;
		}
		__atomic_add_fetch(&ctx->inflight, 1, __ATOMIC_ACQ_REL);
		account(ctx, 1);
		avail--;
		if (route == ROUTE_KERNEL) {
			rs.kernel[rs.nk++] = req;
		} else if (route == ROUTE_INLINE) {
			req->state = REQ_RUNNING;
			rs.inl[rs.ni++] = req;
		} else {
			aior_pool_enqueue(ctx, req);
		}
	}
	lost = flush_runs(ctx, &rs, &err);
	done -= lost;
	pthread_mutex_unlock(&ctx->lock);

	/* buffered kernel AIO finished inside io_submit: bring it in now */
	if (rs.kernel_used)
		aior_kernel_move(ctx);
	return done ? done : err;
}

int aior_cancel(struct aior_ctx *ctx, const struct iocb *iocb)
{
	struct aior_req **link, *req = NULL;

	if (ctx == NULL || iocb == NULL || (ctx->flags & AIORING_SETUP_KERNEL_RING))
		return -EINVAL;
	pthread_mutex_lock(&ctx->lock);
	for (link = &ctx->queue_head; *link; link = &(*link)->next) {
		if ((*link)->user == iocb) {
			req = *link;
			*link = req->next;
			if (ctx->queue_tail == req) {
				ctx->queue_tail = NULL;
				for (struct aior_req *q = ctx->queue_head; q; q = q->next)
					ctx->queue_tail = q;
			}
			break;
		}
	}
	if (req == NULL) {
		int busy = 0;

		for (uint32_t i = 0; i < ctx->capacity; i++)
			busy |= ctx->reqs[i].state != REQ_FREE && ctx->reqs[i].user == iocb;
		pthread_mutex_unlock(&ctx->lock);
		return busy ? -EAGAIN : -EINVAL;
	}
	pthread_mutex_unlock(&ctx->lock);
	aior_complete(ctx, req, -ECANCELED, 0);
	return 0;
}

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
 * Complete requests into the ring, in order. A request's slot goes back to
 * the free list before its event is published: a consumer that has reaped
 * an event must be able to submit again at once, or it would get an EAGAIN
 * that in-flight plus unreaped do not explain (the ring's room is
 * accounted by available(), which counts the event until it is reaped).
 * The in-flight count drops only after the events are published, so a
 * quiesced context has published every one.
 */
void aior_complete_many(struct aior_ctx *ctx, struct aior_req **reqs, const int64_t *res,
			const int64_t *res2, int n)
{
	for (int done = 0; done < n;) {
		struct io_event ev[COMPLETE_CHUNK];
		int resfd[COMPLETE_CHUNK];
		int k = n - done < COMPLETE_CHUNK ? n - done : COMPLETE_CHUNK;
		uint32_t cpu = reqs[done]->cpu;

		pthread_mutex_lock(&ctx->lock);
		for (int i = 0; i < k; i++) {
			struct aior_req *req = reqs[done + i];

			ev[i] = (struct io_event){req->cb.aio_data, (uint64_t)(uintptr_t)req->user,
						  res[done + i], res2 ? res2[done + i] : 0};
			resfd[i] = req->user_resfd;
			put_req(ctx, req);
		}
		pthread_mutex_unlock(&ctx->lock);

		pthread_mutex_lock(&ctx->completion_lock);
		for (int i = 0; i < k; i++) {
			if (!ctx->is_v2) {
				legacy_produce(&ctx->legacy, &ev[i]);
			} else if (v2_reserve(&ctx->v2, 1) == 1) {
				*v2_slot(&ctx->v2.ring, ctx->v2.tail) = ev[i];
				v2_publish(&ctx->v2, 1);
			} else {
				ctx->lost++;
			}
		}
		pthread_mutex_unlock(&ctx->completion_lock);

		for (int i = 0; i < k; i++)
			signal_resfd(resfd[i]);
		pthread_mutex_lock(&ctx->lock);
		/* aio_complete: count the event, give back what has left the ring */
		if (ctx->kreqs) {
			ctx->kreqs->completed += (uint32_t)k;
			if (ctx->kreqs->completed > 1)
				kreqs_refill(ctx, cpu);
		}
		__atomic_sub_fetch(&ctx->inflight, (uint32_t)k, __ATOMIC_ACQ_REL);
		pthread_cond_broadcast(&ctx->idle);
		pthread_mutex_unlock(&ctx->lock);
		done += k;
	}
	aior_wake_waiters(ctx);
}

void aior_complete(struct aior_ctx *ctx, struct aior_req *req, int64_t res, int64_t res2)
{
	aior_complete_many(ctx, &req, &res, &res2, 1);
}

void aior_wake_waiters(struct aior_ctx *ctx)
{
	/* Pairs with the waiter's: announce, full fence, look at the ring again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if ((aior_load_relaxed(ctx->wait_flags) & AIORING_V2_WAITER) && ctx->wake) {
		__atomic_add_fetch(ctx->is_v2 ? &((struct v2_ring_header *)ctx->ring)->wakeups
					   : &ctx->control->wakeups,
				   1, __ATOMIC_RELAXED);
		ctx->wake(ctx->wake_arg);
	}
}

void aior_quiesce(struct aior_ctx *ctx)
{
	if (ctx == NULL)
		return;
	pthread_mutex_lock(&ctx->lock);
	ctx->stopping = 1;
	pthread_mutex_unlock(&ctx->lock);
	/* before the pool: what the helper defers goes to the pool's queue */
	aior_helper_stop(ctx);
	aior_pool_stop(ctx);
	aior_kernel_stop_threads(ctx);
}

void aior_destroy(struct aior_ctx *ctx)
{
	if (ctx == NULL)
		return;
	aior_quiesce(ctx);
	aior_kernel_release(ctx);
	aior_helper_free(ctx);
	pthread_mutex_destroy(&ctx->completion_lock);
	pthread_mutex_destroy(&ctx->lock);
	pthread_cond_destroy(&ctx->work);
	pthread_cond_destroy(&ctx->idle);
	if (ctx->reqs)
		for (uint32_t i = 0; i < ctx->capacity; i++)
			free(ctx->reqs[i].iov);
	free(ctx->reqs);
	if (ctx->kreqs)
		free(ctx->kreqs->cpu);
	free(ctx->kreqs);
	free(ctx->threads);
	if (ctx->mem.addr)
		ring_memory_release(&ctx->mem);
	if (ctx->control)
		munmap(ctx->control, (size_t)system_page_size());
	free(ctx);
}
