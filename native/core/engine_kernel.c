/*
 * The kernel backend and the process's one mover thread, which serves
 * every descriptor that joined its epoll: kernel contexts' eventfds and
 * the uring backend's.
 *
 * A context's stop must know the mover no longer touches it, though the
 * mover may hold an event for it from before it left the epoll. Stops
 * take tickets (asked) and the mover, after each round, publishes the
 * ticket it read when the round began (acked): a stop that has left the
 * epoll and sees its ticket acked knows a whole round began after it left,
 * so every earlier round, the one holding a stale event included, is over.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "atomics.h"
#include "context.h"
#include "system_info.h"

#define MOVE_BATCH 64
/* How long the mover leaves new completions to a waiting consumer. */
#define MOVER_GRACE_NS 200000
/* epoll events taken per round */
#define MOVER_EVENTS 64
/* pause-loops the mover keeps looking after a batch (a few tens of µs) */
#define MOVER_LINGER_SPINS 20000

static int passthrough(const struct aior_ctx *ctx)
{
	return ctx->flags & AIORING_SETUP_KERNEL_RING;
}

static void backlog_submit(struct aior_ctx *ctx);

/*
 * A poll ended by io_cancel completes with no events (a poll that fired
 * always reports at least one: the kernel adds POLLERR and POLLHUP to what
 * was asked); the engine reports it as every cancelled request, -ECANCELED.
 */
static int64_t kernel_result(const struct aior_req *req, int64_t res)
{
	return req->cb.aio_lio_opcode == IOCB_CMD_POLL && res == 0 ? -ECANCELED : res;
}

/*
 * The direct route: the kernel's events are the caller's, moved as they
 * are; not while a thread waits in io_getevents, which reaps them itself.
 */
static void move_direct(struct aior_ctx *ctx)
{
	struct aior_kernel *k = &ctx->kernel;
	struct io_event ev[MOVE_BATCH];
	uint32_t n;

	pthread_mutex_lock(&k->ring_lock);
	while (k->kernel_waiters == 0 && (n = legacy_reap(&k->ring, ev, MOVE_BATCH)) > 0)
		aior_complete_events(ctx, ev, n);
	pthread_mutex_unlock(&k->ring_lock);
}

void aior_kernel_move(struct aior_ctx *ctx)
{
	struct aior_kernel *k = &ctx->kernel;
	struct io_event ev[MOVE_BATCH];
	struct aior_req *reqs[MOVE_BATCH];
	int64_t res[MOVE_BATCH], res2[MOVE_BATCH];
	uint32_t n;

	if (aior_load_relaxed(&ctx->direct)) {
		move_direct(ctx);
		return;
	}
	/* held across the completions too, so events keep the kernel's order */
	pthread_mutex_lock(&k->ring_lock);
	while ((n = legacy_reap(&k->ring, ev, MOVE_BATCH)) > 0) {
		int m = 0;

		for (uint32_t i = 0; i < n; i++) {
			struct aior_req *req = request_with_kernel(ctx, ev[i].obj);

			if (req) {
				/* a sync's record brackets it: queued for the kernel, then reaped (as io_uring's) */
				if (aior_is_sync(req->cb.aio_lio_opcode))
					aior_record_sync(ctx, req, req->queued_ns, aior_monotonic_ns());
				reqs[m] = req;
				res[m] = kernel_result(req, ev[i].res);
				res2[m++] = ev[i].res2;
			}
		}
		/* one pass over the locks and one wakeup for the whole batch */
		if (m) {
			aior_sub_acq_rel(&k->with_kernel, (uint32_t)m);
			aior_complete_many(ctx, reqs, res, res2, m);
		}
	}
	pthread_mutex_unlock(&k->ring_lock);
	/* every completion gives the kernel room back: after each one, the backlog gets another try */
	backlog_submit(ctx);
}

