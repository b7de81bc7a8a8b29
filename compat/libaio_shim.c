/*
 * The drop-in libaio: libaio's ABI (symbol versions LIBAIO_0.1, 0.4, 0.5),
 * for unmodified programs (LD_PRELOAD).
 *
 * By default it is libaio: io_setup makes the kernel's own context, and
 * every call on a kernel context is the system call Debian's libaio makes,
 * with the same argument handling, so ids, rings, accounting, fork, mremap
 * and raw system calls on the same context behave as with libaio. A
 * program opts in to aioring's rings: AIORING_RING=v2 (the v2 ring) or
 * AIORING_RING=legacy (aioring's engine behind the kernel's ring layout)
 * for a whole program, aioring_setup2 for one context. The id of such a
 * context is its ring's address, because programs read it; the context
 * table (context_table.h) tells the two kinds of id apart on every call.
 * Such a context keeps the kernel's call contract, all but the ring
 * layout: every argument checked as the system call checks it
 * (kernel_contract.h), errno left alone, libaio's io_pgetevents mask
 * applied, foreign in a forked child, buffered I/O finished when io_submit
 * returns unless AIORING_SETUP_ASYNC_BUFFERED says otherwise. An
 * AIORING_RING=v2 context (its program reaps only with io_getevents) is on
 * the engine's direct route: its iocbs go as they are to a kernel context
 * of its own, which checks them because it is the kernel, and its events
 * come into the v2 ring from there (direct_fits).
 * AIORING_BACKEND=uring puts such contexts on io_uring (buffered and
 * O_DIRECT I/O alike; AIORING_RING unset then means legacy); where
 * io_uring_setup fails they keep the engine's default backend, with a word
 * on stderr.
 * Errors are negative errno returns, as libaio's, never an abort.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "aioring.h"
#include "atomics.h"
#include "context_table.h"
#include "engine.h"
#include "kernel_contract.h"
#include "legacy_ring.h"
#include "syscall_route.h"
#include "system_info.h"
#include "v2_ring.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * Buffered requests one io_submit waits for at once; a larger batch goes
 * in parts. One: the kernel finishes each before it looks at the next, so
 * their events are in the ring in submission order, where an engine
 * running several at once would put them as they finish.
 */
#define AIORING_SYNC_BATCH 1

/* A context of aioring's engine (an opt-in); kernel contexts have none. */
struct shim_ctx {
	void *id;                 /* what the program holds: the ring's address */
	struct aior_ctx *engine;
	unsigned generation;      /* the process's, at setup (fork moves it on) */
	struct aior_info info;
	int v2;
	int async_buffered;       /* AIORING_SETUP_ASYNC_BUFFERED */
	int direct;               /* the engine's direct route (AIORING_RING=v2): the kernel has the iocbs */
	pthread_mutex_t wait_lock; /* guards waiting, taken by producers' wake */
	struct shim_waiter *waiting; /* the threads asleep on the context, each on its own eventfd */
	int dying;                /* atomic: io_destroy has begun; waiters leave */
	unsigned direct_waits;    /* atomic: calls waiting in the kernel's context (the direct route) */
	uint64_t internal_id;     /* atomic: the engine's kernel context, in the table as engine_internal (0: none yet) */
	pthread_mutex_t reap_lock; /* one reaper at a time, as the kernel's ring_lock */
	int waiters;              /* under reap_lock */
	struct legacy_consumer legacy;
	struct v2_ring ring;
	/*
	 * atomic: calls inside the context (enter/leave); io_destroy waits for
	 * them. Last, and never cleared: a destroyed context's memory is kept
	 * for the next setup (contexts_free), so a thread that looked the id up
	 * just before the destroy counts itself on live memory and sees it gone.
	 */
	unsigned calls;
};

/* A thread asleep on a context: the producers ring its own eventfd. */
struct shim_waiter {
	int fd;
	struct shim_waiter *next;
};

/*
 * The kernel's path, as libaio takes it: the system call, its result cut
 * to int, a failure returned as -errno with errno left as it was.
 */
static int kernel_call(long nr, long a, long b, long c, long d, long e, long f)
{
	int saved = errno;
	int r = (int)syscall(nr, a, b, c, d, e, f);

	if (r < 0) {
		r = -errno;
		errno = saved;
	}
	return r;
}

/*
 * Moved on in the child of every fork: a context belongs to the address
 * space that made it, so in the child the parent's contexts are foreign
 * (EINVAL from every call, as the kernel's are) while its own work.
 */
static unsigned generation;

static void forked(void)
{
	aior_store_relaxed(&generation, aior_load_relaxed(&generation) + 1);
}

static pthread_once_t fork_hook = PTHREAD_ONCE_INIT;

static void hook_fork(void)
{
	pthread_atfork(NULL, NULL, forked);
}

/*
 * What the context table holds for the id of an engine's own kernel
 * context: the program never had it, so it names nothing (as a stale id
 * the kernel did not reuse), never the engine's kernel context.
 */
static char engine_internal;

/*
 * The engine context *id names in this process, or NULL: then *id is the
 * kernel's (made NULL, which names nothing, for an engine's own).
 */
static struct shim_ctx *engine_ctx(void **id)
{
	void *found = context_table_find(*id);
	struct shim_ctx *c = found;

	if (found == &engine_internal) {
		*id = NULL;
		return NULL;
	}
	return c && c->generation == aior_load_relaxed(&generation) ? c : NULL;
}

/*
 * engine_ctx, counted in the context's calls until leave: NULL (with *id
 * as engine_ctx leaves it) for a context io_destroy or mremap took out of
 * the table meanwhile. The count comes before the second look and
 * io_destroy's removal before its wait (both seq_cst), so either the
 * destroy waits for this call or this call sees the context gone.
 */
static struct shim_ctx *enter(void **id)
{
	void *asked = *id;
	struct shim_ctx *c = engine_ctx(id);

