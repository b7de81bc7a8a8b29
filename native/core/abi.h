/*
 * The constants the C core shares with the addon and TypeScript that are
 * not part of the public C header: each is defined once, here or in
 * compat/include/aioring.h (the public subset, included first), and
 * src/abi.ts holds each under the same name. Layout constants (magics,
 * feature bits, offsets) are in layout.h, beside the structs they describe.
 */
#ifndef AIOR_ABI_H
#define AIOR_ABI_H

#include "aioring.h"

/* Setup flags beside aioring.h's public ones. */
/* This process will not reap from the ring itself (flaw F6). */
#define AIORING_SETUP_NO_USER_REAP   (1u << 2)
/* Never try buffered reads inline (RWF_NOWAIT) before the pool runs them. */
#define AIORING_SETUP_NO_INLINE      (1u << 3)
/*
 * Serve large runs of cached reads on the submitting thread only. By
 * default, with two CPUs or more and a pool of two threads or more, a
 * helper thread takes part of each run of 8 or more (engine_helper.c).
 */
#define AIORING_SETUP_NO_READ_HELPER (1u << 5)
#define AIORING_SETUP_ALL            ((1u << 7) - 1)

/* The most pool threads a context may ask for. */
#define AIORING_MAX_THREADS          64
/*
 * How often a claim, a multi-producer reserve or a lease snapshot looks
 * again at indices that stay impossible before it calls the ring corrupt
 * (-EUCLEAN): others moving them meanwhile explains a few stale reads.
 */
#define AIORING_CLAIM_RETRIES        4096
/* iocb.aio_reserved2 naming registered buffer j is AIORING_REGISTERED_BUFFER | j. */
#define AIORING_REGISTERED_BUFFER    0x80000000u

/*
 * The kernel's limit on a legacy ring's doubled request count, in bytes of
 * events (fs/aio.c ioctx_alloc): more is -EINVAL.
 */
#define AIORING_LEGACY_MAX_EVENTS_BYTES 0x10000000u
/* Caller-supplied ring memory is at least this aligned (64 keeps head and tail on lines of their own). */
#define AIORING_MEMORY_ALIGN         8u
/* Spins of a multi-producer publish waiting for its predecessor before it yields the CPU. */
#define AIORING_PUBLISH_SPINS        1024
/*
 * How long, by default, a multi-producer publish waits for the
 * reservations before its own to be published before it gives up with
 * ETIMEDOUT: a producer that died between reserve and publish would
 * otherwise stall it for ever.
 */
#define AIORING_PUBLISH_TIMEOUT_MS   10000

/* Backend names, as the addon and the options take them. */
#define AIORING_BACKEND_AUTO         "auto"
#define AIORING_BACKEND_KERNEL       "kernel"
#define AIORING_BACKEND_THREADPOOL   "threadpool"
#define AIORING_BACKEND_KERNEL_RING  "kernel-ring"
#define AIORING_BACKEND_URING        "uring"

#endif