/* The kernel context, or 0: it may appear (aior_kernel_ready) while a consumer looks. */
static aio_context_t kernel_context(const struct aior_ctx *ctx)
{
	return aior_load_acquire(&ctx->kernel.kctx);
}

int aior_kernel_fd(const struct aior_ctx *ctx)
{
	return kernel_context(ctx) ? ctx->kernel.eventfd : -1;
}

int aior_service(struct aior_ctx *ctx)
{
	uint64_t count;
	ssize_t r;

	if (!kernel_context(ctx))
		return 0;
	aior_add_relaxed(&ctx->kernel.service_calls, 1);
	r = ctx->kernel.eventfd < 0 ? 0 : read(ctx->kernel.eventfd, &count, sizeof(count));
	if (!passthrough(ctx))
		aior_kernel_move(ctx);
	return r > 0;
}

void aior_service_ring(struct aior_ctx *ctx)
{
	struct aior_kernel *k = &ctx->kernel;

	if (!kernel_context(ctx) || passthrough(ctx))
		return;
	aior_add_relaxed(&k->service_calls, 1);
	/* a look at the kernel's indices (a hint: the move reads them under ring_lock) */
	if (legacy_count(&k->ring) > 0)
		aior_kernel_move(ctx);
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
		/* nor one that comes meanwhile, or waits */
		if (aior_load_relaxed(&k->service_calls) != calls ||
		    (aior_load_acquire(ctx->completion.wait_flags) & AIORING_V2_WAITER))
			return;
		if (legacy_count(&k->ring) > 0) {
			aior_kernel_move(ctx);
			spin = 0;
		}
		aior_cpu_relax();
	}
}

static struct {
	pthread_once_t once;
	pthread_mutex_t lock;      /* users, started, the descriptors: start and stop only */
	int epfd;                  /* every registered context's eventfd, edge-triggered */
	int ctlfd;                 /* an eventfd in the epoll too: stop tickets and the end */
	pthread_t thread;
	int started;
	uint32_t users;            /* contexts registered */
	uint32_t generation;       /* changes in a child of fork: the parent's contexts are not registered */
	uint32_t asked;            /* atomic: the last stop ticket taken (under lock) */
	uint32_t acked;            /* atomic, a futex word: the ticket read when the last finished round began */
	uint32_t stop;             /* atomic: the last context left */
} mover = {.once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER, .epfd = -1, .ctlfd = -1, .generation = 1};

static void mover_fork_prepare(void)
{
	pthread_mutex_lock(&mover.lock);
}

static void mover_fork_parent(void)
{
	pthread_mutex_unlock(&mover.lock);
}

/* The child has no mover; the epoll it inherited is the parent's, so it lets go of it. */
static void mover_fork_child(void)
{
	pthread_mutex_init(&mover.lock, NULL);
	if (mover.started) {
		close(mover.epfd);
		close(mover.ctlfd);
	}
	mover.epfd = mover.ctlfd = -1;
	mover.started = 0;
	mover.users = 0;
	mover.stop = 0;
	mover.acked = mover.asked;
	mover.generation++;
}

