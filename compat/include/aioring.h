/*
 * aioring.h: for C programs that want the new-semantics (v2) ring
 * explicitly, beside the libaio ABI that the drop-in library provides.
 *
 * Link with the drop-in library (or LD_PRELOAD it). A context made with
 * aioring_setup2 is used with the ordinary libaio calls (io_submit,
 * io_getevents, io_destroy).
 */
#ifndef AIORING_H
#define AIORING_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Setup flags. Only AIORING_SETUP_V2 selects the v2 ring. Bits 2, 3 and 5
 * are the Node library's own (native/core/abi.h).
 */
#define AIORING_SETUP_V2          (1u << 0)
/* Legacy only: the context's ring is the kernel's own (passthrough). */
#define AIORING_SETUP_KERNEL_RING (1u << 1)
/*
 * Count requests as the kernel's context does, per CPU in batches, so
 * io_submit says EAGAIN exactly where the kernel's would. A v2 ring then
 * takes what the kernel's ring for nr_events takes (its size stays a power
 * of two). Not with AIORING_SETUP_KERNEL_RING.
 */
#define AIORING_SETUP_KERNEL_REQS (1u << 4)
/*
 * Buffered (not O_DIRECT) reads and writes complete when they complete,
 * after io_submit has returned, instead of inside it as the kernel's do.
 * For the whole program: AIORING_ASYNC_BUFFERED=1. A v2 ring records it
 * in its header's setup flags.
 */
#define AIORING_SETUP_ASYNC_BUFFERED (1u << 6)

/* Feature bits aioring_features reports. */
#define AIORING_FEATURE_V2        (1u << 0)
#define AIORING_FEATURE_KERNEL    (1u << 1)   /* kernel AIO works here */
#define AIORING_FEATURE_THREADS   (1u << 2)   /* the thread pool backend */
#define AIORING_FEATURE_MEMORY    (1u << 3)   /* caller-supplied ring memory */
#define AIORING_FEATURE_ASYNC_BUFFERED (1u << 4) /* AIORING_SETUP_ASYNC_BUFFERED */
#define AIORING_FEATURE_URING     (1u << 5)   /* io_uring works here (AIORING_BACKEND=uring) */

/* The v2 ring's header magic and incompat bit, for readers. */
#define AIORING_V2_MAGIC          0xa10a10a2u
#define AIORING_INCOMPAT_V2       (1u << 0)

struct aioring_memory {
	void *addr;      /* the caller's memory (v2 only; 8-byte aligned, 64 advised) */
	unsigned long len;
};

/*
 * Like io_setup(nr_events, ctxp), with flags (an unknown bit is -EINVAL)
 * and, optionally, the memory the ring lives in (NULL: anonymous memory).
 * Returns 0 or a negative errno.
 */
int aioring_setup2(unsigned nr_events, unsigned flags, const struct aioring_memory *memory,
		   void **ctxp);

/* What this library and this machine support (AIORING_FEATURE_* bits). */
unsigned aioring_features(void);

#ifdef __cplusplus
}
#endif

#endif
