/*
 * The read helper: a second CPU for large runs of cached reads, one thread
 * for the whole process. It serves what it is handed with RWF_NOWAIT and
 * gives what would block to the pool (which never calls back into the
 * helper). engine_helper.c says how.
 */
#ifndef AIOR_ENGINE_HELPER_H
#define AIOR_ENGINE_HELPER_H

#include <stdint.h>

struct aior_ctx;
struct aior_req;

/* Smaller runs are served by the submitter alone. */
#define AIOR_HELPER_MIN_RUN 8

/* A context's part, owned by engine_helper.c. */
struct aior_helper_ctx {
	int user;                  /* counted in the helper's users: from start to release */
	int enabled;               /* handoffs allowed: set by start, cleared by stop (under the producer lock) */
	uint32_t pending;          /* atomic: handed over, not yet served or deferred */
	uint64_t served;           /* read by aior_helper_reads, relaxed */
};

/*
 * Let the context use the helper when it can (the thread starts with the
 * first large run of any context); 0. After the pool has started.
 */
int aior_helper_start(struct aior_ctx *ctx);
/*
 * Hand the helper the last of a run of n reads the submitter has not
 * started: returns how many it took (0 when busy elsewhere, stopped, or the
 * run is small). Their fds must have been seen valid in this submit.
 */
int aior_helper_give(struct aior_ctx *ctx, struct aior_req **reqs, int n);
/*
 * No more handoffs for the context; what it handed over is served or given
 * to the pool before this returns. Before the pool stops.
 */
void aior_helper_stop(struct aior_ctx *ctx);
/* The last context out joins the thread. */
void aior_helper_release(struct aior_ctx *ctx);

#endif
