/*
 * The process's one thread pool (engine_pool.h says what it promises).
 *
 * The lock order is a context's reqs.lock, then the pool lock: a submit
 * queues with its reqs.lock held; a worker holds only the pool lock, and
 * none while it runs and completes a request. A context stays in the
 * ready list while it has queued work and is below its limit; runnable
 * counts the requests that could start now, across all contexts, so the
 * pool wakes or starts a worker only for work one could take.
 *
 * Polls never hold a worker: the poll service, one thread for the
 * process, watches every pending poll of every context in one poll() set
 * (its eventfd wakes it when one is added or taken out) and completes each
 * into its context as a worker would. Its entries are under the pool
 * lock too; whoever takes an entry out (the service when the file is
 * ready, a cancel, a stop) completes it, so each completes exactly once.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "atomics.h"
#include "context.h"
#include "io_exec.h"

/* How soon the poll service looks again when memory was short for all its polls. */
#define POLL_RETRY_MS 50

uint64_t aior_monotonic_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int aior_is_sync(uint16_t op)
{
	return op == IOCB_CMD_FSYNC || op == IOCB_CMD_FDSYNC;
}

static void record_sync(struct aior_ctx *ctx, int32_t fd, uint16_t op, uint64_t start_ns, uint64_t end_ns)
{
	struct aior_pool *p = &ctx->pool;
	uint64_t k;

	pthread_mutex_lock(&ctx->reqs.lock);
	k = p->fsyncs + p->fdatasyncs;
	p->syncs[k % AIOR_SYNC_RECORDS] = (struct aior_sync_record){fd, op, start_ns, end_ns};
	if (op == IOCB_CMD_FSYNC)
		p->fsyncs++;
	else
		p->fdatasyncs++;
	pthread_mutex_unlock(&ctx->reqs.lock);
}

void aior_record_sync(struct aior_ctx *ctx, const struct aior_req *req, uint64_t start_ns, uint64_t end_ns)
{
	record_sync(ctx, (int32_t)req->cb.aio_fildes, req->cb.aio_lio_opcode, start_ns, end_ns);
}

/* Run a sync and record it, before its event is published. */
static int64_t run_sync(struct aior_ctx *ctx, struct aior_req *req)
{
	uint64_t start = aior_monotonic_ns();
	int64_t res = aior_execute(req, &ctx->stopping);

	aior_record_sync(ctx, req, start, aior_monotonic_ns());
	return res;
}

enum slot_state { SLOT_FREE, SLOT_RUNNING, SLOT_EXITED, SLOT_JOINING };

/* A pending poll in the service; seq names it across the service's unlocked wait. */
struct poll_entry {
	struct aior_ctx *ctx;
	struct aior_req *req;
	uint64_t seq;
	int fresh;                 /* not looked at yet: a ready file reports what it has, not a wakeup */
};

struct worker {
	pthread_t thread;
	enum slot_state state;
	int retire;                /* leave at the next look: the last context was released */
	int idle;                  /* counted in pool.idle */
};

static struct {
	pthread_once_t once;
	pthread_mutex_t lock;
	pthread_cond_t work;       /* work became runnable, or retire */
	pthread_cond_t done;       /* a stopping context's last running request or poll finished */
	pthread_cond_t joined;     /* a call joined a group whose sync's thread delays (aior_sync_group.delaying) */
	struct aior_ctx *ready_head, *ready_tail;
	uint32_t runnable;         /* requests that could start now */
	uint32_t idle;             /* workers waiting for work */
	uint32_t wakeups;          /* workers signalled or started, not yet looking */
	uint32_t live;             /* workers alive and not retiring (atomic for aior_pool_workers) */
	uint32_t users;            /* contexts started in this process */
	uint32_t generation;       /* changes in a child of fork: the parent's contexts are not its users */
	struct worker slots[AIOR_POOL_MAX_WORKERS];
	/* the poll service */
	struct poll_entry *polls;
	uint32_t npolls, polls_cap;
	uint64_t poll_seq;
	int poll_efd;              /* wakes the service: -1 until it first starts */
	int poll_running;
	uint32_t poll_gen;         /* a service thread leaves once this is not the one it started with */
	pthread_t poll_thread;
} pool = {.once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER, .generation = 1, .poll_efd = -1};

static void init_conds(void)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool.work, &attr);
	pthread_cond_init(&pool.joined, &attr);
	pthread_condattr_destroy(&attr);
	pthread_cond_init(&pool.done, NULL);
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&pool.lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&pool.lock);
}

