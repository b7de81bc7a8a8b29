#include <errno.h>
#include <string.h>
#include "atomics.h"
#include "legacy_ring.h"

int64_t legacy_nr(uint32_t nr_events, uint32_t cpus, uint32_t page_size, uint64_t aio_max_nr)
{
	uint32_t n;
	uint64_t bytes, pages;

	if (nr_events == 0 || cpus == 0 || page_size < sizeof(struct aio_ring))
		return -EINVAL;
	/*
	 * ioctx_alloc: up to half the slots may sit in other CPUs' counters, so
	 * double. The kernel does this in unsigned int and so do we: from 2^31
	 * on it wraps, and the aio-max-nr check is what refuses.
	 */
	n = nr_events;
	if (n < 4 * cpus)
		n = 4 * cpus;
	n *= 2;
	if (n > AIORING_LEGACY_MAX_EVENTS_BYTES / sizeof(struct io_event))
		return -EINVAL;
	if (n == 0 || (aio_max_nr && nr_events > aio_max_nr))
		return -EAGAIN;
	/* aio_setup_ring: "1 is required, 2 for good luck", then page-rounded */
	bytes = sizeof(struct aio_ring) + ((uint64_t)n + 2) * sizeof(struct io_event);
	pages = (bytes + page_size - 1) / page_size;
	return (int64_t)((pages * page_size - sizeof(struct aio_ring)) / sizeof(struct io_event));
}

size_t legacy_ring_bytes(uint32_t nr, uint32_t page_size)
{
	size_t bytes = sizeof(struct aio_ring) + (size_t)nr * sizeof(struct io_event);

	return (bytes + page_size - 1) / page_size * page_size;
}

void legacy_format(struct aio_ring *ring, uint32_t nr)
{
	ring->id = ~0u;
	ring->nr = nr;
	ring->head = 0;
	ring->tail = 0;
	ring->magic = AIO_RING_MAGIC;
	ring->compat_features = AIO_RING_COMPAT_FEATURES;
	ring->incompat_features = AIO_RING_INCOMPAT_FEATURES;
	ring->header_length = sizeof(struct aio_ring);
}

enum ring_field legacy_validate(const void *mem, size_t len, uint32_t *nr_out)
{
	const struct aio_ring *ring = mem;
	uint32_t nr, head, tail;

	if (mem == NULL || len < sizeof(struct aio_ring))
		return RING_BAD_SIZE;
	if (aior_load_relaxed(&ring->magic) != AIO_RING_MAGIC)
		return RING_BAD_MAGIC;
	if (aior_load_relaxed(&ring->incompat_features) != AIO_RING_INCOMPAT_FEATURES)
		return RING_BAD_INCOMPAT;
	if (aior_load_relaxed(&ring->compat_features) != AIO_RING_COMPAT_FEATURES)
		return RING_BAD_COMPAT;
	if (aior_load_relaxed(&ring->header_length) != sizeof(struct aio_ring))
		return RING_BAD_HEADER_LENGTH;
	nr = aior_load_relaxed(&ring->nr);
	if (nr < 2 || nr > (len - sizeof(struct aio_ring)) / sizeof(struct io_event))
		return RING_BAD_NR;
	head = aior_load_relaxed(&ring->head);
	tail = aior_load_relaxed(&ring->tail);
	if (head >= nr)
		return RING_BAD_HEAD;
	if (tail >= nr)
		return RING_BAD_TAIL;
	if (nr_out)
		*nr_out = nr;
	return RING_OK;
}

void legacy_producer_init(struct legacy_producer *p, struct aio_ring *ring, uint32_t nr)
{
	p->ring = ring;
	p->nr = nr;
	p->tail = aior_load_relaxed(&ring->tail) % nr;
}

void legacy_consumer_init(struct legacy_consumer *c, struct aio_ring *ring, uint32_t nr)
{
	c->ring = ring;
	c->nr = nr;
}

uint32_t legacy_space(const struct legacy_producer *p)
{
	/* Clamp head since userland can write to it. */
	uint32_t head = aior_load_acquire(&p->ring->head) % p->nr;

	return (head + p->nr - p->tail - 1) % p->nr;
}

void legacy_produce(struct legacy_producer *p, const struct io_event *ev)
{
	uint32_t tail = p->tail;

	memcpy(&p->ring->io_events[tail], ev, sizeof(*ev));
	if (++tail == p->nr)
		tail = 0;
	/* release: an engine's submitter reads the private tail too, and the events before it */
	aior_store_release(&p->tail, tail);
	aior_store_release(&p->ring->tail, tail);
}

void legacy_produce_many(struct legacy_producer *p, const struct io_event *ev, uint32_t n)
{
	uint32_t tail = p->tail;

	while (n > 0) {
		uint32_t chunk = p->nr - tail < n ? p->nr - tail : n;

		memcpy(&p->ring->io_events[tail], ev, chunk * sizeof(*ev));
		ev += chunk;
		n -= chunk;
		tail += chunk;
		if (tail == p->nr)
			tail = 0;
	}
	aior_store_release(&p->tail, tail);
	aior_store_release(&p->ring->tail, tail);
}

uint32_t legacy_count(const struct legacy_consumer *c)
{
	uint32_t head = aior_load_relaxed(&c->ring->head);
	uint32_t tail = aior_load_acquire(&c->ring->tail);

	if (head == tail)
		return 0;
	head %= c->nr;
	tail %= c->nr;
	return (tail + c->nr - head) % c->nr;
}

uint32_t legacy_reap(struct legacy_consumer *c, struct io_event *out, uint32_t max)
{
	uint32_t nr = c->nr, head, tail, got = 0;

	head = aior_load_relaxed(&c->ring->head);
	tail = aior_load_acquire(&c->ring->tail);
	if (head == tail)
		return 0;
	head %= nr;
	tail %= nr;
	while (got < max && head != tail) {
		uint32_t avail = (head <= tail ? tail : nr) - head;

		if (avail > max - got)
			avail = max - got;
		memcpy(out + got, &c->ring->io_events[head], avail * sizeof(*out));
		got += avail;
		head = (head + avail) % nr;
	}
	aior_store_release(&c->ring->head, head);
	return got;
}
