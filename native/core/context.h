/*
 * A context's private state, one part per layer. Everything here is
 * trusted; the ring's shared words are not.
 *
 * The layers, each calling only those below it (never up, never around
 * in a loop):
 *
 *   engine.c          setup, submit (routing), cancel, quiesce, destroy
 *   engine_helper.c   backend: the read helper thread (hands the pool what would block)
 *   engine_pool.c     backend: the thread pool
 *   engine_kernel.c   backend: kernel AIO and the mover thread
 *   engine_uring.c    backend: io_uring (liburing), served by the mover
 *
 * The pool's, the read helper's and the mover's threads are the process's,
 * shared by every context (one pool, one read helper, one mover); each
 * context has its own part of the backend's state below. The io_uring
 * backend has one ring per context, its eventfd in the mover's epoll.
 *   completion.c      events into the context's ring, waking waiters
 *   requests.c        the request table and the ring's room
 *   io_exec.c         one request run on the calling thread
 *   legacy_ring.c, v2_ring.c, ring_memory.c, system_info.c, ring_error.c
 *
 * The pool and the kernel backend do not call each other; the pool never
 * calls the helper.
 *
 * The backend boundary, the same for every backend (a new one, as an
 * io_uring backend, plugs in with these four and a part of its own here):
 *   start(ctx, ...)   join the process's backend; its threads start
 *                     lazily, with the first work of any context
 *   submit(ctx, ...)  take requests, with reqs.lock held; never block
 *   stop(ctx)         what the context holds completes or is cancelled
 *                     (its own only: other contexts' work goes on); after
 *                     it returns no backend thread touches the context
 *   release(ctx)      leave; the last context out joins the threads
 * Completions go through completion.c; no backend calls engine.c.
 */
#ifndef AIOR_CONTEXT_H
#define AIOR_CONTEXT_H

#include <stddef.h>
#include <stdint.h>
#include "completion.h"
#include "engine.h"
#include "engine_helper.h"
#include "engine_kernel.h"
#include "engine_pool.h"
#include "engine_uring.h"
#include "requests.h"
#include "ring_memory.h"

struct aior_ctx {
	/* set by aior_setup, read-only after */
	uint32_t flags;
	int is_v2;
	enum aior_backend_mode mode;
	void *ring;
	size_t ring_len;
	struct ring_memory mem;    /* mapped by us, or addr NULL for caller memory */
	uint32_t nr;               /* legacy nr or v2 entries: trusted */
	uint32_t capacity;
	struct aior_control *control;

	int stopping;              /* set once by aior_quiesce, under reqs.lock; read with acquire */
	/*
	 * auto with aior_setup.prefer_uring where io_uring works: io_uring
	 * serves what the pool would, syncs aside (and O_DIRECT where io_setup failed), its
	 * ring made at the first such request (route_of, under reqs.lock);
	 * cleared there if that failed, and the pool serves it from then on.
	 */
	int uring_auto;
	int uring_refused;         /* auto: errno of the process's io_uring probe, where refused */
	/*
	 * The direct route (aior_direct_start): set before the context's first
	 * request, kept only if its kernel context could be made, and from
	 * then on for good; every request goes to that kernel context as the
	 * caller's own iocb.
	 */
	int direct;

	struct aior_completion completion;  /* completion.c */
	struct aior_requests reqs;          /* requests.c */
	struct aior_pool pool;              /* engine_pool.c */
	struct aior_kernel kernel;          /* engine_kernel.c */
	struct aior_helper_ctx helper;      /* engine_helper.c */
	struct aior_uring uring;            /* engine_uring.c */
};

#endif
