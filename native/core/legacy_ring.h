/*
 * The legacy ring, with the kernel's semantics (fs/aio.c).
 *
 * Ownership: the producer owns tail and keeps its own trusted copies of tail
 * and nr (the kernel's ctx->tail, ctx->nr_events); it reads head only to
 * learn free space and clamps it with % nr, because userspace can write it.
 * The consumer owns head: it empties the ring by raw compare, then
 * normalises both indices with % nr, as aio_read_events_ring does.
 */
#ifndef AIOR_LEGACY_RING_H
#define AIOR_LEGACY_RING_H

#include <stddef.h>
#include <stdint.h>
#include "layout.h"
#include "ring_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The kernel's sizing: nr of the ring io_setup(nr_events) maps, for a given
 * count of possible CPUs and page size. Returns the nr, or -EINVAL for
 * nr_events == 0 or too large after doubling, -EAGAIN past aio_max_nr.
 * Pass aio_max_nr = 0 to skip that limit.
 */
int64_t legacy_nr(uint32_t nr_events, uint32_t cpus, uint32_t page_size, uint64_t aio_max_nr);

/* Bytes the kernel maps for a ring of nr entries (page-rounded). */
size_t legacy_ring_bytes(uint32_t nr, uint32_t page_size);

/* Write a fresh kernel-shaped header for nr entries into ring. */
void legacy_format(struct aio_ring *ring, uint32_t nr);

/*
 * Check a mapping of len bytes holds a legacy ring: magic, features,
 * header_length, nr that fits the mapping, head and tail < nr. Reads only
 * inside [ring, ring + len). On success *nr (if not NULL) receives the nr
 * that was checked: bind with that value, never a second read of the
 * shared word, which another writer may have changed since.
 */
enum ring_field legacy_validate(const void *ring, size_t len, uint32_t *nr);

struct legacy_producer {
	struct aio_ring *ring;
	uint32_t nr;    /* trusted copy */
	uint32_t tail;  /* trusted copy */
};

struct legacy_consumer {
	struct aio_ring *ring;
	uint32_t nr;    /* validated at attach */
};

void legacy_producer_init(struct legacy_producer *p, struct aio_ring *ring, uint32_t nr);
void legacy_consumer_init(struct legacy_consumer *c, struct aio_ring *ring, uint32_t nr);

/* Free slots as the producer sees them: one slot always stays empty. */
uint32_t legacy_space(const struct legacy_producer *p);

/*
 * aio_complete: write the event at tail, then publish tail (release). Like
 * the kernel's, it does not look for space: the caller accounts capacity
 * (legacy_space, or in-flight counting as the engine does).
 */
void legacy_produce(struct legacy_producer *p, const struct io_event *ev);
/*
 * n events written from tail on (wrapping at nr), then tail published once:
 * a batch of completions as the engine's aior_complete_many has them. No
 * space check either; n must fit what the caller accounted.
 */
void legacy_produce_many(struct legacy_producer *p, const struct io_event *ev, uint32_t n);

/* aio_read_events_ring: copy up to max events out, write head back. */
uint32_t legacy_reap(struct legacy_consumer *c, struct io_event *out, uint32_t max);

/* Events ready for the consumer (raw compare, then normalised). */
uint32_t legacy_count(const struct legacy_consumer *c);

#ifdef __cplusplus
}
#endif

#endif
