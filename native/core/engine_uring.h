/*
 * The io_uring backend (liburing, linked statically): every request of a
 * context in AIOR_BACKEND_URING mode becomes one SQE whose user_data is its
 * request slot. The ring's own descriptor, readable while its CQ holds
 * events, joins the process's one mover's epoll (engine_kernel.h,
 * aior_mover_join), so a context costs one descriptor: the mover takes
 * the CQ in batches and completes each batch into the context's own ring
 * (legacy or v2) in one pass over the locks; a submitter takes what
 * io_uring finished inside io_uring_enter (cached reads) itself, with no
 * thread hop. No thread is the context's own. Built only where liburing was found
 * at build time (AIORING_HAVE_URING); elsewhere each call says ENOSYS.
 */
#ifndef AIOR_ENGINE_URING_H
#define AIOR_ENGINE_URING_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/aio_abi.h>
#include "engine_kernel.h"

struct aior_ctx;
struct aior_req;

/* The most buffers a context registers with io_uring as fixed buffers. */
#define URING_MAX_FIXED 64
/* The slots of a context's sparse file table (io_uring fixed files). */
#define URING_MAX_FILES 256

#ifdef AIORING_HAVE_URING
#include <liburing.h>

/*
 * Owned by engine_uring.c. ring and link are set by aior_uring_start
 * and read-only until aior_uring_release. The SQ is written only under
 * reqs.lock (every submit holds it); the CQ is read only under cq_lock.
 */
struct aior_uring {
	int started;
	int error;                 /* errno io_uring_setup failed with, 0 if it did not */
	struct io_uring ring;
	pthread_mutex_t cq_lock;   /* one reaper of the CQ at a time */
	struct aior_mover_link link;  /* the ring's descriptor in the mover's epoll */
	uint32_t queued;           /* SQEs prepared, not yet given to io_uring_enter (reqs.lock) */
	uint32_t hot;              /* requests complete inside io_uring_enter: one enter per submit (reqs.lock) */
	uint32_t hot_run;          /* requests in a row that did, while not hot (reqs.lock) */
	const struct aior_req *last;  /* the request queued last (reqs.lock): a hot batch's last SQE */
	uint32_t consumer_polls;   /* atomic: a waiter polls the descriptor and reaps itself (aior_uring_consumer_polls) */
	/* fixed buffers: what aior_uring_register_buffers registered, by index (reqs.lock) */
	struct iovec fixed[URING_MAX_FIXED];
	uint32_t nfixed;
	/*
	 * Fixed files (reqs.lock): the sparse table is registered at the first
	 * aior_uring_register_file; files[i] is the descriptor slot i was
	 * registered from, URING_FILE_FREE or URING_FILE_LOST (an update the
	 * kernel refused: never reused). A slot holds the file, not the number:
	 * only requests their submitter marked (aior_req.file) use it.
	 */
	int files_table;           /* the sparse table is registered */
	int files_error;           /* errno registering it failed with (then never again) */
	int32_t files[URING_MAX_FILES];
	uint32_t nfiles;           /* slots holding a file */
	uint64_t fixed_requests;   /* SQEs prepared with IOSQE_FIXED_FILE */
};
#else
struct aior_uring {
	int started;
	int error;
};
#endif

/* What a context's file table holds (aior_file_stats). */
struct aior_uring_files {
	uint32_t registered;       /* slots holding a file */
	uint32_t capacity;         /* URING_MAX_FILES, or 0 without io_uring */
	uint64_t fixed_requests;   /* requests that ran on a registered file */
	int error;                 /* errno the sparse table's registration failed with, 0 */
};

#ifdef AIORING_HAVE_URING
/* Whether io_uring can be set up in this process: 0, or a negative errno. */
int aior_uring_probe(void);
/* The ring (its CQ sized for every request the context can hold), its descriptor in the mover's epoll. */
int aior_uring_start(struct aior_ctx *ctx);
/*
 * One request into the SQ, with reqs.lock held (io_uring_enter when the SQ
 * is full): 0, or -EAGAIN with the request still the caller's.
 */
