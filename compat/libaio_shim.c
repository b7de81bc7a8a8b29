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
 * Errors are negative errno returns, as libaio's, never an abort.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "aioring.h"
#include "atomics.h"
#include "context_table.h"
#include "engine.h"
#include "legacy_ring.h"
#include "system_info.h"
#include "v2_ring.h"

#define EXPORT __attribute__((visibility("default")))

/* A context of aioring's engine (an opt-in); kernel contexts have none. */
struct shim_ctx {
	void *id;                 /* what the program holds: the ring's address */
	struct aior_ctx *engine;
	struct aior_info info;
	int v2;
	int wakefd;               /* producers ring it when a waiter announced itself */
	pthread_mutex_t reap_lock; /* one reaper at a time, as the kernel's ring_lock */
	int waiters;              /* under reap_lock */
	struct legacy_consumer legacy;
	struct v2_ring ring;
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

/* Set once this process has made an engine context. */
static int engine_used;

/*
 * libaio's one look at a ring from userspace: a zero timeout on a ring
 * with the kernel's magic and nothing in it answers 0 with no system
 * call. Like libaio, it reads the magic of any id that is not NULL, and
 * so faults on a destroyed context's unmapped ring. A process that has
 * had engine contexts skips it: an id of one destroyed is no longer in
 * the table, and the engine's contract answers EINVAL for it, as the
 * system call does.
 */
static int kernel_ring_is_empty(void *id, const struct timespec *timeout)
{
	const struct aio_ring *ring = id;

	if (aior_load_relaxed(&engine_used))
		return 0;
	if (ring == NULL || aior_load_relaxed(&ring->magic) != AIO_RING_MAGIC)
		return 0;
	if (timeout == NULL || timeout->tv_sec != 0 || timeout->tv_nsec != 0)
		return 0;
	return aior_load_relaxed(&ring->head) == aior_load_relaxed(&ring->tail);
}

static void wake(void *arg)
{
	uint64_t one = 1;
	ssize_t r = write(*(int *)arg, &one, sizeof(one));

	(void)r;
}

static int setup_ctx(unsigned nr_events, unsigned flags, void *memory, size_t memory_len,
		     void **ctxp)
{
	struct aior_setup s;
	struct shim_ctx *c;
	int r;

	if (ctxp == NULL)
		return -EFAULT;
	if (*ctxp != NULL || nr_events == 0 || nr_events > INT32_MAX)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wakefd < 0) {
		r = -errno;
		free(c);
		return r;
	}
	memset(&s, 0, sizeof(s));
	s.nr_events = nr_events;
	/*
	 * A v2 ring gets at least the room the kernel's ring would have had
	 * (io_setup(n) gives nr - 1 >= 2n): programs sized against the kernel
	 * go past their queue depth for a moment (fio does, around verify) and
	 * would meet an EAGAIN the kernel never gives them.
	 */
	if (flags & AIORING_SETUP_V2) {
		int64_t nr = legacy_nr(nr_events, system_possible_cpus(), system_page_size(), 0);

		if (nr > (int64_t)nr_events + 1)
			s.nr_events = (unsigned)(nr - 1);
	}
	s.flags = flags;
	s.backend = AIOR_BACKEND_AUTO;
	s.memory = memory;
	s.memory_len = memory_len;
	s.wake = wake;
	s.wake_arg = &c->wakefd;
	r = aior_setup(&s, &c->engine);
	if (r < 0) {
		close(c->wakefd);
		free(c);
		return r;
	}
	aior_info(c->engine, &c->info);
	c->v2 = !!(flags & AIORING_SETUP_V2);
	c->id = c->info.ring;
	pthread_mutex_init(&c->reap_lock, NULL);
	if (c->v2)
		v2_bind(&c->ring, c->info.ring, c->info.nr);
	else
		legacy_consumer_init(&c->legacy, c->info.ring, c->info.nr);
	aior_store_relaxed(&engine_used, 1);
	r = context_table_insert(c->id, c);
	if (r < 0) {
		aior_destroy(c->engine);
		close(c->wakefd);
		pthread_mutex_destroy(&c->reap_lock);
		free(c);
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

EXPORT int io_setup(int maxevents, void **ctxp)
{
	enum ring_choice ring = ring_choice();

	if (ring == RING_KERNEL)
		return kernel_call(SYS_io_setup, maxevents, (long)ctxp, 0, 0, 0, 0);
	if (maxevents <= 0)
		return ctxp == NULL ? -EFAULT : -EINVAL;
	return setup_ctx((unsigned)maxevents, ring == RING_ENGINE_V2 ? AIORING_SETUP_V2 : 0, NULL, 0, ctxp);
}

EXPORT int aioring_setup2(unsigned nr_events, unsigned flags, const struct aioring_memory *memory,
			  void **ctxp)
{
	return setup_ctx(nr_events, flags, memory ? memory->addr : NULL, memory ? memory->len : 0,
			 ctxp);
}

EXPORT unsigned aioring_features(void)
{
	aio_context_t probe = 0;
	unsigned f = AIORING_FEATURE_V2 | AIORING_FEATURE_THREADS | AIORING_FEATURE_MEMORY;

	if (syscall(SYS_io_setup, 1, &probe) == 0) {
		f |= AIORING_FEATURE_KERNEL;
		syscall(SYS_io_destroy, probe);
	}
	return f;
}

EXPORT int io_destroy(void *id)
{
	struct shim_ctx *c = context_table_remove(id);

	if (c == NULL)
		return kernel_call(SYS_io_destroy, (long)id, 0, 0, 0, 0, 0);
	/* waits for in-flight I/O, as the kernel's io_destroy does */
	aior_destroy(c->engine);
	close(c->wakefd);
	pthread_mutex_destroy(&c->reap_lock);
	free(c);
	return 0;
}

EXPORT int io_submit(void *id, long nr, struct iocb **iocbs)
{
	struct shim_ctx *c = context_table_find(id);

	if (c == NULL)
		return kernel_call(SYS_io_submit, (long)id, nr, (long)iocbs, 0, 0, 0);
	if (nr < 0)
		return -EINVAL;
	if (nr > 0 && iocbs == NULL)
		return -EFAULT;
	return (int)aior_submit(c->engine, iocbs, nr);
}

EXPORT int io_cancel_0_4(void *id, struct iocb *iocb, struct io_event *event);
EXPORT int io_cancel_0_4(void *id, struct iocb *iocb, struct io_event *event)
{
	struct shim_ctx *c = context_table_find(id);
	int r;

	if (c == NULL)
		return kernel_call(SYS_io_cancel, (long)id, (long)iocb, (long)event, 0, 0, 0);
	if (iocb == NULL)
		return -EFAULT;
	r = aior_cancel(c->engine, iocb);
	/* as the kernel since 4.19: the cancelled request completes through the ring */
	return r == 0 ? -EINPROGRESS : r;
}

/* Reap up to max events from the context's ring: the kernel's algorithm. */
static long reap(struct shim_ctx *c, struct io_event *events, long max)
{
	int64_t n;

	if (max <= 0)
		return 0;
	if (!c->v2)
		return legacy_reap(&c->legacy, events, (uint32_t)max);
	/* v2: only io_getevents reads it, but from any thread: claim with CAS */
	n = v2_claim_reap(&c->ring, events, max > UINT32_MAX ? UINT32_MAX : (uint32_t)max);
	return n < 0 ? 0 : n;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_waiting(struct shim_ctx *c, int delta)
{
	c->waiters += delta;
	if (c->waiters > 0)
		aior_or_seq_cst(c->info.wait_flags, AIORING_V2_WAITER);
	else
		aior_and_seq_cst(c->info.wait_flags, ~AIORING_V2_WAITER);
}

static long get_events(struct shim_ctx *c, long min_nr, long nr, struct io_event *events,
		       const struct timespec *timeout, const sigset_t *sigmask)
{
	int64_t deadline = -1;
	long got = 0;
	int kfd;

	if (min_nr < 0 || nr < 0 || min_nr > nr)
		return -EINVAL;
	if (nr > 0 && events == NULL)
		return -EFAULT;
	if (timeout) {
		/*
		 * As the kernel does (timespec64_to_ktime): tv_nsec is not checked,
		 * the two are simply added; a negative total waits with no end.
		 */
		int64_t total = (int64_t)timeout->tv_sec * 1000000000 + timeout->tv_nsec;

		if (total >= 0)
			deadline = now_ns() + total;
	}
	kfd = aior_kernel_fd(c->engine);
	pthread_mutex_lock(&c->reap_lock);
	for (;;) {
		struct pollfd fds[2] = {{c->wakefd, POLLIN, 0}, {kfd, POLLIN, 0}};
		struct timespec wait, *waitp = NULL;
		uint64_t drain;
		ssize_t rd;
		int r, interrupted;

		/* what the kernel finished moves into the ring here, no thread hop */
		aior_service(c->engine);
		got += reap(c, events + got, nr - got);
		if (got >= min_nr || got == nr)
			break;
		if (deadline >= 0) {
			int64_t left = deadline - now_ns();

			if (left <= 0)
				break;
			wait.tv_sec = left / 1000000000;
			wait.tv_nsec = left % 1000000000;
			waitp = &wait;
		}
		/* announce, then look once more before sleeping (the producer's fence pairs) */
		set_waiting(c, 1);
		got += reap(c, events + got, nr - got);
		if (got >= min_nr || got == nr) {
			set_waiting(c, -1);
			break;
		}
		pthread_mutex_unlock(&c->reap_lock);
		r = ppoll(fds, kfd >= 0 ? 2 : 1, waitp, sigmask);
		interrupted = r < 0 && errno == EINTR;
		pthread_mutex_lock(&c->reap_lock);
		set_waiting(c, -1);
		rd = read(c->wakefd, &drain, sizeof(drain));
		(void)rd;
		if (interrupted) {
			/* as the kernel: a signal ends the wait, EINTR if nothing came */
			got += reap(c, events + got, nr - got);
			if (got == 0)
				got = -EINTR;
			break;
		}
	}
	pthread_mutex_unlock(&c->reap_lock);
	return got;
}

EXPORT int io_getevents_0_4(void *id, long min_nr, long nr, struct io_event *events,
			    struct timespec *timeout);
EXPORT int io_getevents_0_4(void *id, long min_nr, long nr, struct io_event *events,
			    struct timespec *timeout)
{
	struct shim_ctx *c = context_table_find(id);

	if (c != NULL)
		return (int)get_events(c, min_nr, nr, events, timeout, NULL);
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
 * libaio's signature: sigmask is a sigset_t, wrapped here for the kernel
 * as libaio wraps it (with the kernel's sigset size, NULL kept as NULL).
 * An engine context still reads its argument as the raw call's struct
 * io_sigset (issue 12, item 2).
 */
EXPORT int io_pgetevents(void *id, long min_nr, long nr, struct io_event *events,
			 struct timespec *timeout, void *sigmask)
{
	struct shim_ctx *c = context_table_find(id);
	struct io_sigset wrapped = {sigmask, _NSIG / 8};

	if (c != NULL) {
		const struct io_sigset *raw = sigmask;

		return (int)get_events(c, min_nr, nr, events, timeout, raw ? raw->sigmask : NULL);
	}
	if (kernel_ring_is_empty(id, timeout))
		return 0;
#ifdef SYS_io_pgetevents
	return kernel_call(SYS_io_pgetevents, (long)id, min_nr, nr, (long)events, (long)timeout, (long)&wrapped);
#else
	(void)wrapped;
	return -ENOSYS;
#endif
}

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
