/*
 * The read helper: a second thread that serves part of each large run of
 * cached reads, so the page-cache copies of one submit run on two CPUs.
 *
 * A handoff through the pool's locked queue and condition variable costs
 * more than a 4 KiB read from the page cache. The helper is fed through a
 * single-producer single-consumer queue instead: the submitter (holding
 * producer_lock, so one at a time) writes request pointers and publishes
 * the tail with a release store; the helper takes everything published at
 * once, releases the slots, runs the reads with RWF_NOWAIT and completes
 * them into the ring in one pass over the locks. It spins about 5 µs
 * for more before it sleeps on a futex (wake_seq, which a handoff to a
 * sleeper and the stop both change), which the submitter rings only when
 * the helper said it sleeps (the waiter's announcement, as io_uring's
 * SQPOLL thread does), so a busy helper costs the submitter no syscall.
 *
 * One helper serves every context of the process: each handoff names its
 * context, and a context's stop waits only for what it handed over itself.
 *
 * Events of one run may then arrive out of submission order (the helper's
 * part can finish first), as they may from a pool of several threads; a
 * context with a one-thread pool, which completes in submission order, has
 * no helper.
 *
 * How much of a run the helper gets adapts: when the helper has emptied
 * its queue by the next handoff it was idle and gets a larger share, when
 * it has not it gets a smaller one.
 */
#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "atomics.h"
#include "context.h"
#include "io_exec.h"

/* how long an idle helper looks for work before it sleeps */
#define HELPER_SPIN_NS 5000
/* pause rounds between looks at the clock */
#define SPIN_ROUNDS 64
/* requests handed over and not yet taken */
#define AIOR_HELPER_QUEUE 64
/* shares of a run, in sixteenths */
#define SHARE_MIN 2
#define SHARE_MAX 14
#define SHARE_START 8

/* The process's one helper, owned by this file. */
struct aior_helper {
	/*
	 * The submitters' line, under producer_lock (a submitter that cannot
	 * take it gives nothing); tail is read by the helper with acquire.
	 * users (contexts that may hand over) is under producer_lock too.
	 */
	pthread_mutex_t producer_lock;
	uint32_t tail;
	uint32_t share;
	uint32_t started;
	uint32_t start_failed;
	uint32_t users;
	pthread_t thread;
	/*
	 * The helper's line: head and sleeping are the helper thread's; stop
	 * is set when the last context leaves, wake_seq by every wake.
	 */
	uint32_t head __attribute__((aligned(64)));
	uint32_t sleeping;
	uint32_t wake_seq;         /* the futex word: bumped by every wake */
	uint32_t stop;
	struct aior_req *queue[AIOR_HELPER_QUEUE] __attribute__((aligned(64)));
	struct aior_ctx *owner[AIOR_HELPER_QUEUE];
};

static struct aior_helper helper = {.producer_lock = PTHREAD_MUTEX_INITIALIZER, .share = SHARE_START};
static pthread_once_t helper_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
	pthread_mutex_lock(&helper.producer_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&helper.producer_lock);
}

/* The child has no helper thread; its own contexts start one. */
static void fork_child(void)
{
	pthread_mutex_init(&helper.producer_lock, NULL);
	helper.started = helper.start_failed = helper.users = 0;
	helper.sleeping = helper.stop = 0;
	helper.head = helper.tail;
}

static void helper_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void futex_wait(uint32_t *word, uint32_t expected)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Wait for work: spin, then announce and sleep. Returns the tail seen. */
static uint32_t wait_for_work(struct aior_helper *h, uint32_t head)
{
	uint64_t deadline = now_ns() + HELPER_SPIN_NS;
	uint32_t tail, seq;

	do {
		for (int i = 0; i < SPIN_ROUNDS; i++) {
			tail = aior_load_acquire(&h->tail);
			if (tail != head || aior_load_acquire(&h->stop))
				return tail;
			aior_cpu_relax();
		}
	} while (now_ns() < deadline);
	for (;;) {
		/*
		 * The value a wake changes, read before the announcement: a
		 * wake after it makes futex_wait return at once.
		 */
		seq = aior_load_acquire(&h->wake_seq);
		aior_store_release(&h->sleeping, 1);
		/* pairs with the submitter's: publish tail, full fence, look at sleeping */
		aior_fence();
		tail = aior_load_acquire(&h->tail);
		if (tail != head || aior_load_acquire(&h->stop)) {
			aior_store_relaxed(&h->sleeping, 0);
			return tail;
		}
		futex_wait(&h->wake_seq, seq);
		aior_store_relaxed(&h->sleeping, 0);
	}
}

static void wake(struct aior_helper *h)
{
	aior_add_seq_cst(&h->wake_seq, 1);
	futex_wake(&h->wake_seq);
}

/* Run what one context handed over: served ones complete together, the rest go to the pool. */
static void serve(struct aior_ctx *ctx, struct aior_req **reqs, int n)
{
	struct aior_req *deferred[AIOR_HELPER_QUEUE];
	int64_t res[AIOR_HELPER_QUEUE];
	int ns = 0, nd = 0;

	for (int i = 0; i < n; i++) {
		int64_t r = aior_try_nowait(reqs[i]);

		if (r == AIOR_NOWAIT_DEFER) {
			deferred[nd++] = reqs[i];
		} else {
			/* -EBADF here: closed after the submitter's read checked it, the pool's case */
			res[ns] = r;
			reqs[ns++] = reqs[i];
		}
	}
	if (ns) {
		aior_complete_many(ctx, reqs, res, NULL, ns);
		aior_add_relaxed(&ctx->helper.served, (uint64_t)ns);
	}
	if (nd) {
		int run_here = 0;

		pthread_mutex_lock(&ctx->reqs.lock);
		for (int i = 0; i < nd; i++)
			run_here |= aior_pool_submit(ctx, deferred[i]) == AIOR_POOL_RUN_HERE;
		pthread_mutex_unlock(&ctx->reqs.lock);
		if (run_here)
			aior_pool_run_here(ctx);
	}
	/* the last look at ctx: its stop waits for pending to reach 0 */
	aior_sub_acq_rel(&ctx->helper.pending, (uint32_t)n);
}