	if (c == NULL)
		return NULL;
	aior_add_seq_cst(&c->calls, 1);
	if (context_table_find(asked) == c && !__atomic_load_n(&c->dying, __ATOMIC_SEQ_CST))
		return c;
	__atomic_fetch_sub(&c->calls, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void leave(struct shim_ctx *c)
{
	__atomic_fetch_sub(&c->calls, 1, __ATOMIC_RELEASE);
}

/*
 * libaio's one look at a ring from userspace: a zero timeout on a ring
 * with the kernel's magic and nothing in it answers 0 with no system
 * call. Like libaio, it reads the magic of any id that is not NULL, and
 * so faults on a destroyed context's unmapped ring, an engine context's
 * as a kernel one's (the engine unmaps the ring it mapped).
 */
static int kernel_ring_is_empty(void *id, const struct timespec *timeout)
{
	const struct aio_ring *ring = id;

	if (ring == NULL || aior_load_relaxed(&ring->magic) != AIO_RING_MAGIC)
		return 0;
	if (timeout == NULL || timeout->tv_sec != 0 || timeout->tv_nsec != 0)
		return 0;
	return aior_load_relaxed(&ring->head) == aior_load_relaxed(&ring->tail);
}

/*
 * libaio's look (kernel_ring_is_empty) at an engine context, once what the
 * kernel finished is in: a zero timeout on an empty ring answers 0 before
 * any check, the timeout read as libaio reads it. A v2 ring gets the same
 * answer, so that the ring layout is all a v2 context changes.
 */
static int engine_ring_is_empty(struct shim_ctx *c, const struct timespec *timeout)
{
	int empty;

	if (timeout == NULL || timeout->tv_sec != 0 || timeout->tv_nsec != 0 || aior_lost(c->engine))
		return 0;
	aior_service_ring(c->engine);
	pthread_mutex_lock(&c->reap_lock);
	empty = (c->v2 ? v2_count(&c->ring) : legacy_count(&c->legacy)) == 0;
	pthread_mutex_unlock(&c->reap_lock);
	return empty;
}

static void ring_fd(int fd)
{
	uint64_t one = 1;
	ssize_t r = write(fd, &one, sizeof(one));

	(void)r;
}

/* The engine's wake, from its producer threads: every thread asleep on the context. */
static void wake(void *arg)
{
	struct shim_ctx *c = arg;

	pthread_mutex_lock(&c->wait_lock);
	for (struct shim_waiter *w = c->waiting; w; w = w->next)
		ring_fd(w->fd);
	pthread_mutex_unlock(&c->wait_lock);
}

/*
 * This thread's eventfd to sleep on (one per thread, closed at its exit;
 * remade in a forked child, whose copy is its parent thread's), or -errno.
 */
static pthread_key_t wakefd_key;
static pthread_once_t wakefd_once = PTHREAD_ONCE_INIT;
static __thread int thread_wakefd = -1;
static __thread unsigned thread_wakefd_generation;

static void close_wakefd(void *fd)
{
	close((int)(intptr_t)fd - 1);
}

static void make_wakefd_key(void)
{
	pthread_key_create(&wakefd_key, close_wakefd);
}

static int own_wakefd(void)
{
	unsigned gen = aior_load_relaxed(&generation);

	if (thread_wakefd >= 0 && thread_wakefd_generation == gen)
		return thread_wakefd;
	if (thread_wakefd >= 0)
		close(thread_wakefd);
	pthread_once(&wakefd_once, make_wakefd_key);
	thread_wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (thread_wakefd < 0)
		return -errno;
	thread_wakefd_generation = gen;
	pthread_setspecific(wakefd_key, (void *)(intptr_t)(thread_wakefd + 1));
	return thread_wakefd;
}

/* Among the context's sleepers (its eventfd emptied first: what it held was for an earlier sleep). */
static void sleeper_add(struct shim_ctx *c, struct shim_waiter *w)
{
	uint64_t drain;
	ssize_t r = read(w->fd, &drain, sizeof(drain));

	(void)r;
	pthread_mutex_lock(&c->wait_lock);
	w->next = c->waiting;
	c->waiting = w;
	pthread_mutex_unlock(&c->wait_lock);
}

static void sleeper_remove(struct shim_ctx *c, struct shim_waiter *w)
{
	pthread_mutex_lock(&c->wait_lock);
	for (struct shim_waiter **p = &c->waiting; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	pthread_mutex_unlock(&c->wait_lock);
}

/*
 * Destroyed contexts' memory, for the next setup: never given back, so a
 * call that found a context just before its destroy (enter) only ever
 * touches a context's memory.
 */
static pthread_mutex_t free_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_ctx *free_contexts;

static struct shim_ctx *context_alloc(void)
{
	struct shim_ctx *c;

	pthread_mutex_lock(&free_lock);
	c = free_contexts;
	if (c)
		free_contexts = (struct shim_ctx *)c->id;
	pthread_mutex_unlock(&free_lock);
	if (!c)
		return calloc(1, sizeof(*c));
	/* all but calls, which a late enter may be counting in */
	memset(c, 0, offsetof(struct shim_ctx, calls));
	return c;
}

static void context_free(struct shim_ctx *c)
{
	pthread_mutex_lock(&free_lock);
	c->engine = NULL;
	c->id = free_contexts; /* the free list's link */
	free_contexts = c;
	pthread_mutex_unlock(&free_lock);
}

/* Whether AIORING_BACKEND asks for io_uring; a typo is said once and ignored. */
static int uring_asked(void)
{
	static int warned;
	const char *backend = getenv("AIORING_BACKEND");

	if (backend == NULL || *backend == 0 || strcmp(backend, "auto") == 0)
		return 0;
	if (strcmp(backend, "uring") == 0)
		return 1;
	if (!aior_exchange_relaxed(&warned, 1))
		fprintf(stderr, "aioring: AIORING_BACKEND=%s is not auto or uring; using auto\n", backend);
	return 0;
}

/* aior_setup on io_uring when asked, else (or where io_uring_setup fails) the default backend. */
static int engine_setup(struct aior_setup *s, struct aior_ctx **engine)
{
	static int warned;
	int r;

	if (uring_asked()) {
		s->backend = AIOR_BACKEND_URING;
		r = aior_setup(s, engine);
		if (r == 0)
			return 0;
		if (!aior_exchange_relaxed(&warned, 1))
			fprintf(stderr, "aioring: AIORING_BACKEND=uring: io_uring_setup failed (%s); using auto\n",
				strerror(-r));
	}
	s->backend = AIOR_BACKEND_AUTO;
	return aior_setup(s, engine);
}

/*
 * The engine makes its kernel context at the context's first O_DIRECT
 * request: from then its id names nothing to the program. Called after
 * each submit; one relaxed load once it is done.
 */
static void note_internal_id(struct shim_ctx *c)
{
	struct aior_info info;

	if (aior_load_relaxed(&c->internal_id) || (aior_kernel_fd(c->engine) < 0 && !c->direct))
		return;
	aior_info(c->engine, &info);
	if (info.kernel_id && !aior_exchange_relaxed(&c->internal_id, info.kernel_id))
		context_table_insert((void *)(uintptr_t)info.kernel_id, &engine_internal);
}

/*
 * A context for a program that cannot read a v2 ring (AIORING_RING=v2 asks
 * for one on its behalf) reaps only with io_getevents: its iocbs can go to
 * the engine's kernel context as they are (aior_direct_start), which
 * checks them as the kernel does because it is the kernel. Buffered I/O
 * then runs inside io_submit, as the kernel's own does, so not with
 * AIORING_SETUP_ASYNC_BUFFERED; and not on io_uring. A program that asked
 * with aioring_setup2 may read its ring itself (its header says it may),
 * and needs events there without a call: the engine's own requests.
 */
static int direct_fits(const struct shim_ctx *c, int unaware)
{
	return unaware && c->v2 && !c->async_buffered && !c->info.uring;
}

static int setup_ctx(unsigned nr_events, unsigned flags, void *memory, size_t memory_len,
		     int unaware, void **ctxp)
{
	struct aior_setup s;
	struct shim_ctx *c;
	int r;

	/* as io_setup: read *ctxp, check it and the count, and write the id last */
	if (user_readable(ctxp, sizeof(*ctxp)))
		return -EFAULT;
	if (*ctxp != NULL || nr_events == 0)
		return -EINVAL;
	r = contract_setup_count(nr_events);
	if (r < 0)
		return r;
	if (user_writable(ctxp, sizeof(*ctxp)))
		return -EFAULT;
	*ctxp = NULL; /* the probe wrote there: what it held, 0, until the id */
	pthread_once(&fork_hook, hook_fork);
	c = context_alloc();
	if (!c)
		return -ENOMEM;
	memset(&s, 0, sizeof(s));
	s.nr_events = nr_events;
	s.kernel_events = nr_events;
	/*
	 * AIORING_SETUP_KERNEL_REQS: a v2 ring takes what the kernel's ring
	 * would (io_setup(n) gives nr - 1 >= 2n) and counts as the kernel
	 * counts: programs sized against the kernel go past their queue depth
	 * for a moment (fio does, around verify) and meet EAGAIN where the
	 * kernel gives it.
	 */
	s.flags = flags;
	s.memory = memory;
	s.memory_len = memory_len;
	s.wake = wake;
	s.wake_arg = c;
	s.private_waiters = 1; /* its io_getevents is the only waiter, and mremap may move the ring */
	r = engine_setup(&s, &c->engine);
	if (r < 0) {
		context_free(c);
		return r;
	}
	aior_info(c->engine, &c->info);
	c->v2 = !!(flags & AIORING_SETUP_V2);
	c->async_buffered = !!(flags & AIORING_SETUP_ASYNC_BUFFERED);
	c->id = c->info.ring;
	c->generation = aior_load_relaxed(&generation);
	pthread_mutex_init(&c->reap_lock, NULL);
	pthread_mutex_init(&c->wait_lock, NULL);
	if (c->v2)
		v2_bind(&c->ring, c->info.ring, c->info.nr);
	else
		legacy_consumer_init(&c->legacy, c->info.ring, c->info.nr);
	/* where the kernel context cannot be made now, the engine's own requests, as before */
	if (direct_fits(c, unaware) && aior_direct_start(c->engine) == 0) {
		c->direct = 1;
		note_internal_id(c);
	}
	r = context_table_insert(c->id, c);
	if (r < 0) {
		aior_destroy(c->engine);
		pthread_mutex_destroy(&c->reap_lock);
		pthread_mutex_destroy(&c->wait_lock);
		context_free(c);
		return r;
	}
	*ctxp = c->id;
	return 0;
}

enum ring_choice {
	RING_KERNEL,          /* the kernel's own contexts: libaio exactly */
	RING_ENGINE_LEGACY,   /* aioring's engine, the kernel's ring layout */
	RING_ENGINE_V2,       /* aioring's engine, the v2 ring */
};

/* What AIORING_RING asks of this process's io_setup calls. */
static enum ring_choice ring_choice(void)
{
	static int warned;
	const char *ring = getenv("AIORING_RING");

	/* io_uring is behind the engine's rings only */
	if ((ring == NULL || *ring == 0) && uring_asked())
		return RING_ENGINE_LEGACY;
	if (ring == NULL || *ring == 0 || strcmp(ring, "kernel") == 0)
		return RING_KERNEL;
	if (strcmp(ring, "legacy") == 0)
		return RING_ENGINE_LEGACY;
	if (strcmp(ring, "v2") == 0)
		return RING_ENGINE_V2;
	/* a typo must not pass unseen, nor stop a program that works without it */
	if (!aior_exchange_relaxed(&warned, 1))
		fprintf(stderr, "aioring: AIORING_RING=%s is not kernel, legacy or v2; using the kernel's contexts\n",
			ring);
	return RING_KERNEL;
}

/* Set at load: AIORING_RING asked for the engine, and the raw io_* calls could not follow. */
static int switch_refused;

EXPORT int io_setup(int maxevents, void **ctxp)
{
	enum ring_choice ring = ring_choice();

	int saved = errno, r;
	const char *async = getenv("AIORING_ASYNC_BUFFERED");
	unsigned flags = AIORING_SETUP_KERNEL_REQS | (ring == RING_ENGINE_V2 ? AIORING_SETUP_V2 : 0);

	if (ring == RING_KERNEL || switch_refused)
		return kernel_call(SYS_io_setup, maxevents, (long)ctxp, 0, 0, 0, 0);
	if (async && strcmp(async, "1") == 0)
		flags |= AIORING_SETUP_ASYNC_BUFFERED;
	/* the system call takes the count unsigned: a negative one is huge, EINVAL */
	r = setup_ctx((unsigned)maxevents, flags, NULL, 0, 1, ctxp);
	errno = saved;
	return r;
}

static const struct raw_io_ops raw_ops;

EXPORT int aioring_setup2(unsigned nr_events, unsigned flags, const struct aioring_memory *memory,
			  void **ctxp)
{
	int saved = errno, r;

	syscall_route_start(&raw_ops, NULL);

	/* a v2 ring from here keeps the kernel's count, as AIORING_RING=v2's */
	if (flags & AIORING_SETUP_V2)
		flags |= AIORING_SETUP_KERNEL_REQS;
	r = setup_ctx(nr_events, flags, memory ? memory->addr : NULL, memory ? memory->len : 0, 0, ctxp);
	errno = saved;
	return r;
}

EXPORT unsigned aioring_features(void)
{
	aio_context_t probe = 0;
	unsigned f = AIORING_FEATURE_V2 | AIORING_FEATURE_THREADS | AIORING_FEATURE_MEMORY |
		     AIORING_FEATURE_ASYNC_BUFFERED;

	if (syscall(SYS_io_setup, 1, &probe) == 0) {
		f |= AIORING_FEATURE_KERNEL;
		syscall(SYS_io_destroy, probe);
	}
	if (aior_uring_available() == 0)
		f |= AIORING_FEATURE_URING;
	return f;
}

/* Until no call is inside c (but, with direct, those waiting in the kernel), waking its sleepers meanwhile. */
static void wait_calls(struct shim_ctx *c, int direct)
{
	while (__atomic_load_n(&c->calls, __ATOMIC_ACQUIRE) > (direct ? aior_load_acquire(&c->direct_waits) : 0)) {
		wake(c);
		usleep(200);
	}
}

EXPORT int io_destroy(void *id)
{
	struct shim_ctx *c = engine_ctx(&id);
	int saved = errno;

	if (c == NULL || context_table_remove(id) != c)
		return kernel_call(SYS_io_destroy, (long)id, 0, 0, 0, 0, 0);
	if (aior_load_relaxed(&c->internal_id))
		context_table_remove((void *)(uintptr_t)c->internal_id);
	/*
	 * As the kernel's: threads waiting in io_getevents return -EINVAL,
	 * calls made from here on find nothing. Those already inside end
	 * first, but a wait in the kernel's own context (the direct route),
	 * which ends when the engine destroys that context, and then touches
	 * neither ring nor engine (dying).
	 */
	__atomic_store_n(&c->dying, 1, __ATOMIC_SEQ_CST);
	wait_calls(c, 1);
	/* waits for in-flight I/O, as the kernel's io_destroy does */
	aior_destroy(c->engine);
	wait_calls(c, 0);
	pthread_mutex_destroy(&c->reap_lock);
	pthread_mutex_destroy(&c->wait_lock);
	context_free(c);
	errno = saved;
	return 0;
}

/*
 * As the kernel's io_submit: at most the context's nr_events per call, and
 * each iocb checked (kernel_contract.h) before the engine queues it; the
 * engine gets the run of good ones, and the first bad one ends the call
 * (its error if it was first).
 */
static void set_waiting(struct shim_ctx *c, int delta)
{
	c->waiters += delta;
	if (c->waiters > 0)
		aior_or_seq_cst(c->info.wait_flags, AIORING_V2_WAITER);
	else
		aior_and_seq_cst(c->info.wait_flags, ~AIORING_V2_WAITER);
}

/*
 * Where the engine's next completion goes in the ring (a free-running
 * index for v2), by the engine's own count: the ring's tail is the
 * program's to write too, as the kernel's is. Under reap_lock.
 */
static uint32_t produced(const struct shim_ctx *c)
{
	return aior_produced(c->engine);
}

static const struct io_event *event_at(const struct shim_ctx *c, uint32_t index)
{
	if (c->v2)
		return v2_slot(&c->ring, index);
	return &((struct aio_ring *)c->info.ring)->io_events[index];
}

/* Cross off sync[] the iocbs whose events the engine produced since *at; returns how many. */
static long cross_off(struct shim_ctx *c, uint32_t *at, struct iocb **sync, long n)
{
	uint32_t tail;
	long found = 0, i;

	pthread_mutex_lock(&c->reap_lock); /* the ring stays where it is (mremap) */
	tail = produced(c);
	while (*at != tail) {
		uint64_t obj = event_at(c, *at)->obj;

		for (i = 0; i < n; i++)
			if (sync[i] && (uint64_t)(uintptr_t)sync[i] == obj) {
				sync[i] = NULL;
				found++;
				break;
			}
		*at = c->v2 ? *at + 1 : (*at + 1) % c->info.nr;
	}
	pthread_mutex_unlock(&c->reap_lock);
	return found;
}

/*
 * The kernel finishes a buffered read or write inside io_submit: wait
 * until the engine has produced the event of each iocb left in sync[]
 * (NULLs are skipped), from ring index from on (a reaper may take them
 * meanwhile: they were produced).
 */
static void wait_produced(struct shim_ctx *c, uint32_t from, struct iocb **sync, long n)
{
	long left = 0, i;

	for (i = 0; i < n; i++)
		left += sync[i] != NULL;
	struct shim_waiter self = {own_wakefd(), NULL};
	int slept = 0;

	for (;;) {
		struct pollfd wake_fd = {self.fd, POLLIN, 0};

		aior_service(c->engine);
		left -= cross_off(c, &from, sync, n);
		/*
		 * After a sleep: one not crossed off may have been produced, reaped
		 * and written over by later events while this thread was away (the
		 * ring went round): the engine says whether it is still in flight.
		 */
		for (i = 0; i < n && left > 0 && slept; i++)
			if (sync[i] && !aior_user_busy(c->engine, sync[i])) {
				sync[i] = NULL;
				left--;
			}
		/* an event the forged ring could not take never comes: the calls after say so */
		if (left == 0 || aior_lost(c->engine))
			return;
		if (self.fd < 0) {
			/* no descriptor to sleep on: look again shortly */
			usleep(50);
			slept = 1;
			continue;
		}
		sleeper_add(c, &self);
		pthread_mutex_lock(&c->reap_lock);
		set_waiting(c, 1);
		pthread_mutex_unlock(&c->reap_lock);
		left -= cross_off(c, &from, sync, n);
		if (left > 0 && !aior_lost(c->engine)) {
			poll(&wake_fd, 1, -1);
			slept = 1;
		}
		pthread_mutex_lock(&c->reap_lock);
		set_waiting(c, -1);
		pthread_mutex_unlock(&c->reap_lock);
		sleeper_remove(c, &self);
	}
}

/* Whether the kernel's io_submit would have finished this iocb before returning. */
static int finished_in_submit(const struct submit_checks *k, const struct iocb *cb)
{
	unsigned op = cb->aio_lio_opcode;

	return (op == IOCB_CMD_PREAD || op == IOCB_CMD_PWRITE || op == IOCB_CMD_PREADV ||
		op == IOCB_CMD_PWRITEV) && !(k->fd_flags & O_DIRECT);
}

static long submit(struct shim_ctx *c, long nr, struct iocb **iocbs)
{
	struct submit_checks k;
	long done = 0;
	int err = 0;

	if (nr < 0)
		return -EINVAL;
	if (nr > (long)c->info.nr)
		nr = (long)c->info.nr;
	submit_checks_init(&k);
	/* in parts of at most AIORING_SYNC_BATCH requests io_submit waits for */
	while (done < nr && err == 0) {
		struct iocb *sync[AIORING_SYNC_BATCH], *cb;
		long good = 0, nsync = 0, taken, i, j;
		uint32_t from;

		while (done + good < nr) {
			err = contract_iocb(&k, iocbs, done + good, &cb);
			if (err)
				break;
			if (!c->async_buffered && finished_in_submit(&k, cb)) {
				if (nsync == AIORING_SYNC_BATCH)
					break;
				sync[nsync++] = cb;
			}
			good++;
		}
		if (good == 0)
			break;
		pthread_mutex_lock(&c->reap_lock);
		from = produced(c);
		pthread_mutex_unlock(&c->reap_lock);
		/* the flags contract_iocb read for the last descriptor: no second fcntl in the engine */
		taken = aior_submit_known(c->engine, iocbs + done, good, k.fd, k.fd_flags);
		note_internal_id(c);
		if (taken <= 0) {
			err = (int)taken;
			break;
		}
		/* wait only for those the engine took: the first taken of the part */
		for (i = 0; i < nsync; i++)
			for (j = taken; j < good; j++)
				if (iocbs[done + j] == sync[i])
					sync[i] = NULL;
		if (nsync)
			wait_produced(c, from, sync, nsync);
		done += taken;
		if (taken < good)
			break;
	}
	return done ? done : err;
}

/*
 * What io_submit_one checks before it looks for room: the pointer and the
 * iocb read, reserved2 and the count's sign. The direct route finds no
 * room before the kernel sees the iocbs, so it makes these checks itself
 * then, and says EAGAIN only after them, as the kernel would.
 */
static int checked_before_room(struct iocb **iocbs)
{
	struct iocb *cb;

	if (user_readable(iocbs, sizeof(*iocbs)))
		return -EFAULT;
	cb = *iocbs;
	if (cb == NULL || user_readable(cb, sizeof(*cb)))
		return -EFAULT;
	if (cb->aio_reserved2 || (int64_t)cb->aio_nbytes < 0)
		return -EINVAL;
	return -EAGAIN;
}

/* The direct route: the kernel reads and checks the iocbs, in one io_submit. */
static long submit_direct(struct shim_ctx *c, long nr, struct iocb **iocbs)
{
	long r;

	if (nr < 0)
		return -EINVAL;
	if (nr > (long)c->info.nr)
		nr = (long)c->info.nr;
	if (nr == 0)
		return 0;
	r = aior_submit_direct(c->engine, iocbs, nr);
	return r == -EAGAIN ? checked_before_room(iocbs) : r;
}

EXPORT int io_submit(void *id, long nr, struct iocb **iocbs)
{
	struct shim_ctx *c = enter(&id);
	int saved = errno;
	long r;

	if (c == NULL)
		return kernel_call(SYS_io_submit, (long)id, nr, (long)iocbs, 0, 0, 0);
	r = c->direct ? submit_direct(c, nr, iocbs) : submit(c, nr, iocbs);
	leave(c);
	errno = saved;
	return (int)r;
}

EXPORT int io_cancel_0_4(void *id, struct iocb *iocb, struct io_event *event);
EXPORT int io_cancel_0_4(void *id, struct iocb *iocb, struct io_event *event)
{
	struct shim_ctx *c = enter(&id);
	int saved = errno, r;

	if (c == NULL)
		return kernel_call(SYS_io_cancel, (long)id, (long)iocb, (long)event, 0, 0, 0);
	if (c->direct) {
		if (aior_lost(c->engine))
			r = user_readable(iocb, sizeof(*iocb)) ? -EFAULT : -EUCLEAN;
		else
			r = aior_cancel_direct(c->engine, iocb, event);
		leave(c);
		errno = saved;
		return r;
	}
	/* as the kernel: the iocb's key is read first, and must be KIOCB_KEY (0) */
	if (user_readable(iocb, sizeof(*iocb)))
		r = -EFAULT;
	else if (aior_lost(c->engine))
		r = -EUCLEAN;
	else
		r = iocb->aio_key != 0 ? -EINVAL : aior_cancel_kernel(c->engine, iocb);
	leave(c);
	errno = saved;
	/* as the kernel since 4.19: the cancelled request completes through the ring */
	return r == 0 ? -EINPROGRESS : r;
}

/*
 * Reap up to max events from the context's ring: the kernel's algorithm.
 * As the kernel's copy_to_user, a destination it could not write is
 * -EFAULT with the events left in the ring, and only when there is an
 * event to copy. A v2 ring whose shared head another writer put more
 * than entries away from tail is -EUCLEAN: read as empty, io_getevents
 * would wait out its timeout (or forever) for events it cannot reach. A
 * context that lost a completion to such a head is -EUCLEAN for good.
 */
static long reap(struct shim_ctx *c, struct io_event *events, long max, long known_writable)
{
	int64_t n, ready;

	if (aior_lost(c->engine))
		return -EUCLEAN;
	if (max <= 0)
		return 0;
	if (!c->v2)
		ready = legacy_count(&c->legacy);
	else
		/* a head read just before another consumer's CAS and a refill is stale: look again */
		for (int stale = 0; (ready = v2_count(&c->ring)) < 0 && ++stale < AIORING_CLAIM_RETRIES;)
			;
	if (ready <= 0)
		return ready;
	/* the kernel itself has just written known_writable events there (the direct route's wait) */
	if ((ready < max ? ready : max) > known_writable &&
	    user_writable(events, (size_t)(ready < max ? ready : max) * sizeof(*events)))
		return -EFAULT;
	if (!c->v2)
		return legacy_reap(&c->legacy, events, (uint32_t)max);
	/* v2: only io_getevents reads it, but from any thread: claim with CAS */
	n = v2_claim_reap(&c->ring, events, max > UINT32_MAX ? UINT32_MAX : (uint32_t)max);
	return n;
}

/* Reap into events[*got..nr): nonzero when the call ends here (-EFAULT in *got if nothing came before). */
static int reaped_known(struct shim_ctx *c, struct io_event *events, long nr, long *got, long known_writable)
{
	long n = reap(c, events + *got, nr - *got, known_writable);

	if (n >= 0) {
		*got += n;
		return 0;
	}
	if (*got == 0)
		*got = n;
	return 1;
}

static int reaped(struct shim_ctx *c, struct io_event *events, long nr, long *got)
{
	return reaped_known(c, events, nr, got, 0);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * io_getevents' arguments, as the kernel checks them: -EINVAL for a bad
 * min_nr or nr, else 0 with *deadline the CLOCK_MONOTONIC time the wait
 * ends (-1: no end). As the kernel does (timespec64_to_ktime): tv_nsec is
 * not checked, the two are simply added; a negative total waits with no end.
 */
static int deadline_of(long min_nr, long nr, const struct timespec *timeout, int64_t *deadline)
{
	if (min_nr < 0 || nr < 0 || min_nr > nr)
		return -EINVAL;
	*deadline = -1;
	if (timeout) {
		int64_t total = (int64_t)timeout->tv_sec * 1000000000 + timeout->tv_nsec;

		if (total >= 0)
			*deadline = now_ns() + total;
	}
	return 0;
}

static long get_events(struct shim_ctx *c, long min_nr, long nr, struct io_event *events,
		       const struct timespec *timeout, const sigset_t *sigmask)
{
	struct shim_waiter self = {-1, NULL};
	int64_t deadline;
	long got = 0;
	int kfd;

	if (deadline_of(min_nr, nr, timeout, &deadline))
		return -EINVAL;
	kfd = aior_kernel_fd(c->engine);
	self.fd = own_wakefd();
	if (self.fd < 0)
		return self.fd;
	pthread_mutex_lock(&c->reap_lock);
	for (;;) {
		struct pollfd fds[2] = {{self.fd, POLLIN, 0}, {kfd, POLLIN, 0}};
		struct timespec wait, *waitp = NULL;
		int r, interrupted;

		if (__atomic_load_n(&c->dying, __ATOMIC_ACQUIRE)) {
			/* io_destroy: as the kernel's waiters, EINVAL unless events came */
			if (got == 0)
				got = -EINVAL;
			break;
		}

		/* what the kernel finished moves into the ring here, no thread hop (nor system call) */
		aior_service_ring(c->engine);
		if (reaped(c, events, nr, &got))
			break;
		if (got >= min_nr || got == nr)
			break;
		if (deadline >= 0) {
			int64_t left = deadline - now_ns();

			/* with a mask, a signal it lets through still ends the call (-EINTR) */
			if (left <= 0 && sigmask == NULL)
				break;
			if (left <= 0)
				left = 0;
			wait.tv_sec = left / 1000000000;
			wait.tv_nsec = left % 1000000000;
			waitp = &wait;
		}
		/*
		 * About to sleep: now clear the kernel's eventfd, which the sleep
		 * waits on, and take what came before it was cleared.
		 */
		aior_service(c->engine);
		if (reaped(c, events, nr, &got))
			break;
		if (got >= min_nr || got == nr)
			break;
		/* announce, then look once more before sleeping (the producer's fence pairs) */
		sleeper_add(c, &self);
		set_waiting(c, 1);
		if (reaped(c, events, nr, &got) || got >= min_nr || got == nr) {
			set_waiting(c, -1);
			sleeper_remove(c, &self);
			break;
		}
		if (__atomic_load_n(&c->dying, __ATOMIC_SEQ_CST)) {
			set_waiting(c, -1);
			sleeper_remove(c, &self);
			if (got == 0)
				got = -EINVAL;
			break;
		}
		pthread_mutex_unlock(&c->reap_lock);
		r = ppoll(fds, kfd >= 0 ? 2 : 1, waitp, sigmask);
		interrupted = r < 0 && errno == EINTR;
		pthread_mutex_lock(&c->reap_lock);
		set_waiting(c, -1);
		sleeper_remove(c, &self);
		if (interrupted) {
			/* as the kernel: a signal ends the wait, EINTR if nothing came */
			if (!reaped(c, events, nr, &got) && got == 0)
				got = -EINTR;
			break;
		}
		if (waitp && waitp->tv_sec == 0 && waitp->tv_nsec == 0)
			break;
	}
	pthread_mutex_unlock(&c->reap_lock);
	return got;
}

static int is_zero(const struct timespec *t)
{
	return t->tv_sec == 0 && t->tv_nsec == 0;
}

/*
 * io_getevents on the direct route: what the ring holds and what the
 * kernel has finished first; then, short of min_nr, the kernel's own wait
 * on its context (its timeout, mask, signals and EFAULT, the events
 * written into the caller's array by the kernel), and those events go
 * through the ring too. The first wait takes the caller's timeout as it
 * is; one after it (the ring held older events, reaped first) what is
 * left of it.
 */
static long get_events_direct(struct shim_ctx *c, long min_nr, long nr, struct io_event *events,
			      const struct timespec *timeout, const sigset_t *sigmask)
{
	int64_t deadline;
	long got = 0;

	if (deadline_of(min_nr, nr, timeout, &deadline))
		return -EINVAL;
	pthread_mutex_lock(&c->reap_lock);
	for (int waits = 0;; waits++) {
		struct timespec left, *wait = NULL;
		long r;

		aior_service_ring(c->engine);
		if (reaped(c, events, nr, &got) || got >= min_nr || got == nr)
			break;
		if (timeout && waits == 0) {
			/* with nothing to wait for, a mask still lets a pending signal end the call */
			if (is_zero(timeout) && sigmask == NULL)
				break;
			left = *timeout;
			wait = &left;
		} else if (deadline >= 0) {
			int64_t ns = deadline - now_ns();

			if (ns <= 0)
				break;
			left.tv_sec = ns / 1000000000;
			left.tv_nsec = ns % 1000000000;
			wait = &left;
		}
		if (__atomic_load_n(&c->dying, __ATOMIC_SEQ_CST)) {
			if (got == 0)
				got = -EINVAL;
			break;
		}
		pthread_mutex_unlock(&c->reap_lock);
		aior_add_seq_cst(&c->direct_waits, 1);
		r = __atomic_load_n(&c->dying, __ATOMIC_SEQ_CST)
			    ? -EINVAL
			    : aior_wait_direct(c->engine, min_nr - got, nr - got, events + got, wait, sigmask);
		__atomic_fetch_sub(&c->direct_waits, 1, __ATOMIC_SEQ_CST);
		pthread_mutex_lock(&c->reap_lock);
		/* io_destroy ended the wait: the engine and its ring are going, touch neither */
		if (__atomic_load_n(&c->dying, __ATOMIC_SEQ_CST)) {
			if (got == 0)
				got = -EINVAL;
			break;
		}
		if (r <= 0) {
			if (r < 0 && got == 0)
				got = r;
			break;
		}
		/* r events (the oldest the ring holds) into the r slots the kernel has just written */
		if (reaped_known(c, events, got + r, &got, r) || got >= min_nr || got == nr)
			break;
	}
	pthread_mutex_unlock(&c->reap_lock);
	return got;
}

/*
 * io_getevents and io_pgetevents on an engine context (entered: this leaves it): first (peek) libaio's
 * own look at a ring with the kernel's magic (an engine context's legacy
 * ring has it too; the raw system call makes none), then the system call's order: the timeout and the mask are
 * read before anything else, and errno is kept.
 */
static int engine_getevents(struct shim_ctx *c, long min_nr, long nr, struct io_event *events,
			    const struct timespec *timeout, const sigset_t *sigmask, int peek)
{
	int saved = errno;
	long r;

	if (peek && engine_ring_is_empty(c, timeout))
		r = 0;
	else if ((timeout && user_readable(timeout, sizeof(*timeout))) ||
		 (sigmask && user_readable(sigmask, _NSIG / 8)))
		r = -EFAULT;
	else if (c->direct)
		r = get_events_direct(c, min_nr, nr, events, timeout, sigmask);
	else
		r = get_events(c, min_nr, nr, events, timeout, sigmask);
	leave(c);
	errno = saved;
	return (int)r;
}

EXPORT int io_getevents_0_4(void *id, long min_nr, long nr, struct io_event *events,
			    struct timespec *timeout);
EXPORT int io_getevents_0_4(void *id, long min_nr, long nr, struct io_event *events,
			    struct timespec *timeout)
{
	struct shim_ctx *c = enter(&id);

	if (c != NULL)
		return engine_getevents(c, min_nr, nr, events, timeout, NULL, 1);
	if (kernel_ring_is_empty(id, timeout))
		return 0;
	return kernel_call(SYS_io_getevents, (long)id, min_nr, nr, (long)events, (long)timeout, 0);
}

/* The raw system call's mask argument. */
struct io_sigset {
	const sigset_t *sigmask;
	size_t ss_len;
};

/*
 * libaio's signature: sigmask is a sigset_t, wrapped for the kernel as
 * libaio wraps it (with the kernel's sigset size, NULL kept as NULL), and
 * applied while an engine context waits, as the kernel applies it.
 */
EXPORT int io_pgetevents(void *id, long min_nr, long nr, struct io_event *events,
			 struct timespec *timeout, void *sigmask)
{
	struct shim_ctx *c = enter(&id);
	struct io_sigset wrapped = {sigmask, _NSIG / 8};

	if (c != NULL)
		return engine_getevents(c, min_nr, nr, events, timeout, sigmask, 1);
	if (kernel_ring_is_empty(id, timeout))
		return 0;
#ifdef SYS_io_pgetevents
	return kernel_call(SYS_io_pgetevents, (long)id, min_nr, nr, (long)events, (long)timeout, (long)&wrapped);
#else
	(void)wrapped;
	return -ENOSYS;
#endif
}

struct ring_move {
	void *from, *to;
	size_t len;
	int flags;
};

static int move_mapping(void *arg, void **to)
{
	struct ring_move *m = arg;
	void *r = (void *)syscall(SYS_mremap, m->from, m->len, m->len, m->flags, m->to);

	if (r == MAP_FAILED)
		return -errno;
	*to = r;
	return 0;
}

/*
 * An engine ring moved by the program, as the kernel's aio_ring_mremap
 * follows its own: the context's id becomes the new address (the old one
 * is EINVAL from then on), and the engine writes its completions there,
 * no longer at the old address, from the moment mremap returns. The whole
 * ring, at its size: a partial move or a resize of it is EINVAL.
 */
static void *move_ring(struct shim_ctx *c, size_t old_len, size_t new_len, int flags, void *target)
{
	size_t page = (size_t)system_page_size();
	struct ring_move m = {c->id, target, c->info.ring_len, flags};
	int r;

	if ((old_len + page - 1) / page != c->info.ring_len / page || new_len != old_len ||
	    !(flags & MREMAP_MAYMOVE) || (flags & MREMAP_DONTUNMAP)) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	pthread_mutex_lock(&c->reap_lock);
	r = aior_ring_move(c->engine, move_mapping, &m);
	if (r == 0) {
		context_table_remove(c->id);
		aior_info(c->engine, &c->info);
		c->id = c->info.ring;
		if (c->v2)
			v2_bind(&c->ring, c->info.ring, c->info.nr);
		else
			legacy_consumer_init(&c->legacy, c->info.ring, c->info.nr);
		r = context_table_insert(c->id, c);
	}
	pthread_mutex_unlock(&c->reap_lock);
	if (r < 0) {
		errno = -r;
		return MAP_FAILED;
	}
	return c->id;
}

EXPORT void *mremap_interposed(void *old, size_t old_len, size_t new_len, int flags, ...);
EXPORT void *mremap_interposed(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	struct shim_ctx *c = engine_ctx(&old);
	void *target = NULL;
	va_list ap;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		target = va_arg(ap, void *);
		va_end(ap);
	}
	/* the same size, not fixed: nothing moves */
	if (c == NULL || (new_len == old_len && !(flags & MREMAP_FIXED)))
		return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, target);
	return move_ring(c, old_len, new_len, flags, target);
}
/* as glibc's own name and version for it (libaio.map), so the program's reference binds here */
#if defined(__x86_64__)
__asm__(".symver mremap_interposed,mremap@@GLIBC_2.2.5");
#elif defined(__aarch64__)
__asm__(".symver mremap_interposed,mremap@@GLIBC_2.17");
#endif

/* libaio's queue calls, over the calls above, for every kind of context. */
EXPORT int io_queue_init(int maxevents, void **ctxp)
{
	if (maxevents <= 0)
		return -EINVAL;
	*ctxp = NULL;
	return io_setup(maxevents, ctxp);
}

EXPORT int io_queue_release(void *id)
{
	return io_destroy(id);
}

/* libaio's callback convention: the iocb's data is the function to call. */
typedef void (*io_callback_t)(void *ctx, struct iocb *iocb, long res, long res2);

/* One event at a time until none is ready; 0 then, as libaio (not a count). */
EXPORT int io_queue_run(void *id)
{
	static struct timespec zero = {0, 0};
	struct io_event ev;
	int r;

	while ((r = io_getevents_0_4(id, 0, 1, &ev, &zero)) == 1) {
		io_callback_t cb = (io_callback_t)(uintptr_t)ev.data;

		cb(id, (struct iocb *)(uintptr_t)ev.obj, (long)ev.res, (long)ev.res2);
	}
	return r;
}

EXPORT int io_queue_wait_0_4(void *id, struct timespec *timeout);
EXPORT int io_queue_wait_0_4(void *id, struct timespec *timeout)
{
	return io_getevents_0_4(id, 0, 0, NULL, timeout);
}

/*
 * Versioned names, as libaio has them: the 0.4 calls are the defaults, and
 * the 0.1 entry points stay for programs linked long ago. Their timeout is
 * const, so, as libaio, they pass on a copy.
 */
__asm__(".symver io_cancel_0_4,io_cancel@@LIBAIO_0.4");
__asm__(".symver io_getevents_0_4,io_getevents@@LIBAIO_0.4");
__asm__(".symver io_queue_wait_0_4,io_queue_wait@@LIBAIO_0.4");
EXPORT int io_getevents_0_1(void *id, long nr, struct io_event *events, const struct timespec *timeout);
EXPORT int io_getevents_0_1(void *id, long nr, struct io_event *events, const struct timespec *timeout)
{
	struct timespec copy;

	if (timeout)
		copy = *timeout;
	return io_getevents_0_4(id, 1, nr, events, timeout ? &copy : NULL);
}
__asm__(".symver io_getevents_0_1,io_getevents@LIBAIO_0.1");

EXPORT int io_cancel_0_1(void *id, struct iocb *iocb);
EXPORT int io_cancel_0_1(void *id, struct iocb *iocb)
{
	struct io_event ev;

	return io_cancel_0_4(id, iocb, &ev);
}
__asm__(".symver io_cancel_0_1,io_cancel@LIBAIO_0.1");

EXPORT int io_queue_wait_0_1(void *id, const struct timespec *timeout);
EXPORT int io_queue_wait_0_1(void *id, const struct timespec *timeout)
{
	struct timespec copy;

	if (timeout)
		copy = *timeout;
	return io_getevents_0_4(id, 0, 0, NULL, timeout ? &copy : NULL);
}
__asm__(".symver io_queue_wait_0_1,io_queue_wait@LIBAIO_0.1");

/*
 * Raw io_* system calls on engine contexts (syscall_route.h): routed here
 * from the start of a process that opts in with AIORING_RING, and from the
 * first aioring_setup2 (which is not refused: such a program knows it has
 * an aioring context).
 */
static int raw_is_engine(void *id)
{
	return engine_ctx(&id) != NULL;
}

static int raw_getevents(void *id, long min_nr, long nr, struct io_event *events,
			 struct timespec *timeout, const sigset_t *sigmask)
{
	struct shim_ctx *c = enter(&id);

	if (c == NULL)
		return -EINVAL; /* destroyed since it was looked up: the kernel's answer for it */
	return engine_getevents(c, min_nr, nr, events, timeout, sigmask, 0);
}

static const struct raw_io_ops raw_ops = {
	raw_is_engine, io_destroy, io_submit, io_cancel_0_4, raw_getevents,
};

__attribute__((constructor)) static void route_raw_calls(void)
{
	char opt_in[32];

	if (ring_choice() == RING_KERNEL)
		return;
	snprintf(opt_in, sizeof(opt_in), "AIORING_RING=%s", getenv("AIORING_RING"));
	if (syscall_route_start(&raw_ops, opt_in) < 0)
		switch_refused = 1;
}
