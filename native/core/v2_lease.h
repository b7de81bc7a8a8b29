/*
 * Consumers in several processes on one v2 ring, safe against a consumer
 * killed at any instruction (AIORING_FEAT_LEASES; docs/COMPAT.md states the
 * protocol and why it delivers every event exactly once).
 *
 * Claim and release are split: consumers claim a run of events by CAS on
 * the ring's claim index and release it by moving head, in claim order, so
 * the producer reuses a slot only after the consumer that claimed it is
 * done. Each consumer owns a lease: who it is (pid and start time), the
 * run it claims, and how far it has committed. The lease is written before
 * the claim is published, so a survivor can always tell which run a dead
 * consumer held and re-deliver exactly the uncommitted rest of it.
 *
 * Ownership: the claim index belongs to all consumers (CAS only); head to
 * the one consumer whose claim starts there; a lease's owner word is taken
 * by CAS, its other words are written only by its owner.
 */
#ifndef AIOR_V2_LEASE_H
#define AIOR_V2_LEASE_H

#include <stddef.h>
#include <stdint.h>
#include "v2_ring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A process's view of a leased ring: trusted copies of the geometry. */
struct v2_lease_ring {
	struct v2_ring ring;
	struct v2_lease *leases;
	uint32_t lease_count;
	uint32_t *claim;
	uint64_t self;          /* this process's owner word */
	uint32_t seen_head;     /* head at the last recovery call */
	uint32_t seen_times;    /* calls in a row that found head there */
};

/* A lease this process owns, with trusted copies of its claim. */
struct v2_lease_hold {
	struct v2_lease *lease;
	uint32_t start;         /* claimed indices start .. end - 1 */
	uint32_t end;
	uint32_t done;          /* next index to process */
	uint32_t commits;       /* events ever committed under this lease */
};

/*
 * Points where a test may stop the protocol: in a build with
 * AIORING_TEST_HOOKS (the test project's, never an install's) the hook, when
 * set, runs in the calling process at each step, before the step's next
 * store. Other builds have no hook symbol.
 */
enum v2_lease_step {
	V2_LEASE_STEP_INTENT,    /* intent written, claim not yet CASed */
	V2_LEASE_STEP_CLAIMED,   /* claim CASed, lease not yet HELD */
	V2_LEASE_STEP_COMMITTED, /* a commit stored */
	V2_LEASE_STEP_RELEASED,  /* head moved, lease not yet IDLE */
	V2_LEASE_STEP_ADOPTED,   /* a dead lease taken over, not yet HELD */
};
#ifdef AIORING_TEST_HOOKS
extern void (*v2_lease_test_hook)(enum v2_lease_step step);
#endif

/* This process's owner word: pid << 32 | low 32 bits of its start time. */
uint64_t v2_lease_self(void);
/* 0 when the process named by owner has exited (or is a zombie), else 1. */
int v2_lease_alive(uint64_t owner);

/* Validate len bytes at mem as a leased ring and bind; -EINVAL otherwise. */
int v2_lease_attach(struct v2_lease_ring *c, void *mem, size_t len);

/*
 * Take a free lease, or one a dead consumer left holding nothing. 0, or
 * -EBUSY when all are owned (a dead consumer's claim is freed by
 * v2_lease_recover once taken over).
 */
int v2_lease_join(struct v2_lease_ring *c, struct v2_lease_hold *h);
/* Give an idle lease back. -EINVAL if it still holds a claim. */
int v2_lease_leave(struct v2_lease_ring *c, struct v2_lease_hold *h);

/*
 * Claim up to max published events: h->start .. h->end - 1, read them with
 * v2_slot. The lease must hold no claim. Returns n, 0 when none are ready,
 * -EINVAL when the lease still holds a claim, -EUCLEAN for corrupt indices.
 */
int64_t v2_lease_claim(struct v2_lease_ring *c, struct v2_lease_hold *h, uint32_t max);

/*
 * n more events of the claim are processed: one 64-bit store moves both
 * done and commits, so an application that records its effects per lease,
 * indexed by commits, commits them atomically with the position.
 */
void v2_lease_commit(struct v2_lease_hold *h, uint32_t n);

/*
 * Hand a fully committed claim back to the producer. 0; -EBUSY while an
 * earlier claim is not yet released (call v2_lease_recover, then retry);
 * -EINVAL when events of the claim are not committed; -EUCLEAN for corrupt
 * indices.
 */
int v2_lease_release(struct v2_lease_ring *c, struct v2_lease_hold *h);

/*
 * Free the leases of dead consumers that hold nothing, and if the claim
 * that head waits on belongs to a dead consumer, take its lease over: then
 * 1 is returned and out holds the rest of that claim (out->done ..
 * out->end - 1) to process, commit, release and leave like one's own.
 * 0 when there is nothing to take over (or a live consumer holds it).
 * Looking costs a read of /proc per consumer, so a call looks only once
 * head has stayed where it is for V2_LEASE_PATIENCE calls in a row.
 */
#define V2_LEASE_PATIENCE 64
int v2_lease_recover(struct v2_lease_ring *c, struct v2_lease_hold *out);

#ifdef __cplusplus
}
#endif

#endif