static void mover_init(void)
{
	pthread_atfork(mover_fork_prepare, mover_fork_parent, mover_fork_child);
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* What the kernel finished for one context: into its ring (or, passthrough, its waiters woken). */
static void serve_ready(struct aior_ctx *ctx, int alone)
{
	uint64_t count;

	/* non-blocking: a waiting consumer may have read it first, and moved the events itself */
	if (read(ctx->kernel.eventfd, &count, sizeof(count)) < 0)
		return;
	if (passthrough(ctx)) {
		aior_wake_waiters(ctx);
	} else {
		aior_kernel_move(ctx);
		/* lingering on one context would delay the others' events */
		if (alone)
			mover_linger(ctx);
	}
}

/* Wait for events, at most until the first deferred context is due: how many, or 0. */
static int wait_events(struct epoll_event *evs, struct aior_ctx *deferred)
{
	struct timespec t, *tp = NULL;
	uint64_t due = UINT64_MAX, now;
	int n;

	for (struct aior_ctx *c = deferred; c; c = c->kernel.defer_next)
		if (c->kernel.defer_until < due)
			due = c->kernel.defer_until;
	if (deferred) {
		now = now_ns();
		due = due > now ? due - now : 0;
		t = (struct timespec){(time_t)(due / 1000000000u), (long)(due % 1000000000u)};
		tp = &t;
	}
	n = (int)syscall(SYS_epoll_pwait2, mover.epfd, evs, MOVER_EVENTS, tp, NULL, 0);
	/* before 5.11: millisecond timeouts */
	if (n < 0 && errno == ENOSYS)
		n = epoll_wait(mover.epfd, evs, MOVER_EVENTS, tp ? (int)(due / 1000000u) + 1 : -1);
	return n < 0 ? 0 : n;
}

/*
 * Whether the mover's epoll reports a context's completions: not while it
 * is deferred, so that the consumer's completions do not wake the mover
 * one by one. Turned back on after the mover cleared the eventfd, so that
 * a completion after that is reported (EPOLL_CTL_MOD looks at the eventfd
 * as it is). A stopped context has left the epoll (ENOENT then) but its
 * eventfd stays open until the round is over.
 */
static void hear(struct aior_mover_link *link, int on)
{
	struct epoll_event ev = {.events = (on ? EPOLLIN : 0) | EPOLLET, .data.ptr = link};

	epoll_ctl(mover.epfd, EPOLL_CTL_MOD, link->fd, &ev);
}

/* Whether the consumer serviced the kernel's ring since the mover's last look (which this one is). */
static int consumer_came(struct aior_ctx *ctx)
{
	struct aior_kernel *k = &ctx->kernel;
	uint32_t calls = aior_load_acquire(&k->service_calls);
	int came = calls != k->service_seen;

	k->service_seen = calls;
	return came;
}

/*
 * Serve the deferred contexts that are due, but for those whose consumer
 * is still at it: deferred again while the kernel's ring holds events, else
 * heard again (no timer runs for a consumer that keeps up); drop the ones
 * that left. Returns the list kept.
 */
static struct aior_ctx *serve_deferred(struct aior_ctx *deferred)
{
	struct aior_ctx *kept = NULL, *next;
	uint64_t now = now_ns();

	for (struct aior_ctx *c = deferred; c; c = next) {
		struct aior_kernel *k = &c->kernel;
		int came;

		next = k->defer_next;
		if (!aior_load_acquire(&k->link.detached) && k->defer_until > now) {
			k->defer_next = kept;
			kept = c;
			continue;
		}
		came = consumer_came(c);
		if (!aior_load_acquire(&k->link.detached) && came && legacy_count(&k->ring) > 0) {
			k->defer_until = now + MOVER_GRACE_NS;
			k->defer_next = kept;
			kept = c;
			continue;
		}
		k->deferred = 0;
		k->defer_next = NULL;
		if (aior_load_acquire(&k->link.detached))
			continue;
		if (!came)
			serve_ready(c, 0);
		hear(&k->link, 1);
	}
	return kept;
}

static void *mover_main(void *arg)
{
	struct epoll_event evs[MOVER_EVENTS];
	struct aior_ctx *ready[MOVER_EVENTS], *deferred = NULL;
	uint32_t acked = aior_load_acquire(&mover.acked);

	(void)arg;
	for (;;) {
		int n = wait_events(evs, deferred), nready = 0;
		/* the ticket this round answers: stops that left the epoll before it began */
		uint32_t seen = aior_load_acquire(&mover.asked);

		for (int i = 0; i < n; i++) {
			struct aior_mover_link *link = evs[i].data.ptr;
			struct aior_ctx *ctx;
			uint64_t count;

			if (link == NULL) {
				if (read(mover.ctlfd, &count, sizeof(count)) < 0)
					continue;
				continue;
			}
			if (aior_load_acquire(&link->detached))
				continue;
			ctx = link->ctx;
			if (link->serve) {
				link->serve(ctx);
				continue;
			}
			if (ctx->kernel.deferred)
				continue;
			/*
			 * A consumer waiting in io_getevents (or getEvents), or one that
			 * came for its events since the mover last looked, services the
			 * kernel's ring itself: step aside for it rather than race it for
			 * the ring (and its locks), and take over only what it left.
			 */
			if (consumer_came(ctx) || (aior_load_acquire(ctx->completion.wait_flags) & AIORING_V2_WAITER)) {
				ctx->kernel.deferred = 1;
				ctx->kernel.defer_until = now_ns() + MOVER_GRACE_NS;
				ctx->kernel.defer_next = deferred;
				deferred = ctx;
				hear(link, 0);
				continue;
			}
			ready[nready++] = ctx;
		}
		for (int i = 0; i < nready; i++)
			serve_ready(ready[i], nready == 1 && deferred == NULL);
		if (deferred)
			deferred = serve_deferred(deferred);
		if (seen != acked) {
			acked = seen;
			aior_store_release(&mover.acked, acked);
			syscall(SYS_futex, &mover.acked, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
		}
		if (aior_load_acquire(&mover.stop))
			return NULL;
	}
}

int aior_mover_join(struct aior_mover_link *link)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = link};
	struct epoll_event ctl = {.events = EPOLLIN, .data.ptr = NULL};
	int r = 0;

	pthread_once(&mover.once, mover_init);
	pthread_mutex_lock(&mover.lock);
	if (!mover.started) {
		mover.epfd = epoll_create1(EPOLL_CLOEXEC);
		mover.ctlfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (mover.epfd < 0 || mover.ctlfd < 0 || epoll_ctl(mover.epfd, EPOLL_CTL_ADD, mover.ctlfd, &ctl) < 0 ||
		    (r = pthread_create(&mover.thread, NULL, mover_main, NULL)) != 0) {
			r = r ? -r : -errno;
			if (mover.epfd >= 0)
				close(mover.epfd);
			if (mover.ctlfd >= 0)
				close(mover.ctlfd);
			mover.epfd = mover.ctlfd = -1;
			pthread_mutex_unlock(&mover.lock);
			return r;
		}
		mover.started = 1;
	}
	aior_store_relaxed(&link->detached, 0);
	if (epoll_ctl(mover.epfd, EPOLL_CTL_ADD, link->fd, &ev) < 0) {
		r = -errno;
	} else {
		mover.users++;
		link->registered = 1;
		link->generation = mover.generation;
	}
	pthread_mutex_unlock(&mover.lock);
	return r;
}

