/*
 * The read helper: a second CPU for large runs of cached reads. It serves
 * what it is handed with RWF_NOWAIT and gives what would block to the pool
 * (which never calls back into the helper). engine_helper.c says how.
 */
#ifndef AIOR_ENGINE_HELPER_H
#define AIOR_ENGINE_HELPER_H

#include <stdint.h>

struct aior_ctx;
struct aior_req;

/* Smaller runs are served by the submitter alone. */
#define AIOR_HELPER_MIN_RUN 8

/*
 * Allocate the helper when the context can use one (its thread starts with
 * the first large run); 0 or -ENOMEM. After the pool has started.
 */
int aior_helper_start(struct aior_ctx *ctx);
/*
 * Hand the helper the last of a run of n reads the submitter has not
 * started: returns how many it took (0 when busy elsewhere, stopped, or the
 * run is small). Their fds must have been seen valid in this submit.
 */
int aior_helper_give(struct aior_ctx *ctx, struct aior_req **reqs, int n);
/* Serve what was handed over, join the thread; no more handoffs after. Before the pool stops. */
void aior_helper_stop(struct aior_ctx *ctx);
void aior_helper_release(struct aior_ctx *ctx);

#endif
