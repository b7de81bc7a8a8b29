/*
 * The request table: one slot per event the ring has room for, a free
 * list, each slot's state; and the ring's room, accounted as the kernel
 * does it (in flight plus unreaped never past capacity; with
 * AIORING_SETUP_KERNEL_REQS also fs/aio.c's per-CPU batches).
 */
#ifndef AIOR_REQUESTS_H
#define AIOR_REQUESTS_H

#include <pthread.h>
#include <stdint.h>
#include <linux/aio_abi.h>
#include <sys/uio.h>

struct aior_ctx;

enum req_state { REQ_FREE, REQ_QUEUED, REQ_RUNNING, REQ_KERNEL };

struct aior_req {
	struct iocb cb;            /* the caller's iocb, copied; the kernel gets this one */
	const struct iocb *user;   /* the caller's iocb: echoed as io_event.obj */
	int user_resfd;            /* the caller's IOCB_FLAG_RESFD eventfd, or -1 */
	struct iovec *iov;         /* copy of a vectored request's iovecs */
	int32_t file;              /* io_uring: the fixed-file slot it runs on, or -1 (its aio_fildes) */
	enum req_state state;
	uint32_t cpu;              /* where it was submitted (AIORING_SETUP_KERNEL_REQS) */
	struct aior_req *next;     /* free list, or the pool's queue */
	uint64_t queued_ns;        /* a sync given to io_uring: when it was queued (its record's start) */
};

/*
 * fs/aio.c's request accounting (AIORING_SETUP_KERNEL_REQS): nr - 1
 * requests, handed to CPUs req_batch at a time; a CPU whose cache is empty
 * takes a batch from the global count, or fails; completions give back the
 * events that have left the ring since. The kernel gives them back to the
 * completing CPU, which for the reads it finishes inside io_submit is the
 * submitting one; here they go to the CPU that submitted the request,
 * whichever thread completes it.
 */
struct kernel_reqs {
	uint32_t batch;            /* req_batch */
	uint32_t global;           /* reqs_available */
	uint32_t *cpu;             /* kioctx_cpu.reqs_available, per possible CPU */
	uint32_t ncpus;
	uint32_t completed;        /* completed_events */
};

/*
 * Owned by requests.c, everything under lock except inflight (read
 * without it) and the state of a request with the kernel (the mover
 * reads it without the lock: request_with_kernel).
 */
struct aior_requests {
	pthread_mutex_t lock;      /* the table and the accounting; the pool's queue too */
	pthread_cond_t idle;       /* broadcast whenever requests complete */
	struct aior_req *table;    /* ctx->capacity slots */
	struct aior_req *free_list;
	uint32_t accepted;         /* requests accepted: free-running (v2), mod nr (legacy) */
	uint32_t inflight;         /* atomic: submitted, not yet completed into the ring */
	struct kernel_reqs *kreqs; /* AIORING_SETUP_KERNEL_REQS, else NULL */
};

static inline int iocb_is_vectored(uint16_t op)
{
	return op == IOCB_CMD_PREADV || op == IOCB_CMD_PWRITEV;
}

/*
 * After the ring is set up: count what an adopted ring already holds as
 * accepted and allocate the table. -EAGAIN when the ring is already full
 * of unreaped events, -ENOMEM.
 */
int requests_setup(struct aior_ctx *ctx);
void requests_release(struct aior_ctx *ctx);

/* The rest is called with lock held. */

/* Requests the ring can still take. */
uint32_t requests_available(struct aior_ctx *ctx);
/*
 * Whether a v2 ring's shared head was forged: more occupies the ring by
 * it than was ever accepted (head past tail, or more than entries behind).
 * Always 0 for the legacy ring, whose head is clamped as the kernel's.
 */
int requests_corrupt(struct aior_ctx *ctx);
/* The CPU a submit's requests are accounted to (0 without kernel accounting). */
uint32_t requests_cpu(const struct aior_ctx *ctx);
/*
 * Take a slot for the caller's iocb (copied, vectors too) and count it in
 * flight: 0 and *req, or -EAGAIN (the CPU's batch is out) or -ENOMEM.
 */
int request_take(struct aior_ctx *ctx, struct iocb *user, uint32_t cpu, struct aior_req **req);
/* A request taken but not started: as if never submitted. */
void request_give_back(struct aior_ctx *ctx, struct aior_req *req);
/* A completing request's slot back to the free list (its event not yet published). */
void request_put(struct aior_ctx *ctx, struct aior_req *req);
/* n requests submitted on cpu have been published: no longer in flight. */
void requests_completed(struct aior_ctx *ctx, uint32_t cpu, uint32_t n);
/* Whether a request for the caller's iocb is in flight. */
int requests_busy(const struct aior_ctx *ctx, const struct iocb *user);

/* Without the lock. */

/*
 * The request an event from the kernel's ring names, or NULL: that ring
 * lives in memory this process can write, so obj is checked to name one
 * of our requests with the kernel before use.
 */
struct aior_req *request_with_kernel(struct aior_ctx *ctx, uint64_t obj);
void request_set_state(struct aior_req *req, enum req_state state);
/* Wait until nothing is in flight. */
void requests_wait_idle(struct aior_ctx *ctx);

#endif