static void ring_ctl(void)
{
	uint64_t one = 1;
	ssize_t w = write(mover.ctlfd, &one, sizeof(one));

	(void)w;
}

void aior_mover_leave(struct aior_mover_link *link)
{
	uint32_t ticket, acked;

	if (!link->registered)
		return;
	link->registered = 0;
	pthread_mutex_lock(&mover.lock);
	if (link->generation != mover.generation) {
		pthread_mutex_unlock(&mover.lock);
		return;
	}
	aior_store_release(&link->detached, 1);
	epoll_ctl(mover.epfd, EPOLL_CTL_DEL, link->fd, NULL);
	ticket = mover.asked + 1;
	aior_store_seq_cst(&mover.asked, ticket);
	ring_ctl();
	pthread_mutex_unlock(&mover.lock);
	while ((int32_t)((acked = aior_load_acquire(&mover.acked)) - ticket) < 0)
		syscall(SYS_futex, &mover.acked, FUTEX_WAIT_PRIVATE, acked, NULL, NULL, 0);

	pthread_mutex_lock(&mover.lock);
	if (link->generation == mover.generation && --mover.users == 0) {
		aior_store_release(&mover.stop, 1);
		ring_ctl();
		pthread_join(mover.thread, NULL);
		close(mover.epfd);
		close(mover.ctlfd);
		mover.epfd = mover.ctlfd = -1;
		mover.started = 0;
		aior_store_relaxed(&mover.stop, 0);
	}
	pthread_mutex_unlock(&mover.lock);
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
	/* the direct route's iocbs carry no eventfd of ours: its consumers move or wait themselves */
	k->eventfd = ctx->direct ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->eventfd < 0 && !ctx->direct) {
		k->error = errno;
		syscall(SYS_io_destroy, kctx);
		return -k->error;
	}
	k->waits_on_fd = waits_on_fd;
	pthread_mutex_init(&k->ring_lock, NULL);
	legacy_consumer_init(&k->ring, (struct aio_ring *)kctx, nr);
	/* passthrough: what the mover does, the embedder's waiters do themselves */
	k->link = (struct aior_mover_link){.ctx = ctx, .fd = k->eventfd};
	r = (passthrough(ctx) && k->waits_on_fd) || ctx->direct ? 0 : aior_mover_join(&k->link);
	if (r < 0) {
		k->error = -r;
		close(k->eventfd);
		k->eventfd = -1;
		pthread_mutex_destroy(&k->ring_lock);
		syscall(SYS_io_destroy, kctx);
		return r;
	}
	aior_store_release(&k->kctx, kctx);
	return 0;
}

