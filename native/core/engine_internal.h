/*
 * The context's private state, shared by engine.c and its two backends.
 * Everything here is trusted; the ring's shared words are not.
 */
#ifndef AIORING_ENGINE_INTERNAL_H
#define AIORING_ENGINE_INTERNAL_H

#include <pthread.h>
#include <linux/aio_abi.h>
#include <sys/uio.h>
#include "engine.h"
#include "legacy_ring.h"
#include "ring_memory.h"
#include "v2_ring.h"

enum req_state { REQ_FREE, REQ_QUEUED, REQ_RUNNING, REQ_KERNEL };

struct aior_req {
	struct iocb cb;            /* the caller's iocb, copied; the kernel gets this one */
	const struct iocb *user;   /* the caller's iocb: echoed as io_event.obj */
	int user_resfd;            /* the caller's IOCB_FLAG_RESFD eventfd, or -1 */
	struct iovec *iov;         /* copy of a vectored request's iovecs */
	enum req_state state;
	uint32_t cpu;              /* where it was submitted (AIORING_SETUP_KERNEL_REQS) */
	struct aior_req *next;     /* free list, or the pool's queue */
};

/*
 * fs/aio.c's request accounting (AIORING_SETUP_KERNEL_REQS), under
 * ctx->lock: nr - 1 requests, handed to CPUs req_batch at a time; a CPU
 * whose cache is empty takes a batch from the global count, or fails;
 * completions give back the events that have left the ring since. The
 * kernel gives them back to the completing CPU, which for the reads it
 * finishes inside io_submit is the submitting one; here they go to the CPU
 * that submitted the request, whichever thread completes it.
 */
struct kernel_reqs {
	uint32_t batch;            /* req_batch */
	uint32_t global;           /* reqs_available */
	uint32_t *cpu;             /* kioctx_cpu.reqs_available, per possible CPU */
	uint32_t ncpus;
	uint32_t completed;        /* completed_events */
};

/* A small page beside the ring: where a legacy-ring waiter announces itself. */
struct aior_control {
	uint32_t wait_flags;
	uint32_t wakeups;
};

struct aior_ctx {
	uint32_t flags;
	int is_v2;
	enum aior_backend_mode mode;

	/* ring */
	void *ring;
	size_t ring_len;
	struct ring_memory mem;    /* mapped by us, or addr NULL for caller memory */
	uint32_t nr;               /* legacy nr or v2 entries: trusted */
	uint32_t capacity;
	struct aior_control *control;
	uint32_t *wait_flags;

	/*
	 * Producers (pool workers, the kernel mover) take completion_lock, as
	 * aio_complete takes the kernel's, so the producer state stays private:
	 * nothing a consumer writes to the ring can steer where events go.
	 */
	pthread_mutex_t completion_lock;
	struct legacy_producer legacy;
	struct v2_producer v2;
	uint32_t lost;             /* events dropped: the consumer corrupted head */
	uint32_t inflight;         /* atomic */
	uint32_t accepted;         /* requests accepted: free-running (v2), mod nr (legacy); under lock */

	void (*wake)(void *);
	void *wake_arg;

	/* requests */
	struct kernel_reqs *kreqs; /* AIORING_SETUP_KERNEL_REQS, else NULL */
	pthread_mutex_t lock;      /* free list, queue, states */
	struct aior_req *reqs;
	struct aior_req *free_list;
	int stopping;

	/* thread pool */
	pthread_cond_t work;
	pthread_cond_t idle;
	struct aior_req *queue_head, *queue_tail;
	pthread_t *threads;
	uint32_t nthreads;

	/* kernel backend */
	aio_context_t kctx;
	int kernel_error;
	int eventfd;               /* the kernel signals it per completion (RESFD) */
	struct legacy_consumer kring;
	pthread_t mover;
	int mover_running;
	int waits_on_kernel_fd;    /* aior_setup's: no watcher in passthrough */
	int mover_stop;
	pthread_mutex_t kring_lock;  /* one reaper of the kernel's ring at a time */
	uint32_t service_calls;      /* consumers' aior_service calls (atomic) */
	uint32_t service_seen;       /* the mover's last look at service_calls */

	/* the read helper (engine_helper.c), or NULL */
	struct aior_helper *helper;
};

/* engine.c */
void aior_complete(struct aior_ctx *ctx, struct aior_req *req, int64_t res, int64_t res2);
/* Several at once: one pass over the locks (res2 may be NULL: all 0). */
void aior_complete_many(struct aior_ctx *ctx, struct aior_req **reqs, const int64_t *res,
			const int64_t *res2, int n);
/* Ring the embedder's wake callback if a waiter announced itself. */
void aior_wake_waiters(struct aior_ctx *ctx);

/* engine_pool.c */
int aior_pool_start(struct aior_ctx *ctx, uint32_t threads);
void aior_pool_enqueue(struct aior_ctx *ctx, struct aior_req *req);
void aior_pool_stop(struct aior_ctx *ctx);
int64_t aior_execute(struct aior_ctx *ctx, struct aior_req *req);

/*
 * A read without blocking (RWF_NOWAIT): its result when the page cache held
 * all of it (or it failed in a way the event carries), AIOR_NOWAIT_DEFER
 * when the pool must run it, or -EBADF.
 */
#define AIOR_NOWAIT_DEFER INT64_MIN
int64_t aior_try_nowait(struct aior_req *req);

/* engine_helper.c: a second CPU for large runs of cached reads */
#define AIOR_HELPER_QUEUE   64   /* requests handed over and not yet taken */
#define AIOR_HELPER_MIN_RUN 8    /* smaller runs are served by the submitter alone */
/* Allocate the helper (its thread starts with the first large run); 0 or -ENOMEM. */
int aior_helper_setup(struct aior_ctx *ctx);
/*
 * Hand the helper the last of a run of n reads the submitter has not
 * started: returns how many it took (0 when busy elsewhere, stopped, or the
 * run is small). Their fds must have been seen valid in this submit.
 */
int aior_helper_give(struct aior_ctx *ctx, struct aior_req **reqs, int n);
/* Serve what was handed over, join the thread; no more handoffs after. */
void aior_helper_stop(struct aior_ctx *ctx);
void aior_helper_free(struct aior_ctx *ctx);

/* engine_kernel.c */
int aior_kernel_start(struct aior_ctx *ctx, uint32_t nr_events);
/* io_submit a run of requests; how many it took, or a negative errno. */
long aior_kernel_submit_reqs(struct aior_ctx *ctx, struct aior_req **reqs, long n);
/* Reap the kernel's ring into the context's now, unless the mover is at it. */
void aior_kernel_move(struct aior_ctx *ctx);
/* passthrough: the caller's iocbs straight to io_submit */
long aior_kernel_submit_batch(struct aior_ctx *ctx, struct iocb **iocbs, long n);
/* Bring in what the kernel holds (moved mode) and stop the mover thread. */
void aior_kernel_stop_threads(struct aior_ctx *ctx);
/* Then io_destroy: the kernel's ring is unmapped. */
void aior_kernel_release(struct aior_ctx *ctx);

#endif
