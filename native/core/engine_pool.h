/*
 * The thread pool backend: one pool per process, shared by every context.
 * Workers run requests with the ordinary syscalls and complete them into
 * their context's ring themselves. Used for buffered files, whose kernel
 * AIO would run synchronously inside io_submit, and whenever io_setup is
 * unavailable.
 *
 * Workers start when work is queued and none is idle (at most
 * AIOR_POOL_MAX_WORKERS), leave after AIOR_POOL_IDLE_MS idle, and all are
 * joined when the last context using the pool is released. Fairness: the
 * contexts with queued work wait in one round-robin list, a worker takes
 * one request from the first and puts it back at the end, and no context
 * occupies more workers at once than its own limit (aior_setup's threads):
 * a busy context cannot starve the others, and a limit of 1 keeps a
 * context's requests in submission order.
 *
 * Group commit (AIORING_RWF_GROUP): per context and descriptor at most one
 * grouped sync is queued or running at a time. A grouped sync call made
 * while none is becomes that sync; one made while one is waits, and all
 * that wait are served together by the next sync, which the worker whose
 * sync ended starts itself, with no trip back through the caller. A
 * grouped write runs its write first and waits for a sync only once the
 * write has completed (starting one itself, on its worker, when none is
 * running). A small grouped write submitted while its descriptor's sync
 * runs wakes no worker: the thread of that sync runs it once the sync has
 * ended, then the next sync for it and the calls that waited. So every
 * sync starts after every write it covers completed (its waiters joined
 * before it took them), and a waiting call holds no worker. With a limit
 * of 1 (submission order) a grouped write runs with a sync of its own and
 * a grouped sync alone, as ungrouped ones.
 *
 * Polls hold no worker and count against no limit: they wait in the poll
 * service, one thread for the process over every pending poll. When no
 * worker is alive and none can start (RLIMIT_NPROC), the submitting
 * thread runs the request, as the kernel runs buffered I/O in io_submit.
 */
#ifndef AIOR_ENGINE_POOL_H
#define AIOR_ENGINE_POOL_H

#include <stdint.h>
#include <linux/aio_abi.h>
#include "engine.h"

struct aior_ctx;
struct aior_req;

/* Workers in the process at most. */
#define AIOR_POOL_MAX_WORKERS 64
/* How long a worker waits for work before it leaves. */
#define AIOR_POOL_IDLE_MS 1000

/* Descriptors a context may have grouped syncs queued or running for at once; past that a sync runs alone. */
#define AIOR_POOL_GROUPS 8

/* A descriptor's group commit, under the pool lock. */
struct aior_sync_group {
	int used;
	int32_t fd;
	int running;                               /* a grouped sync of fd is queued or running */
	int full;                                  /* a waiting call asked for fsync */
	struct aior_req *head, *tail;              /* waiting for the next sync, in arrival order */
	struct aior_req *writes, *writes_tail;     /* grouped writes left for the running sync's thread */
	/* the commit delay: who the last sync served, and how long they take to come back */
	uint32_t arrivals;                         /* calls that joined the group */
	uint32_t mark, expect;                     /* arrivals when the last sync's calls were completed; how many it served */
	uint64_t done_ns;                          /* when they were (0: none yet) */
	uint64_t turn_ns;                          /* average time for all of them to be back (0: not measured) */
	uint64_t sync_ns;                          /* average length of its syncs */
	int delaying;                              /* its sync's thread waits on pool.joined */
};

/*
 * A context's part of the pool, owned by engine_pool.c: every field is
 * under the process-wide pool lock, but limit (set by aior_pool_start).
 */
struct aior_pool {
	uint32_t limit;                            /* workers it may occupy at once; 0: no pool */
	uint32_t generation;                       /* the pool's (see fork) when it started */
	struct aior_req *queue_head, *queue_tail;  /* queued, in submission order */
	uint32_t queued;
	uint32_t active;                           /* workers (or submitters) running its requests */
	uint32_t polling;                          /* its polls in the poll service, or being completed there */
	int linked, stopping;
	struct aior_ctx *prev, *next;              /* the ready list */
	struct aior_sync_group groups[AIOR_POOL_GROUPS];
	/* the syncs the workers ran (aior_syncs), under reqs.lock */
	uint64_t fsyncs, fdatasyncs;
	uint64_t delays;                           /* syncs whose start was held for callers to come back (pool lock) */
	struct aior_sync_record syncs[AIOR_SYNC_RECORDS];  /* a ring: sync k at k % AIOR_SYNC_RECORDS */
};

/* Join the pool with a limit of threads workers at once; 0, or a negative errno. */
int aior_pool_start(struct aior_ctx *ctx, uint32_t threads);
/*
 * Queue a request for the workers, or a poll for the poll service; called
 * with reqs.lock held. 0; AIOR_POOL_RUN_HERE when no worker is alive to
 * run it (the caller calls aior_pool_run_here once it has dropped
 * reqs.lock); or -EAGAIN when the poll service cannot start (the request
 * was not taken).
 */
#define AIOR_POOL_RUN_HERE 1
int aior_pool_submit(struct aior_ctx *ctx, struct aior_req *req);
/* Run the context's queued requests on the calling thread while no worker is alive. */
void aior_pool_run_here(struct aior_ctx *ctx);
/* Take a request still queued for the caller's iocb off the queue, or NULL; with reqs.lock held. */
struct aior_req *aior_pool_cancel(struct aior_ctx *ctx, const struct iocb *user);
/*
 * Take the caller's pending poll for this iocb out of the poll service, or
 * NULL; the caller completes it. With reqs.lock held.
 */
struct aior_req *aior_pool_cancel_poll(struct aior_ctx *ctx, const struct iocb *user);
/*
 * Queued requests and pending polls complete with -ECANCELED; the
 * context's running ones finish (other contexts' are not waited for). No
 * worker, and not the poll service, touches the context after it returns.
 */
void aior_pool_stop(struct aior_ctx *ctx);
/* Leave the pool; the last context out joins every worker. */
void aior_pool_release(struct aior_ctx *ctx);
/* Workers alive in the process now. */
uint32_t aior_pool_workers(void);

#endif