/* What the process's deferred kernel contexts will ask io_setup for, together (atomic). */
static uint64_t deferred_total;

uint64_t aior_deferred_aio_nr(void)
{
	return aior_load_acquire(&deferred_total);
}

void aior_kernel_defer(struct aior_ctx *ctx, uint32_t nr_events, int waits_on_fd)
{
	ctx->kernel.deferred_events = nr_events;
	ctx->kernel.waits_on_fd = waits_on_fd;
	aior_add_acq_rel(&deferred_total, (uint64_t)nr_events);
}

/* The context no longer defers: its count leaves the total (before its io_setup charges it, if any). */
static void undefer(struct aior_kernel *k)
{
	aior_sub_acq_rel(&deferred_total, (uint64_t)k->deferred_events);
	k->deferred_events = 0;
}

int aior_kernel_ready(struct aior_ctx *ctx)
{
	struct aior_kernel *k = &ctx->kernel;
	uint32_t n = k->deferred_events;

	if (k->kctx || n == 0)
		return k->kctx != 0;
	undefer(k);
	return aior_kernel_start(ctx, n, k->waits_on_fd) == 0;
}

/* io_submit a run as it is: how many the kernel took, or a negative errno. With reqs.lock held. */
static long submit_run(struct aior_ctx *ctx, struct aior_req **reqs, long n)
{
	struct iocb *cbs[64];
	long r, i;

	uint64_t now = aior_monotonic_ns();

	for (i = 0; i < n; i++) {
		request_set_state(reqs[i], REQ_KERNEL);
		cbs[i] = &reqs[i]->cb;
		/* a sync cannot begin before this (its record's start) */
		reqs[i]->queued_ns = now;
	}
	r = syscall(SYS_io_submit, ctx->kernel.kctx, n, cbs);
	if (r < 0)
		r = -errno;
	else
		aior_add_acq_rel(&ctx->kernel.with_kernel, (uint32_t)r);
	for (i = r < 0 ? 0 : r; i < n; i++)
		request_set_state(reqs[i], REQ_FREE);
	return r;
}

static void backlog_push(struct aior_kernel *k, struct aior_req **reqs, long n)
{
	for (long i = 0; i < n; i++) {
		reqs[i]->state = REQ_QUEUED;
		reqs[i]->next = NULL;
		if (k->backlog_tail)
			k->backlog_tail->next = reqs[i];
		else
			aior_store_release(&k->backlog, reqs[i]);
		k->backlog_tail = reqs[i];
	}
}

static struct aior_req *backlog_pop(struct aior_kernel *k)
{
	struct aior_req *req = k->backlog;