int aior_uring_queue(struct aior_ctx *ctx, struct aior_req *req);
/* Give the SQ to the kernel, with reqs.lock held. */
void aior_uring_flush(struct aior_ctx *ctx);
/* A consumer polls the ring's descriptor itself while it waits (aior_uring_consumer_polls). */
void aior_uring_mark_polled(struct aior_ctx *ctx);
/* Move what the CQ holds into the context's ring now (after any reaper already at it). */
void aior_uring_reap(struct aior_ctx *ctx);
/*
 * IORING_OP_ASYNC_CANCEL, synchronously: 0 when io_uring cancelled it (its
 * -ECANCELED event comes through the ring), -EAGAIN when it is running,
 * -EINVAL when no such request is in flight.
 */
int aior_uring_cancel(struct aior_ctx *ctx, const struct iocb *iocb);
/*
 * Register n buffers as fixed buffers (replacing what was registered):
 * a read or write that lies inside one becomes READ_FIXED / WRITE_FIXED.
 */
int aior_uring_register_buffers(struct aior_ctx *ctx, const struct iovec *iov, uint32_t n);
/*
 * Register the file descriptor fd names now into a free slot of the
 * context's sparse file table: the slot, or -ENFILE (the table is full),
 * -EAGAIN (SQEs wait in the SQ, which could name a reused slot: try
 * again), -EBADF, or the errno the table's registration failed with.
 */
int aior_uring_register_file(struct aior_ctx *ctx, int fd);
/* Empty a slot (requests in flight on it keep the file until they end): 0 or -EINVAL. */
int aior_uring_unregister_file(struct aior_ctx *ctx, int slot);
/* Whether slot holds a file registered from fd (reqs.lock held): then a request may name it. */
int aior_uring_names_file(const struct aior_ctx *ctx, int slot, int fd);
void aior_uring_files(struct aior_ctx *ctx, struct aior_uring_files *out);
/* The ring's descriptor, readable while its CQ holds events, or -1 without a ring. */
int aior_uring_pollfd(const struct aior_ctx *ctx);
/* For a consumer that woke on it: move the CQ now. */
void aior_uring_take(struct aior_ctx *ctx);
/* Cancel polls, wait for everything else to complete into the ring, leave the mover's epoll. */
void aior_uring_stop(struct aior_ctx *ctx);
/* Then close the ring. */
void aior_uring_release(struct aior_ctx *ctx);
#else
static inline int aior_uring_probe(void)
{
	return -ENOSYS;
}
static inline int aior_uring_start(struct aior_ctx *ctx)
{
	(void)ctx;
	return -ENOSYS;
}
static inline int aior_uring_queue(struct aior_ctx *ctx, struct aior_req *req)
{
	(void)ctx;
	(void)req;
	return -ENOSYS;
}
static inline void aior_uring_flush(struct aior_ctx *ctx)
{
	(void)ctx;
}
static inline void aior_uring_reap(struct aior_ctx *ctx)
{
	(void)ctx;
}
static inline void aior_uring_mark_polled(struct aior_ctx *ctx)
{
	(void)ctx;
}
static inline int aior_uring_cancel(struct aior_ctx *ctx, const struct iocb *iocb)
{
	(void)ctx;
	(void)iocb;
	return -EINVAL;
}
static inline int aior_uring_register_buffers(struct aior_ctx *ctx, const struct iovec *iov, uint32_t n)
{
	(void)ctx;
	(void)iov;
	(void)n;
	return 0;
}
static inline int aior_uring_register_file(struct aior_ctx *ctx, int fd)
{
	(void)ctx;
	(void)fd;
	return -EOPNOTSUPP;
}
static inline int aior_uring_unregister_file(struct aior_ctx *ctx, int slot)
{
	(void)ctx;
	(void)slot;
	return -EINVAL;
}
static inline int aior_uring_names_file(const struct aior_ctx *ctx, int slot, int fd)
{
	(void)ctx;
	(void)slot;
	(void)fd;
	return 0;
}
static inline void aior_uring_files(struct aior_ctx *ctx, struct aior_uring_files *out)
{
	(void)ctx;
	*out = (struct aior_uring_files){0, 0, 0, 0};
}
static inline int aior_uring_pollfd(const struct aior_ctx *ctx)
{
	(void)ctx;
	return -1;
}
static inline void aior_uring_take(struct aior_ctx *ctx)
{
	(void)ctx;
}
static inline void aior_uring_stop(struct aior_ctx *ctx)
{
	(void)ctx;
}
static inline void aior_uring_release(struct aior_ctx *ctx)
{
	(void)ctx;
}
#endif

#endif
