/*
 * The v2 ring: power-of-two entries, free-running u32 indices masked on
 * use, producer and consumer indices on lines of their own, memory the
 * caller supplies.
 *
 * Ownership: tail (and prod_reserve) belong to producers, head to
 * consumers. A single producer or consumer keeps its own index privately
 * and a cached copy of the other side's, refreshed only when the cached
 * value cannot satisfy the request (fewer free slots or ready events than
 * asked for). Several producers reserve
 * with CAS on prod_reserve and publish tail in reservation order; several
 * consumers copy, then CAS head forward: an index that wrapped back to the
 * same value needs 2^32 events between the load and the CAS (flaw F5).
 * Every index read from shared memory is checked: tail - head > entries
 * means the ring is corrupt (-EUCLEAN), and slots are always masked.
 */
#ifndef AIOR_V2_RING_H
#define AIOR_V2_RING_H

#include <stddef.h>
#include <stdint.h>
#include "layout.h"
#include "ring_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A bound view of a validated ring: trusted copies of the geometry. */
struct v2_ring {
	struct v2_ring_header *hdr;
	struct io_event *events;
	uint32_t *tail;
	uint32_t *head;
	uint32_t entries;
	uint32_t mask;
};

struct v2_producer {
	struct v2_ring ring;
	uint32_t tail;        /* private: the truth for a single producer */
	uint32_t head_cache;  /* last head seen */
};

struct v2_consumer {
	struct v2_ring ring;
	uint32_t head;        /* private: the truth for a single consumer */
	uint32_t tail_cache;  /* last tail seen */
};

/* Bytes a ring of entries needs: the header plus the entries. */
size_t v2_ring_bytes(uint32_t entries);
/* With a lease table of leases: it starts at v2_lease_offset, line-aligned. */
size_t v2_lease_offset(uint32_t entries);
size_t v2_ring_bytes_leased(uint32_t entries, uint32_t leases);

/*
 * Format len bytes at mem as an empty ring. entries must be a power of two
 * in [1, AIORING_V2_MAX_ENTRIES], features a subset of AIORING_FEAT_ALL.
 * Returns 0 or -EINVAL.
 */
int v2_format(void *mem, size_t len, uint32_t entries, uint32_t features, uint32_t setup_flags);
/*
 * Format a ring for consumers in several processes (docs/COMPAT.md, the
 * lease protocol): features MULTI_CONSUMER | LEASES and a table of leases
 * (1 .. AIORING_V2_MAX_LEASES) after the entries. v2_format refuses LEASES.
 */
int v2_format_leased(void *mem, size_t len, uint32_t entries, uint32_t leases, uint32_t setup_flags);

/*
 * Check a mapping of len bytes holds a v2 ring; reads only inside it. On
 * success *entries (if not NULL) receives the entry count that was checked:
 * bind with it, never with a second read of the shared word.
 */
enum ring_field v2_validate(const void *mem, size_t len, uint32_t *entries);

/* Bind to a validated ring of entries. */
void v2_bind(struct v2_ring *r, void *mem, uint32_t entries);

/*
 * Bind with the consumer index somewhere else than the layout puts it; only
 * the benchmark uses this, to measure index spacing.
 */
void v2_bind_spaced(struct v2_ring *r, void *mem, uint32_t entries, uint32_t *head);

void v2_producer_init(struct v2_producer *p, const struct v2_ring *r);
void v2_consumer_init(struct v2_consumer *c, const struct v2_ring *r);

static inline struct io_event *v2_slot(const struct v2_ring *r, uint32_t index)
{
	return &r->events[index & r->mask];
}

/* Events published and not yet consumed, or -EUCLEAN for corrupt indices. */
int64_t v2_count(const struct v2_ring *r);

/*
 * Single producer: free slots, up to want; the caller fills slots
 * p->tail .. p->tail + n - 1 then publishes them. -EUCLEAN if head is
 * corrupt.
 */
int64_t v2_reserve(struct v2_producer *p, uint32_t want);
void v2_publish(struct v2_producer *p, uint32_t n);
/* reserve + copy + publish of one event; 0, -EAGAIN when full, -EUCLEAN. */
int v2_produce(struct v2_producer *p, const struct io_event *ev);
/*
 * reserve + copy + publish of up to n events with one store of tail (a
 * batch of completions, as aior_complete_many has them): how many were
 * published (fewer when the ring has less room), or -EUCLEAN.
 */
int64_t v2_produce_many(struct v2_producer *p, const struct io_event *ev, uint32_t n);

/*
 * Several producers (a ring formatted with AIORING_FEAT_MULTI_PRODUCER;
 * single- and multi-producer calls must not be mixed on one ring): reserve
 * up to want slots from prod_reserve with CAS; *start receives the first.
 * Publish in reservation order: v2_mp_publish waits for the reservations
 * before start, and returns -EUCLEAN if tail is already past start. A
 * producer that dies between reserve and publish would stall the ones
 * after it for ever, so the wait is bounded: after timeout_ms
 * (v2_mp_publish: AIORING_PUBLISH_TIMEOUT_MS) it is -ETIMEDOUT with
 * nothing published. A slow producer and a dead one look alike: the
 * reservation stays, and the publish may be tried again.
 */
int64_t v2_mp_reserve(struct v2_ring *r, uint32_t want, uint32_t *start);
int v2_mp_publish(struct v2_ring *r, uint32_t start, uint32_t n);
int v2_mp_publish_within(struct v2_ring *r, uint32_t start, uint32_t n, uint32_t timeout_ms);

/*
 * Single consumer: events ready (up to max) starting at c->head, without
 * copying; then v2_advance releases them to the producer.
 */
int64_t v2_peek(struct v2_consumer *c, uint32_t max);
void v2_advance(struct v2_consumer *c, uint32_t n);
/* peek + copy + advance. */
int64_t v2_reap(struct v2_consumer *c, struct io_event *out, uint32_t max);

/*
 * Several consumers (AIORING_FEAT_MULTI_CONSUMER; not mixed with the
 * single-consumer calls): copy up to max events, then CAS head past them.
 * -EUCLEAN only when a freshly read head still shows more than entries
 * ready, over and over: a failed CAS is another consumer's progress.
 */
int64_t v2_claim_reap(const struct v2_ring *r, struct io_event *out, uint32_t max);

#ifdef __cplusplus
}
#endif

#endif