	aior_store_release(&k->backlog, req->next);
	if (k->backlog == NULL)
		k->backlog_tail = NULL;
	req->next = NULL;
	return req;
}

long aior_kernel_submit(struct aior_ctx *ctx, struct aior_req **reqs, long n)
{
	struct aior_kernel *k = &ctx->kernel;
	long done = 0, r;

	if (n > 64)
		return -EINVAL;
	for (long i = 0; i < n; i++) {
		struct iocb *cb = &reqs[i]->cb;

		if (reqs[i]->iov)
			cb->aio_buf = (uint64_t)(uintptr_t)reqs[i]->iov;
		cb->aio_flags |= IOCB_FLAG_RESFD;
		cb->aio_resfd = (uint32_t)k->eventfd;
	}
	/* behind a backlog: after it, to keep the order */
	if (k->backlog) {
		backlog_push(k, reqs, n);
		return n;
	}
	while (done < n) {
		r = submit_run(ctx, reqs + done, n - done);
		if (r > 0) {
			done += r;
			continue;
		}
		/*
		 * No room in the kernel while ours has some: it is in other CPUs'
		 * caches, and comes back as what the kernel holds completes (the
		 * mover then calls backlog_submit, under reqs.lock as here, so a
		 * completion after this look still sees the backlog).
		 */
		if (r == -EAGAIN && aior_load_acquire(&k->with_kernel) > 0) {
			backlog_push(k, reqs + done, n - done);
			return n;
		}
		return done ? done : r;
	}
	return n;
}

/*
 * Give the backlog to the kernel, in order, as far as it has room. A
 * request it refuses for a reason of its own completes with that error,
 * as io_submit would have reported it.
 */
