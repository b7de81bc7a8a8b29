/*
 * The drop-in libaio: libaio's ABI (symbol versions LIBAIO_0.1, 0.4, 0.5)
 * over aioring contexts, for unmodified programs (LD_PRELOAD).
 *
 * The context id a program gets is the address of the context's ring,
 * because programs read it: the legacy layout by default, exactly as the
 * kernel maps it, or v2 when the program asks (aioring_setup2) or its
 * environment says AIORING_RING=v2 (safe only for programs whose ring
 * readers check the magic or incompat_features; `aioring audit` tells).
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
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "aioring.h"
#include "atomics.h"
#include "engine.h"
#include "legacy_ring.h"
#include "system_info.h"
#include "v2_ring.h"

#define EXPORT __attribute__((visibility("default")))

struct shim_ctx {
	struct shim_ctx *next;
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

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_ctx *table;

/* The context a program's id names, or NULL (never set up, or destroyed). */
static struct shim_ctx *lookup(void *id)
{
	struct shim_ctx *c;

	if (id == NULL)
		return NULL;
	pthread_mutex_lock(&table_lock);
	for (c = table; c && c->id != id; c = c->next)
		;
	pthread_mutex_unlock(&table_lock);
	return c;
}

EXPORT int io_destroy(void *id);

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
	pthread_mutex_lock(&table_lock);
	c->next = table;
	table = c;
	pthread_mutex_unlock(&table_lock);
	*ctxp = c->id;
	return 0;
}

/* The ring layout this process runs with: AIORING_RING=v2 switches it whole. */
static int env_flags(unsigned *flags)
{
	const char *ring = getenv("AIORING_RING");

	*flags = 0;
	if (ring == NULL || *ring == 0 || strcmp(ring, "legacy") == 0)
		return 0;
	if (strcmp(ring, "v2") == 0) {
		*flags = AIORING_SETUP_V2;
		return 0;
	}
	return -EINVAL;
}

EXPORT int io_setup(int maxevents, void **ctxp)
{
	unsigned flags;
	int r = env_flags(&flags);

	if (r < 0)
		return r;
	if (maxevents <= 0)
		return ctxp == NULL ? -EFAULT : -EINVAL;
	return setup_ctx((unsigned)maxevents, flags, NULL, 0, ctxp);
}

EXPORT int aioring_setup2(unsigned nr_events, unsigned flags, const struct aioring_memory *memory,
			  void **ctxp)
{
	return setup_ctx(nr_events, flags, memory ? memory->addr : NULL, memory ? memory->len : 0,
			 ctxp);
}

EXPORT unsigned aioring_features(void)
{
	void *probe = NULL;
	unsigned f = AIORING_FEATURE_V2 | AIORING_FEATURE_THREADS | AIORING_FEATURE_MEMORY;
	struct shim_ctx *c;

	if (io_setup(1, &probe) == 0) {
		c = lookup(probe);
		if (c && c->info.kernel)
			f |= AIORING_FEATURE_KERNEL;
		io_destroy(probe);
	}
	return f;
}

EXPORT int io_destroy(void *id)
{
	struct shim_ctx **link, *c = NULL;

	pthread_mutex_lock(&table_lock);
	for (link = &table; *link; link = &(*link)->next) {
		if ((*link)->id == id && id != NULL) {
			c = *link;
			*link = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&table_lock);
	if (c == NULL)
		return -EINVAL;
	/* waits for in-flight I/O, as the kernel's io_destroy does */
	aior_destroy(c->engine);
	close(c->wakefd);
	pthread_mutex_destroy(&c->reap_lock);
	free(c);
	return 0;
}

EXPORT int io_submit(void *id, long nr, struct iocb **iocbs)
{
	struct shim_ctx *c = lookup(id);

	if (c == NULL || nr < 0)
		return -EINVAL;
	if (nr > 0 && iocbs == NULL)
		return -EFAULT;
	return (int)aior_submit(c->engine, iocbs, nr);
}

EXPORT int io_cancel_0_4(void *id, struct iocb *iocb, struct io_event *event);
EXPORT int io_cancel_0_4(void *id, struct iocb *iocb, struct io_event *event)
{
	struct shim_ctx *c = lookup(id);
	int r;

	(void)event;
	if (c == NULL)
		return -EINVAL;
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

static long get_events(void *id, long min_nr, long nr, struct io_event *events,
		       const struct timespec *timeout, const sigset_t *sigmask)
{
	struct shim_ctx *c = lookup(id);
	int64_t deadline = -1;
	long got = 0;
	int kfd;

	if (c == NULL || min_nr < 0 || nr < 0 || min_nr > nr)
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
	return (int)get_events(id, min_nr, nr, events, timeout, NULL);
}

struct io_sigset {
	const sigset_t *sigmask;
	size_t ss_len;
};

EXPORT int io_pgetevents(void *id, long min_nr, long nr, struct io_event *events,
			 struct timespec *timeout, struct io_sigset *sigmask)
{
	return (int)get_events(id, min_nr, nr, events, timeout, sigmask ? sigmask->sigmask : NULL);
}

EXPORT int io_queue_init(int maxevents, void **ctxp)
{
	return io_setup(maxevents, ctxp);
}

EXPORT int io_queue_release(void *id)
{
	return io_destroy(id);
}

/* libaio's callback convention: the iocb's data is the function to call. */
typedef void (*io_callback_t)(void *ctx, struct iocb *iocb, long res, long res2);

EXPORT int io_queue_run(void *id)
{
	struct timespec zero = {0, 0};
	struct io_event ev;
	int ran = 0, r;

	if (lookup(id) == NULL)
		return -EINVAL;
	while ((r = (int)get_events(id, 0, 1, &ev, &zero, NULL)) > 0) {
		io_callback_t cb = (io_callback_t)(uintptr_t)ev.data;

		if (cb)
			cb(id, (struct iocb *)(uintptr_t)ev.obj, (long)ev.res, (long)ev.res2);
		ran++;
	}
	return r < 0 ? r : ran;
}

EXPORT int io_queue_wait_0_4(void *id, struct timespec *timeout);
EXPORT int io_queue_wait_0_4(void *id, struct timespec *timeout)
{
	return (int)get_events(id, 0, 0, NULL, timeout, NULL);
}

/*
 * Versioned names, as libaio has them: the 0.4 calls are the defaults, and
 * the 0.1 entry points stay for programs linked long ago.
 */
__asm__(".symver io_cancel_0_4,io_cancel@@LIBAIO_0.4");
__asm__(".symver io_getevents_0_4,io_getevents@@LIBAIO_0.4");
__asm__(".symver io_queue_wait_0_4,io_queue_wait@@LIBAIO_0.4");
EXPORT int io_getevents_0_1(void *id, long nr, struct io_event *events, const struct timespec *timeout);
EXPORT int io_getevents_0_1(void *id, long nr, struct io_event *events, const struct timespec *timeout)
{
	return (int)get_events(id, 1, nr, events, timeout, NULL);
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
	return (int)get_events(id, 0, 0, NULL, timeout, NULL);
}
__asm__(".symver io_queue_wait_0_1,io_queue_wait@LIBAIO_0.1");