/* The child has none of the workers: it starts from an empty pool. */
static void fork_child(void)
{
	uint32_t generation = pool.generation + 1;

	pthread_mutex_init(&pool.lock, NULL);
	init_conds();
	pool.ready_head = pool.ready_tail = NULL;
	pool.runnable = pool.idle = pool.wakeups = pool.live = pool.users = 0;
	for (int i = 0; i < AIOR_POOL_MAX_WORKERS; i++)
		pool.slots[i] = (struct worker){.state = SLOT_FREE};
	/* the parent's polls are the parent's (its contexts start over here, see adopt) */
	pool.npolls = 0;
	pool.poll_running = 0;
	if (pool.poll_efd >= 0)
		close(pool.poll_efd);
	pool.poll_efd = -1;
	pool.generation = generation;
}

static void pool_init(void)
{
	init_conds();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static uint32_t runnable_of(const struct aior_pool *p)
{
	uint32_t room = p->active < p->limit ? p->limit - p->active : 0;

	if (p->stopping)
		return 0;
	return p->queued < room ? p->queued : room;
}

static void unlink_ready(struct aior_ctx *ctx)
{
	struct aior_pool *p = &ctx->pool;

	if (!p->linked)
		return;
	if (p->prev)
		p->prev->pool.next = p->next;
	else
		pool.ready_head = p->next;
	if (p->next)
		p->next->pool.prev = p->prev;
	else
		pool.ready_tail = p->prev;
	p->prev = p->next = NULL;
	p->linked = 0;
}

static void link_ready(struct aior_ctx *ctx)
{
	struct aior_pool *p = &ctx->pool;

	p->prev = pool.ready_tail;
	p->next = NULL;
	if (pool.ready_tail)
		pool.ready_tail->pool.next = ctx;
	else
		pool.ready_head = ctx;
	pool.ready_tail = ctx;
	p->linked = 1;
}

/*
 * After a change to a context's queue, count or limit: keep the ready
 * list and the runnable count true. before is its runnable_of before the
 * change. At the end of the list when it is (re)linked: round robin.
 */
static void requeue(struct aior_ctx *ctx, uint32_t before)
{
	uint32_t after = runnable_of(&ctx->pool);

	pool.runnable += after - before;
	unlink_ready(ctx);
	if (after)
		link_ready(ctx);
}

static void *worker_main(void *arg);

static int spawn(void)
{
	for (int i = 0; i < AIOR_POOL_MAX_WORKERS; i++) {
		struct worker *w = &pool.slots[i];

		if (w->state == SLOT_EXITED)
			pthread_join(w->thread, NULL);
		else if (w->state != SLOT_FREE)
			continue;
		*w = (struct worker){.state = SLOT_RUNNING};
		if (pthread_create(&w->thread, NULL, worker_main, w)) {
			w->state = SLOT_FREE;
			return -EAGAIN;
		}
		aior_store_relaxed(&pool.live, pool.live + 1);
		pool.wakeups++;
		return 0;
	}
	return -EAGAIN;
}

/* Work became runnable: wake an idle worker for it, or start one. Under the pool lock. */
static void ensure_worker(void)
{
	if (pool.runnable <= pool.wakeups)
		return;
	if (pool.idle > pool.wakeups) {
		pool.wakeups++;
		pthread_cond_signal(&pool.work);
		return;
	}
	if (pool.live < AIOR_POOL_MAX_WORKERS)
		spawn();
}

static void consume_wakeup(void)
{
	if (pool.wakeups)
		pool.wakeups--;
}

/* Wait for a ready context: 0, or -1 to leave (idle too long, or retiring). Under the pool lock. */
static int wait_for_work(struct worker *w)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += AIOR_POOL_IDLE_MS / 1000;
	deadline.tv_nsec += (long)(AIOR_POOL_IDLE_MS % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	while (!pool.ready_head && !w->retire) {
		int r;

		w->idle = 1;
		pool.idle++;
		r = pthread_cond_timedwait(&pool.work, &pool.lock, &deadline);
		if (w->idle) {
			w->idle = 0;
			pool.idle--;
		}
		consume_wakeup();
		if (r == ETIMEDOUT && !pool.ready_head && !w->retire) {
			w->state = SLOT_EXITED;
			aior_store_relaxed(&pool.live, pool.live - 1);
			return -1;
		}
	}
	return w->retire ? -1 : 0;
}

/* What a request is to the group commit (aior_req.group). */
enum { GROUP_NONE, GROUP_LEAD, GROUP_WRITE, GROUP_SOLO };

/* The largest grouped write left for a running sync's thread; larger ones take a worker. */
#define GROUP_DEFER_BYTES (64u << 10)
/* How many more times a sync's thread takes the writes left to it meanwhile before it syncs. */
#define GROUP_PASSES 4

/* fd's group, made if make and a slot is free; or NULL. Under the pool lock. */
static struct aior_sync_group *group_of(struct aior_pool *p, int32_t fd, int make)
{
	struct aior_sync_group *unused = NULL;

	for (int i = 0; i < AIOR_POOL_GROUPS; i++) {
		struct aior_sync_group *g = &p->groups[i];

		if (g->used && g->fd == fd)
			return g;
		if (!g->used && !unused)
			unused = g;
	}
	if (!make || !unused)
		return NULL;
	*unused = (struct aior_sync_group){.used = 1, .fd = fd};
	return unused;
}

/*
 * The commit delay's bound: a sync's thread holds the next sync's start
 * for the calls its last sync served only when they are expected back
 * within this long and within half the group's average sync (a call that
 * misses the sync waits for all of it and the next).
 */
#define GROUP_DELAY_MAX_NS 100000u

/*
 * A grouped write (groupWrite) joined g. Only those are waited for: a
 * caller of write and then groupDatasync comes back through a worker's
 * write first, as long as a sync, and holding the sync for it measured
 * slower (docs/BENCHMARKS.md). Times how long the calls the last sync served take to
 * be back, and wakes the sync's thread when they all are. Under the pool lock.
 */
static void group_arrive(struct aior_sync_group *g)
{
	uint32_t back = ++g->arrivals - g->mark;

	if (back != g->expect || !g->done_ns)
		return;
	uint64_t took = aior_monotonic_ns() - g->done_ns;
	g->turn_ns = g->turn_ns ? (7 * g->turn_ns + took) / 8 : took;
	if (g->delaying)
		pthread_cond_broadcast(&pool.joined);
}

/*
 * Before g's next sync starts, wait (up to a bound) for the grouped writes
 * the last sync served to come back and join it: 1 if it waited. Only when the last
 * sync served more than one, not all are back, their return has been
 * measured and is due within min(GROUP_DELAY_MAX_NS, half the average sync):
 * a lone caller, or callers that would come back too late, never wait.
 * Called and returns with the pool lock held.
 */
static int group_delay(struct aior_ctx *ctx, struct aior_sync_group *g)
{
	uint64_t now, due, bound;
	struct timespec deadline;

	if (g->expect < 2 || g->arrivals - g->mark >= g->expect || !g->turn_ns || !g->done_ns || ctx->pool.stopping)
		return 0;
	now = aior_monotonic_ns();
	due = g->done_ns + g->turn_ns + g->turn_ns / 4;
	bound = g->sync_ns / 2 < GROUP_DELAY_MAX_NS ? g->sync_ns / 2 : GROUP_DELAY_MAX_NS;
	if (due <= now || due - now > bound)
		return 0;
	deadline.tv_sec = (time_t)(due / 1000000000u);
	deadline.tv_nsec = (long)(due % 1000000000u);
	g->delaying = 1;
	while (g->arrivals - g->mark < g->expect && !ctx->pool.stopping)
		if (pthread_cond_timedwait(&pool.joined, &pool.lock, &deadline) == ETIMEDOUT)
			break;
	g->delaying = 0;
	ctx->pool.delays++;
	return 1;
}

/* req waits for g's next sync. Under the pool lock. */
static void group_wait(struct aior_sync_group *g, struct aior_req *req)
{
	if (req->group == GROUP_WRITE)
		group_arrive(g);
	req->next = NULL;
	if (g->tail)
		g->tail->next = req;
	else
		g->head = req;
	g->tail = req;
	g->full |= req->cb.aio_lio_opcode == IOCB_CMD_FSYNC;
}

/* Take what waits for g's next sync; *full: whether it must be fsync. Under the pool lock. */
static struct aior_req *group_take(struct aior_sync_group *g, int *full)
{
	struct aior_req *list = g->head;

	*full = g->full;
	g->head = g->tail = NULL;
	g->full = 0;
	return list;
}

#define GROUP_CHUNK 64

/* Sync fd (fsync if full) and record it: 0 or a negative errno. Without the pool lock. */
static int64_t sync_fd(struct aior_ctx *ctx, int32_t fd, int full)
{
	uint64_t start = aior_monotonic_ns();
	int64_t res = (full ? fsync(fd) : fdatasync(fd)) < 0 ? -errno : 0;

	record_sync(ctx, fd, full ? IOCB_CMD_FSYNC : IOCB_CMD_FDSYNC, start, aior_monotonic_ns());
	return res;
}

/*
 * Complete the list a sync served: a sync call with the sync's result res,
 * a write with its own (res2: when it completed) unless the sync failed.
 * Without the pool lock.
 */
static void complete_served(struct aior_ctx *ctx, struct aior_req *list, int64_t res)
{
	while (list) {
		struct aior_req *reqs[GROUP_CHUNK];
		int64_t r[GROUP_CHUNK], r2[GROUP_CHUNK];
		int n = 0;

		/* each next is read before its request completes (and its slot is reused) */
		for (; list && n < GROUP_CHUNK; list = list->next, n++) {
			int write = list->group == GROUP_WRITE || list->group == GROUP_SOLO;

			reqs[n] = list;
			r[n] = res < 0 ? res : write ? list->group_res : 0;
			r2[n] = write ? (int64_t)list->queued_ns : 0;
		}
		aior_complete_many(ctx, reqs, r, r2, n);
	}
}

/*
 * Run a grouped write: 1 once it has written (it waits for a sync), 0 if
 * it failed (it has completed with its error). Without the pool lock.
 */
static int group_write(struct aior_ctx *ctx, struct aior_req *req)
{
	int64_t r = aior_execute(req, &ctx->stopping);

	if (r < 0) {
		aior_complete(ctx, req, r, 0);
		return 0;
	}
	req->group_res = r;
	req->queued_ns = aior_monotonic_ns();
	return 1;
}

/* Run the writes left for this thread; those that wrote join served, which is returned. */
static struct aior_req *run_writes(struct aior_ctx *ctx, struct aior_req *writes, struct aior_req *served)
{
	while (writes) {
		struct aior_req *req = writes;

		writes = req->next;
		if (group_write(ctx, req)) {
			req->next = served;
			served = req;
		}
	}
	return served;
}

/*
 * A grouped request taken by a worker (or the submitter), run without the
 * pool lock. A write runs first; once it has completed it waits for the
 * next sync, or, when none is running, starts one covering itself and
 * whatever waits. A leader's sync covers only itself (the calls made after
 * it wait for the next). Then while calls wait the same thread runs the
 * next sync for them, so a sync always starts after every write it
 * covers completed: each joined the group before the sync took it.
 */
static void run_grouped(struct aior_ctx *ctx, struct aior_req *req)
{
	struct aior_pool *p = &ctx->pool;
	int32_t fd = (int32_t)req->cb.aio_fildes;
	struct aior_sync_group *g;
	struct aior_req *served = req;
	int full = req->cb.aio_lio_opcode == IOCB_CMD_FSYNC;

	struct aior_req *writes = NULL;

	req->next = NULL;
	if (req->group == GROUP_WRITE || req->group == GROUP_SOLO) {
		if (!group_write(ctx, req))
			return;
		pthread_mutex_lock(&pool.lock);
		g = req->group == GROUP_SOLO ? NULL : group_of(p, fd, 1);
		if (!g) {
			/* a limit of 1, or no room for another group: a sync of its own */
			pthread_mutex_unlock(&pool.lock);
			complete_served(ctx, req, sync_fd(ctx, fd, 0));
			return;
		}
		group_wait(g, req);
		if (g->running) {
			pthread_mutex_unlock(&pool.lock);
			return;
		}
		g->running = 1;
		served = group_take(g, &full);
	} else {
		pthread_mutex_lock(&pool.lock);
		g = group_of(p, fd, 0);  /* its submit set it running */
	}
	for (;;) {
		struct aior_req *done;
		int64_t res = 0;
		uint64_t start, end;
		uint32_t n = 0;
		int more, keep;

		pthread_mutex_unlock(&pool.lock);
		/* the writes left for this thread complete before the sync that covers them starts */
		done = run_writes(ctx, writes, served);
		/*
		 * writes left meanwhile (by callers the last sync served, already
		 * back) join this sync too: they have completed before it starts
		 */
		for (int pass = 0; pass < GROUP_PASSES; pass++) {
			pthread_mutex_lock(&pool.lock);
			writes = g->writes;
			g->writes = g->writes_tail = NULL;
			pthread_mutex_unlock(&pool.lock);
			if (!writes)
				break;
			done = run_writes(ctx, writes, done);
		}
		pthread_mutex_lock(&pool.lock);
		if (group_delay(ctx, g)) {
			/* the calls back join this sync: each was made after its writes completed */
			int back_full;
			struct aior_req *back = group_take(g, &back_full), *last = back;

			full |= back_full;
			writes = g->writes;
			g->writes = g->writes_tail = NULL;
			pthread_mutex_unlock(&pool.lock);
			if (last) {
				while (last->next)
					last = last->next;
				last->next = done;
				done = back;
			}
			done = run_writes(ctx, writes, done);
			pthread_mutex_lock(&pool.lock);
		}
		if (!done) {
			/* kept for calls that did not come back: let go unless some came meanwhile */
			if (!g->head && !g->writes) {
				g->running = 0;
				g->used = 0;
				pthread_mutex_unlock(&pool.lock);
				return;
			}
			served = group_take(g, &full);
			writes = g->writes;
			g->writes = g->writes_tail = NULL;
			continue;
		}
		pthread_mutex_unlock(&pool.lock);
		start = aior_monotonic_ns();
		res = sync_fd(ctx, fd, full);
		end = aior_monotonic_ns();
		for (struct aior_req *r = done; r; r = r->next)
			n += r->group == GROUP_WRITE;
		pthread_mutex_lock(&pool.lock);
		g->sync_ns = g->sync_ns ? (7 * g->sync_ns + (end - start)) / 8 : end - start;
		/*
		 * The sync has ended. With nothing waiting the group lets go before
		 * its calls hear of it (a call made after it resolved finds none
		 * running), unless it served more than one call whose return has
		 * been measured: then it is kept, and the next pass may delay the
		 * next sync for them (group_delay) or let go. A stopping context's
		 * waiting calls were taken by aior_pool_stop.
		 */
		more = g->head || g->writes;
		keep = more || (n >= 2 && g->turn_ns && !p->stopping);
		g->mark = g->arrivals;
		g->expect = n;
		g->done_ns = end;
		served = NULL;
		writes = NULL;
		if (more) {
			served = group_take(g, &full);
			writes = g->writes;
			g->writes = g->writes_tail = NULL;
		} else {
			full = 0;
		}
		if (!keep) {
			g->running = 0;
			g->used = 0;
		}
		pthread_mutex_unlock(&pool.lock);
		complete_served(ctx, done, res);
		if (!keep)
			return;
		pthread_mutex_lock(&pool.lock);
	}
}

/*
 * A grouped request at submit, under the pool lock: 0 to queue it for a
 * worker, 1 when it waits for its group's next sync (nothing to queue), or
 * -EINVAL.
 */
static int group_submit(struct aior_ctx *ctx, struct aior_req *req)
{
	struct aior_pool *p = &ctx->pool;
	uint16_t op = req->cb.aio_lio_opcode;
	struct aior_sync_group *g;

	if (!p->limit)
		return -EINVAL;
	if (op == IOCB_CMD_PWRITE || op == IOCB_CMD_PWRITEV) {
		req->cb.aio_rw_flags &= ~AIORING_RWF_GROUP;
		req->group = p->limit == 1 ? GROUP_SOLO : GROUP_WRITE;
		g = p->limit == 1 ? NULL : group_of(p, (int32_t)req->cb.aio_fildes, 0);
		if (g && g->running && op == IOCB_CMD_PWRITE && req->cb.aio_nbytes <= GROUP_DEFER_BYTES) {
			/* its sync's thread runs it after that sync: no worker woken */
			request_set_state(req, REQ_RUNNING);
			req->next = NULL;
			if (g->writes_tail)
				g->writes_tail->next = req;
			else
				g->writes = req;
			g->writes_tail = req;
			group_arrive(g);
			return 1;
		}
		return 0;
	}
	if (!aior_is_sync(op) || (uint32_t)req->cb.aio_rw_flags != AIORING_RWF_GROUP)
		return -EINVAL;
	req->cb.aio_rw_flags = 0;
	if (p->limit == 1) {
		req->group = GROUP_NONE;  /* in submission order: alone */
		return 0;
	}
	g = group_of(p, (int32_t)req->cb.aio_fildes, 1);
	if (!g) {
		req->group = GROUP_NONE;  /* no room for another group: a sync of its own */
		return 0;
	}
	if (g->running) {
		request_set_state(req, REQ_RUNNING);
		group_wait(g, req);
		return 1;
	}
	g->running = 1;
	req->group = GROUP_LEAD;
	return 0;
}

/*
 * Run the first queued request of a context below its limit, as a worker:
 * called and returns with the pool lock held, which it drops meanwhile.
 */
static void run_one(struct aior_ctx *ctx)
{
	struct aior_pool *p = &ctx->pool;
	uint32_t before = runnable_of(p);
	struct aior_req *req = p->queue_head;

	p->queue_head = req->next;
	if (p->queue_head == NULL)
		p->queue_tail = NULL;
	p->queued--;
	p->active++;
	requeue(ctx, before);
	request_set_state(req, REQ_RUNNING);
	pthread_mutex_unlock(&pool.lock);

	if (req->group)
		run_grouped(ctx, req);
	else
		aior_complete(ctx, req, aior_is_sync(req->cb.aio_lio_opcode) ? run_sync(ctx, req) : aior_execute(req, &ctx->stopping), 0);

	pthread_mutex_lock(&pool.lock);
	before = runnable_of(p);
	p->active--;
	requeue(ctx, before);
	/* the last look at ctx: a stopping context may be freed once active is 0 */
	if (p->active == 0 && p->polling == 0 && p->stopping)
		pthread_cond_broadcast(&pool.done);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	pthread_mutex_lock(&pool.lock);
	consume_wakeup();
	while (wait_for_work(w) == 0)
		run_one(pool.ready_head);
	pthread_mutex_unlock(&pool.lock);
	return NULL;
}

static void wake_poll_service(void)
{
	uint64_t one = 1;

	if (pool.poll_efd >= 0 && write(pool.poll_efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, so the service is already woken */
	}
}

static void remove_poll(uint32_t i)
{
	pool.polls[i] = pool.polls[--pool.npolls];
}

/* A poll taken out of the service has completed (or is about to, by its taker): under the pool lock. */
static void poll_ended(struct aior_ctx *ctx)
{
	struct aior_pool *p = &ctx->pool;

	p->polling--;
	if (p->active == 0 && p->polling == 0 && p->stopping)
		pthread_cond_broadcast(&pool.done);
}

/* What the service waits on each round: a copy, as the entries change while it waits. */
struct poll_round {
	struct pollfd *fds;        /* [0] is the eventfd */
	struct poll_entry *seen;
	struct aior_req **done;
	int64_t *res;
	uint32_t cap;
};

static int grow_round(struct poll_round *r, uint32_t n)
{
	struct pollfd *fds;
	struct poll_entry *seen;
	struct aior_req **done;
	int64_t *res;

	if (n <= r->cap)
		return 0;
	fds = realloc(r->fds, (n + 1) * sizeof(*fds));
	if (fds)
		r->fds = fds;
	seen = realloc(r->seen, n * sizeof(*seen));
	if (seen)
		r->seen = seen;
	done = realloc(r->done, n * sizeof(*done));
	if (done)
		r->done = done;
	res = realloc(r->res, n * sizeof(*res));
	if (res)
		r->res = res;
	if (!fds || !seen || !done || !res)
		return -ENOMEM;
	r->cap = n;
	return 0;
}

/*
 * Take the entries whose files were ready out, with their results, into
 * r->done: the entries of one context each time (they complete together),
 * until none is left. Under the pool lock.
 */
static uint32_t take_ready(struct poll_round *r, uint32_t n, struct aior_ctx **owner)
{
	uint32_t nd = 0;

	*owner = NULL;
	for (uint32_t i = 0; i < n; i++) {
		if (!r->fds[i + 1].revents)
			continue;
		for (uint32_t j = 0; j < pool.npolls; j++) {
			struct poll_entry *e = &pool.polls[j];

			if (e->seq != r->seen[i].seq || (*owner && e->ctx != *owner))
				continue;
			*owner = e->ctx;
			r->done[nd] = e->req;
			r->res[nd++] = aior_poll_result(&e->req->cb, r->fds[i + 1].revents, !r->seen[i].fresh);
			r->fds[i + 1].revents = 0;
			remove_poll(j);
			break;
		}
		if (!*owner)
			r->fds[i + 1].revents = 0;  /* taken out meanwhile (cancel, stop): its taker completes it */
	}
	return nd;
}

static void *poll_main(void *arg)
{
	struct poll_round r = {NULL, NULL, NULL, NULL, 0};
	uint32_t gen = (uint32_t)(uintptr_t)arg;

	pthread_mutex_lock(&pool.lock);
	while (gen == pool.poll_gen) {
		uint32_t n;
		int fresh = 0, timeout;
		uint64_t count;

		/* short of memory: watch those that fit, and look again soon */
		n = grow_round(&r, pool.npolls) == 0 ? pool.npolls : (r.cap < pool.npolls ? r.cap : pool.npolls);
		if (!r.fds) {
			pthread_mutex_unlock(&pool.lock);
			poll(NULL, 0, POLL_RETRY_MS);
			pthread_mutex_lock(&pool.lock);
			continue;
		}
		r.fds[0] = (struct pollfd){pool.poll_efd, POLLIN, 0};
		for (uint32_t i = 0; i < n; i++) {
			struct poll_entry *e = &pool.polls[i];

			r.fds[i + 1] = (struct pollfd){(int)e->req->cb.aio_fildes, (short)e->req->cb.aio_buf, 0};
			r.seen[i] = *e;
			fresh |= e->fresh;
			e->fresh = 0;
		}
		timeout = fresh ? 0 : (n < pool.npolls ? POLL_RETRY_MS : -1);
		pthread_mutex_unlock(&pool.lock);
		if (poll(r.fds, n + 1, timeout) > 0 && r.fds[0].revents &&
		    read(r.fds[0].fd, &count, sizeof(count)) < 0) {
			/* EAGAIN: another round read it first */
		}
		pthread_mutex_lock(&pool.lock);
		while (gen == pool.poll_gen) {
			struct aior_ctx *owner;
			uint32_t nd = take_ready(&r, n, &owner);

			if (!owner)
				break;
			pthread_mutex_unlock(&pool.lock);
			aior_complete_many(owner, r.done, r.res, NULL, (int)nd);
			pthread_mutex_lock(&pool.lock);
			for (uint32_t i = 0; i < nd; i++)
				poll_ended(owner);
		}
	}
	pthread_mutex_unlock(&pool.lock);
	free(r.fds);
	free(r.seen);
	free(r.done);
	free(r.res);
	return NULL;
}

/* Hand a poll to the service, starting it if need be: 0, or -EAGAIN. Under the pool lock. */
static int add_poll(struct aior_ctx *ctx, struct aior_req *req)
{
	if (pool.npolls == pool.polls_cap) {
		uint32_t cap = pool.polls_cap ? pool.polls_cap * 2 : 16;
		struct poll_entry *grown = realloc(pool.polls, cap * sizeof(*grown));

		if (!grown)
			return -EAGAIN;
		pool.polls = grown;
		pool.polls_cap = cap;
	}
	if (pool.poll_efd < 0 && (pool.poll_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return -EAGAIN;
	if (!pool.poll_running) {
		pthread_t thread;

		if (pthread_create(&thread, NULL, poll_main, (void *)(uintptr_t)pool.poll_gen))
			return -EAGAIN;
		pool.poll_thread = thread;
		pool.poll_running = 1;
	}
	pool.polls[pool.npolls++] = (struct poll_entry){ctx, req, ++pool.poll_seq, 1};
	ctx->pool.polling++;
	wake_poll_service();
	return 0;
}

int aior_pool_start(struct aior_ctx *ctx, uint32_t threads)
{
	pthread_once(&pool.once, pool_init);
	pthread_mutex_lock(&pool.lock);
	ctx->pool = (struct aior_pool){.limit = threads, .generation = pool.generation};
	pool.users++;
	pthread_mutex_unlock(&pool.lock);
	return 0;
}

/* A context inherited from the parent of a fork starts over in the child's pool. */
static void adopt(struct aior_ctx *ctx)
{
	if (ctx->pool.generation != pool.generation)
		ctx->pool = (struct aior_pool){.limit = ctx->pool.limit, .generation = pool.generation};
}

int aior_pool_submit(struct aior_ctx *ctx, struct aior_req *req)
{
	struct aior_pool *p = &ctx->pool;
	uint32_t before;
	int r = 0;

	req->next = NULL;
	/* no pool (kernel, uring): refused before the context's pool part is looked at */
	if ((req->cb.aio_rw_flags & AIORING_RWF_GROUP) && !p->limit)
		return -EINVAL;
	pthread_mutex_lock(&pool.lock);
	adopt(ctx);
	if (req->cb.aio_lio_opcode == IOCB_CMD_POLL) {
		request_set_state(req, REQ_RUNNING);
		r = add_poll(ctx, req);
		pthread_mutex_unlock(&pool.lock);
		return r;
	}
	req->group = GROUP_NONE;
	if (req->cb.aio_rw_flags & AIORING_RWF_GROUP) {
		r = group_submit(ctx, req);
		if (r != 0) {
			pthread_mutex_unlock(&pool.lock);
			return r < 0 ? r : 0;
		}
	}
	request_set_state(req, REQ_QUEUED);
	before = runnable_of(p);
	if (p->queue_tail)
		p->queue_tail->next = req;
	else
		p->queue_head = req;
	p->queue_tail = req;
	p->queued++;
	if (runnable_of(p) != before) {
		/* a context already waiting keeps its place in the round */
		if (p->linked)
			pool.runnable += runnable_of(p) - before;
		else
			requeue(ctx, before);
		ensure_worker();
	}
	/* no worker could start and none is alive: the submitter runs it */
	if (aior_load_relaxed(&pool.live) == 0)
		r = AIOR_POOL_RUN_HERE;
	pthread_mutex_unlock(&pool.lock);
	return r;
}

void aior_pool_run_here(struct aior_ctx *ctx)
{
	pthread_mutex_lock(&pool.lock);
	while (aior_load_relaxed(&pool.live) == 0 && runnable_of(&ctx->pool))
		run_one(ctx);
	pthread_mutex_unlock(&pool.lock);
}

struct aior_req *aior_pool_cancel(struct aior_ctx *ctx, const struct iocb *user)
{
	struct aior_pool *p = &ctx->pool;
	struct aior_req **link, *req = NULL, *prev = NULL;

	pthread_mutex_lock(&pool.lock);
	adopt(ctx);
	for (link = &p->queue_head; *link; prev = *link, link = &(*link)->next) {
		if ((*link)->user != user)
			continue;
		uint32_t before = runnable_of(p);

		req = *link;
		*link = req->next;
		if (p->queue_tail == req)
			p->queue_tail = prev;
		p->queued--;
		if (runnable_of(p) != before)
			requeue(ctx, before);
		break;
	}
	pthread_mutex_unlock(&pool.lock);
	return req;
}

struct aior_req *aior_pool_cancel_poll(struct aior_ctx *ctx, const struct iocb *user)
{
	struct aior_req *req = NULL;

	pthread_mutex_lock(&pool.lock);
	adopt(ctx);
	for (uint32_t i = 0; i < pool.npolls; i++) {
		if (pool.polls[i].ctx != ctx || pool.polls[i].req->user != user)
			continue;
		req = pool.polls[i].req;
		remove_poll(i);
		poll_ended(ctx);
		wake_poll_service();
		break;
	}
	pthread_mutex_unlock(&pool.lock);
	return req;
}

void aior_pool_stop(struct aior_ctx *ctx)
{
	struct aior_pool *p = &ctx->pool;
	struct aior_req *queued;

	if (!p->limit)
		return;
	pthread_mutex_lock(&pool.lock);
	adopt(ctx);
	pool.runnable -= runnable_of(p);
	p->stopping = 1;
	pthread_cond_broadcast(&pool.joined);  /* a sync's thread delaying for its callers stops waiting */
	unlink_ready(ctx);
	queued = p->queue_head;
	p->queue_head = p->queue_tail = NULL;
	p->queued = 0;
	/* calls waiting for a group's next sync join them too */
	for (int i = 0; i < AIOR_POOL_GROUPS; i++) {
		struct aior_sync_group *g = &p->groups[i];

		while (g->head) {
			struct aior_req *req = g->head;

			g->head = req->next;
			req->next = queued;
			queued = req;
		}
		while (g->writes) {
			struct aior_req *req = g->writes;

			g->writes = req->next;
			req->next = queued;
			queued = req;
		}
		g->tail = g->writes_tail = NULL;
	}
	/* its pending polls join the queued ones: cancelled */
	for (uint32_t i = 0; i < pool.npolls;) {
		struct aior_req *req = pool.polls[i].req;

		if (pool.polls[i].ctx != ctx) {
			i++;
			continue;
		}
		remove_poll(i);
		p->polling--;
		req->next = queued;
		queued = req;
	}
	wake_poll_service();
	/* the service may be completing some of them now */
	while (p->active || p->polling)
		pthread_cond_wait(&pool.done, &pool.lock);
	pthread_mutex_unlock(&pool.lock);
	while (queued) {
		struct aior_req *next = queued->next;

		aior_complete(ctx, queued, -ECANCELED, 0);
		queued = next;
	}
}

void aior_syncs(struct aior_ctx *ctx, struct aior_sync_stats *out)
{
	const struct aior_pool *p = &ctx->pool;
	uint64_t total, first;

	pthread_mutex_lock(&ctx->reqs.lock);
	total = p->fsyncs + p->fdatasyncs;
	first = total > AIOR_SYNC_RECORDS ? total - AIOR_SYNC_RECORDS : 0;
	out->fsyncs = p->fsyncs;
	out->fdatasyncs = p->fdatasyncs;
	out->nrecords = (uint32_t)(total - first);
	for (uint64_t k = first; k < total; k++)
		out->records[k - first] = p->syncs[k % AIOR_SYNC_RECORDS];
	pthread_mutex_unlock(&ctx->reqs.lock);
	pthread_mutex_lock(&pool.lock);
	out->delays = p->delays;
	pthread_mutex_unlock(&pool.lock);
}

void aior_pool_release(struct aior_ctx *ctx)
{
	struct worker *leaving[AIOR_POOL_MAX_WORKERS];
	int n = 0, service = 0;
	pthread_t poll_thread;

	if (!ctx->pool.limit)
		return;
	pthread_mutex_lock(&pool.lock);
	if (ctx->pool.generation == pool.generation && --pool.users == 0) {
		/* nothing is queued or running: every worker leaves, and is joined here */
		for (int i = 0; i < AIOR_POOL_MAX_WORKERS; i++) {
			struct worker *w = &pool.slots[i];

			if (w->state == SLOT_RUNNING) {
				w->retire = 1;
				if (w->idle) {
					w->idle = 0;
					pool.idle--;
				}
				aior_store_relaxed(&pool.live, pool.live - 1);
			} else if (w->state != SLOT_EXITED) {
				continue;
			}
			w->state = SLOT_JOINING;
			leaving[n++] = w;
		}
		pool.wakeups = 0;
		pthread_cond_broadcast(&pool.work);
		if (pool.poll_running) {
			/* no poll is pending (every context was stopped); a later one starts another */
			pool.poll_gen++;
			pool.poll_running = 0;
			poll_thread = pool.poll_thread;
			wake_poll_service();
			service = 1;
		}
	}
	pthread_mutex_unlock(&pool.lock);
	if (service)
		pthread_join(poll_thread, NULL);
	for (int i = 0; i < n; i++)
		pthread_join(leaving[i]->thread, NULL);
	if (n) {
		pthread_mutex_lock(&pool.lock);
		for (int i = 0; i < n; i++)
			leaving[i]->state = SLOT_FREE;
		pthread_mutex_unlock(&pool.lock);
	}
	ctx->pool.limit = 0;
}

uint32_t aior_pool_workers(void)
{
	return aior_load_relaxed(&pool.live);
}