static void backlog_submit(struct aior_ctx *ctx)
{
	struct aior_kernel *k = &ctx->kernel;

	/* the usual case, with no lock: nothing waits */
	if (aior_load_acquire(&k->backlog) == NULL)
		return;
	pthread_mutex_lock(&ctx->reqs.lock);
	while (k->backlog && !ctx->stopping) {
		struct aior_req *run[KERNEL_RUN];
		long n = 0, r;

		for (struct aior_req *q = k->backlog; q && n < KERNEL_RUN; q = q->next)
			run[n++] = q;
		r = submit_run(ctx, run, n);
		if (r == -EAGAIN && aior_load_acquire(&k->with_kernel) > 0)
			break;
		if (r > 0) {
			while (r-- > 0)
				backlog_pop(k);
			continue;
		}
		/* nothing with the kernel and still no room: not what fs/aio.c does, but never wait for it */
		struct aior_req *failed = backlog_pop(k);

		pthread_mutex_unlock(&ctx->reqs.lock);
		aior_complete(ctx, failed, r, 0);
		pthread_mutex_lock(&ctx->reqs.lock);
	}
	pthread_mutex_unlock(&ctx->reqs.lock);
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

long aior_kernel_submit_direct(struct aior_ctx *ctx, struct iocb **iocbs, long n)
{
	long r = syscall(SYS_io_submit, ctx->kernel.kctx, n, iocbs);

	return r < 0 ? -errno : r;
}

/* io_pgetevents' mask argument. */
struct kernel_sigset {
	const sigset_t *mask;
	size_t len;
};

long aior_kernel_wait_direct(struct aior_ctx *ctx, long min_nr, long nr, struct io_event *events,
			     const struct timespec *timeout, const sigset_t *sigmask)
{
	struct aior_kernel *k = &ctx->kernel;
	struct kernel_sigset mask = {sigmask, _NSIG / 8};
	long r;
	int err;

	aio_context_t kctx;

	pthread_mutex_lock(&k->ring_lock);
	k->kernel_waiters++;
	kctx = aior_load_acquire(&k->kctx);
	pthread_mutex_unlock(&k->ring_lock);
#ifdef SYS_io_pgetevents
	if (sigmask)
		r = syscall(SYS_io_pgetevents, kctx, min_nr, nr, events, timeout, &mask);
	else
#endif
		r = syscall(SYS_io_getevents, kctx, min_nr, nr, events, timeout);
	err = r < 0 ? errno : 0;
	/* before userspace may reap the kernel's ring again: these were before what is left there */
	pthread_mutex_lock(&k->ring_lock);
	if (r > 0)
		aior_complete_events(ctx, events, (uint32_t)r);
	k->kernel_waiters--;
	pthread_mutex_unlock(&k->ring_lock);
	return r < 0 ? -err : r;
}

int aior_kernel_cancel(struct aior_ctx *ctx, const struct iocb *iocb)
{
	struct io_event ev;

	/* the event always comes through the ring: -EINPROGRESS says it will */
	if (syscall(SYS_io_cancel, ctx->kernel.kctx, iocb, &ev) < 0 && errno != EINPROGRESS)
		return -errno;
	return 0;
}

int aior_kernel_cancel_request(struct aior_ctx *ctx, const struct iocb *user)
{
	if (!kernel_context(ctx) || passthrough(ctx))
		return -EINVAL;
	for (uint32_t i = 0; i < ctx->capacity; i++) {
		struct aior_req *req = &ctx->reqs.table[i];

		if (req->user == user && aior_load_acquire(&req->state) == REQ_KERNEL) {
			int r = aior_kernel_cancel(ctx, &req->cb);

			/* a poll the kernel no longer holds was cancelled or has completed: its event is on the way */
			return r == -EINVAL && req->cb.aio_lio_opcode == IOCB_CMD_POLL ? -EALREADY : r;
		}
	}
	return -EINVAL;
}

/* Cancel the backlog, and whatever the kernel can cancel (its polls). */
static void cancel_all(struct aior_ctx *ctx)
{
	struct aior_kernel *k = &ctx->kernel;
	struct aior_req *backlog;

	pthread_mutex_lock(&ctx->reqs.lock);
	backlog = k->backlog;
	aior_store_release(&k->backlog, NULL);
	k->backlog_tail = NULL;
	pthread_mutex_unlock(&ctx->reqs.lock);
	while (backlog) {
		struct aior_req *next = backlog->next;

		aior_complete(ctx, backlog, -ECANCELED, 0);
		backlog = next;
	}
	/* reads and writes are not cancellable (EINVAL): they complete on their own */
	for (uint32_t i = 0; i < ctx->capacity; i++) {
		struct aior_req *req = &ctx->reqs.table[i];
		struct io_event ev;

		if (aior_load_acquire(&req->state) == REQ_KERNEL)
			syscall(SYS_io_cancel, k->kctx, &req->cb, &ev);
	}
}

void aior_kernel_stop(struct aior_ctx *ctx)
{
	if (!kernel_context(ctx))
		return;
	/* What the kernel holds completes, or is cancelled: wait for the mover to bring it in. */
	if (!passthrough(ctx)) {
		cancel_all(ctx);
		requests_wait_idle(ctx);
	}
	aior_mover_leave(&ctx->kernel.link);
}

void aior_kernel_release(struct aior_ctx *ctx)
{
	struct aior_kernel *k = &ctx->kernel;

	if (k->deferred_events)
		undefer(k);
	if (!k->kctx)
		return;
	aior_kernel_stop(ctx);
	/* io_destroy waits for whatever the kernel still holds, then unmaps its ring */
	syscall(SYS_io_destroy, k->kctx);
	aior_store_release(&k->kctx, 0);
	/* and ends the direct route's waits in the kernel (EINVAL): they leave the engine before it goes */
	for (;;) {
		uint32_t waiting;

		pthread_mutex_lock(&k->ring_lock);
		waiting = k->kernel_waiters;
		pthread_mutex_unlock(&k->ring_lock);
		if (waiting == 0)
			break;
		sched_yield();
	}
	if (k->eventfd >= 0)
		close(k->eventfd);
	k->eventfd = -1;
}