static void *helper_main(void *arg)
{
	struct aior_helper *h = arg;
	struct aior_req *taken[AIOR_HELPER_QUEUE];
	struct aior_ctx *owners[AIOR_HELPER_QUEUE];
	uint32_t head = h->head;

	for (;;) {
		uint32_t tail = wait_for_work(h, head);
		int n = 0;

		if (tail == head) {
			/*
			 * Stopped. A handoff before the stop published its tail
			 * first (both hold producer_lock): look again before leaving.
			 */
			tail = aior_load_acquire(&h->tail);
			if (tail == head)
				return NULL;
		}
		for (; head != tail; head++, n++) {
			taken[n] = h->queue[head % AIOR_HELPER_QUEUE];
			owners[n] = h->owner[head % AIOR_HELPER_QUEUE];
		}
		aior_store_release(&h->head, head);
		/* in runs of one context each */
		for (int i = 0, j; i < n; i = j) {
			for (j = i + 1; j < n && owners[j] == owners[i]; j++)
				;
			serve(owners[i], taken + i, j - i);
		}
	}
}

/* CPUs this process may run on (a cpuset or taskset may allow fewer than are online). */
static int usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set);
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

int aior_helper_start(struct aior_ctx *ctx)
{
	/* a one-thread pool runs everything in submission order: so must its reads */
	if ((ctx->flags & AIORING_SETUP_NO_READ_HELPER) || (ctx->flags & AIORING_SETUP_NO_INLINE) ||
	    ctx->pool.limit < 2 || usable_cpus() < 2)
		return 0;
	pthread_once(&helper_once, helper_init);
	pthread_mutex_lock(&helper.producer_lock);
	helper.users++;
	ctx->helper.user = 1;
	ctx->helper.enabled = 1;
	pthread_mutex_unlock(&helper.producer_lock);
	return 0;
}

/* Called with producer_lock held: the thread starts with the first large run. */
static int start_thread(struct aior_helper *h)
{
	if (!h->started && !h->start_failed) {
		h->started = pthread_create(&h->thread, NULL, helper_main, h) == 0;
		h->start_failed = !h->started;
	}
	return h->started;
}

int aior_helper_give(struct aior_ctx *ctx, struct aior_req **reqs, int n)
{
	struct aior_helper *h = &helper;
	uint32_t head, backlog, room;
	int give;

	if (!ctx->helper.enabled || n < AIOR_HELPER_MIN_RUN || pthread_mutex_trylock(&h->producer_lock))
		return 0;
	if (!ctx->helper.enabled || !start_thread(h)) {
		pthread_mutex_unlock(&h->producer_lock);
		return 0;
	}
	head = aior_load_acquire(&h->head);
	backlog = h->tail - head;
	/* idle since the last handoff: give it more; still busy: less */
	if (backlog == 0 && h->share < SHARE_MAX)
		h->share++;
	else if (backlog > 0 && h->share > SHARE_MIN)
		h->share--;
	give = (int)((uint32_t)n * h->share / 16);
	room = AIOR_HELPER_QUEUE - backlog;
	if ((uint32_t)give > room)
		give = (int)room;
	if (give <= 0) {
		pthread_mutex_unlock(&h->producer_lock);
		return 0;
	}
	aior_add_acq_rel(&ctx->helper.pending, (uint32_t)give);
	/* the run's last ones: the submitter serves the first, in order */
	for (int i = 0; i < give; i++) {
		h->queue[(h->tail + (uint32_t)i) % AIOR_HELPER_QUEUE] = reqs[n - give + i];
		h->owner[(h->tail + (uint32_t)i) % AIOR_HELPER_QUEUE] = ctx;
	}
	aior_store_release(&h->tail, h->tail + (uint32_t)give);
	aior_fence();
	if (aior_load_acquire(&h->sleeping))
		wake(h);
	pthread_mutex_unlock(&h->producer_lock);
	return give;
}

uint64_t aior_helper_reads(const struct aior_ctx *ctx)
{
	return aior_load_relaxed(&ctx->helper.served);
}

void aior_helper_stop(struct aior_ctx *ctx)
{
	if (!ctx->helper.enabled)
		return;
	pthread_mutex_lock(&helper.producer_lock);
	ctx->helper.enabled = 0;
	pthread_mutex_unlock(&helper.producer_lock);
	/* the helper serves a batch of cached reads without blocking: a short wait */
	while (aior_load_acquire(&ctx->helper.pending))
		sched_yield();
}

void aior_helper_release(struct aior_ctx *ctx)
{
	struct aior_helper *h = &helper;

	if (!ctx->helper.user)
		return;
	ctx->helper.user = 0;
	pthread_mutex_lock(&h->producer_lock);
	if (--h->users == 0 && h->started) {
		/* it serves what it was given before it looks at stop */
		aior_store_seq_cst(&h->stop, 1);
		wake(h);
		pthread_join(h->thread, NULL);
		h->started = 0;
		aior_store_relaxed(&h->stop, 0);
	}
	pthread_mutex_unlock(&h->producer_lock);
}
