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
 *   engine_kernel.c   backend: kernel AIO and its mover thread
 *   engine_uring.c    backend: io_uring (liburing) and its reaper thread
 *   completion.c      events into the context's ring, waking waiters
 *   requests.c        the request table and the ring's room
 *   io_exec.c         one request run on the calling thread
 *   legacy_ring.c, v2_ring.c, ring_memory.c, system_info.c, ring_error.c
 *
 * The pool and the kernel backend do not call each other; the pool never
 * calls the helper. A backend is started, given requests, stopped (what it
 * holds completes or is cancelled, its threads are joined) and released.
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

struct aior_helper;

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

	struct aior_completion completion;  /* completion.c */
	struct aior_requests reqs;          /* requests.c */
	struct aior_pool pool;              /* engine_pool.c */
	struct aior_kernel kernel;          /* engine_kernel.c */
	struct aior_helper *helper;         /* engine_helper.c, or NULL */
	struct aior_uring uring;            /* engine_uring.c */
};

#endif
