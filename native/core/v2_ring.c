#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include "atomics.h"
#include "v2_ring.h"

static int is_power_of_two(uint32_t x)
{
	return x && !(x & (x - 1));
}

size_t v2_ring_bytes(uint32_t entries)
{
	return AIORING_V2_HEADER_BYTES + (size_t)entries * sizeof(struct io_event);
}

size_t v2_lease_offset(uint32_t entries)
{
	size_t line = AIORING_CACHELINE;

	return (v2_ring_bytes(entries) + line - 1) / line * line;
}

size_t v2_ring_bytes_leased(uint32_t entries, uint32_t leases)
{
	return v2_lease_offset(entries) + (size_t)leases * sizeof(struct v2_lease);
}

static int format(void *mem, size_t len, uint32_t entries, uint32_t features,
		  uint32_t setup_flags, uint32_t leases)
{
	struct v2_ring_header *h = mem;
	size_t bytes;

	if (mem == NULL || !is_power_of_two(entries) || entries > AIORING_V2_MAX_ENTRIES ||
	    (features & ~AIORING_FEAT_ALL))
		return -EINVAL;
	bytes = leases ? v2_ring_bytes_leased(entries, leases) : v2_ring_bytes(entries);
	if (len < bytes)
		return -EINVAL;
	memset(h, 0, AIORING_V2_HEADER_BYTES);
	h->id = ~0u;
	h->nr = entries;
	h->magic = AIORING_V2_MAGIC;
	h->compat_features = AIO_RING_COMPAT_FEATURES;
	h->incompat_features = AIORING_INCOMPAT_V2;
	h->header_length = AIORING_V2_HEADER_BYTES;
	h->version = AIORING_V2_VERSION;
	h->entries = entries;
	h->mask = entries - 1;
	h->features = features;
	h->setup_flags = setup_flags;
	h->entries_offset = AIORING_V2_HEADER_BYTES;
	h->ring_bytes_lo = (uint32_t)bytes;
	h->ring_bytes_hi = (uint32_t)((uint64_t)bytes >> 32);
	if (leases) {
		h->lease_offset = (uint32_t)v2_lease_offset(entries);
		h->lease_count = leases;
		memset((char *)mem + h->lease_offset, 0, (size_t)leases * sizeof(struct v2_lease));
	}
	return 0;
}

int v2_format(void *mem, size_t len, uint32_t entries, uint32_t features, uint32_t setup_flags)
{
	if (features & AIORING_FEAT_LEASES)
		return -EINVAL;  /* a lease table needs its size: v2_format_leased */
	return format(mem, len, entries, features, setup_flags, 0);
}

int v2_format_leased(void *mem, size_t len, uint32_t entries, uint32_t leases, uint32_t setup_flags)
{
	if (leases == 0 || leases > AIORING_V2_MAX_LEASES)
		return -EINVAL;
	return format(mem, len, entries, AIORING_FEAT_MULTI_CONSUMER | AIORING_FEAT_LEASES,
		      setup_flags, leases);
}

enum ring_field v2_validate(const void *mem, size_t len, uint32_t *entries_out)
{
	const struct v2_ring_header *h = mem;
	uint32_t entries, head, tail, features, leases;
	uint64_t bytes, want;

	if (mem == NULL || len < AIORING_V2_HEADER_BYTES)
		return RING_BAD_SIZE;
	if (aior_load_relaxed(&h->magic) != AIORING_V2_MAGIC)
		return RING_BAD_MAGIC;
	if (aior_load_relaxed(&h->incompat_features) != AIORING_INCOMPAT_V2)
		return RING_BAD_INCOMPAT;
	if (aior_load_relaxed(&h->compat_features) != AIO_RING_COMPAT_FEATURES)
		return RING_BAD_COMPAT;
	if (aior_load_relaxed(&h->header_length) != AIORING_V2_HEADER_BYTES)
		return RING_BAD_HEADER_LENGTH;
	if (aior_load_relaxed(&h->version) != AIORING_V2_VERSION)
		return RING_BAD_VERSION;
	entries = aior_load_relaxed(&h->entries);
	if (!is_power_of_two(entries) || entries > AIORING_V2_MAX_ENTRIES ||
	    aior_load_relaxed(&h->nr) != entries)
		return RING_BAD_NR;
	if (aior_load_relaxed(&h->mask) != entries - 1)
		return RING_BAD_MASK;
	if (aior_load_relaxed(&h->entries_offset) != AIORING_V2_HEADER_BYTES)
		return RING_BAD_ENTRIES_OFFSET;
	features = aior_load_relaxed(&h->features);
	if (features & ~AIORING_FEAT_ALL)
		return RING_BAD_FEATURES;
	leases = aior_load_relaxed(&h->lease_count);
	if (features & AIORING_FEAT_LEASES) {
		if (!(features & AIORING_FEAT_MULTI_CONSUMER))
			return RING_BAD_FEATURES;
		if (leases == 0 || leases > AIORING_V2_MAX_LEASES ||
		    aior_load_relaxed(&h->lease_offset) != v2_lease_offset(entries))
			return RING_BAD_LEASES;
		want = v2_ring_bytes_leased(entries, leases);
	} else {
		if (leases != 0 || aior_load_relaxed(&h->lease_offset) != 0)
			return RING_BAD_LEASES;
		want = v2_ring_bytes(entries);
	}
	bytes = (uint64_t)aior_load_relaxed(&h->ring_bytes_hi) << 32 |
		aior_load_relaxed(&h->ring_bytes_lo);
	if (bytes != want || bytes > len)
		return RING_BAD_SIZE;
	if (aior_load_relaxed(&h->legacy_head) != aior_load_relaxed(&h->legacy_tail))
		return RING_BAD_HEAD;
	head = aior_load_acquire(&h->head);
	tail = aior_load_acquire(&h->tail);
	if (tail - head > entries)
		return RING_BAD_TAIL;
	/* several producers: tail <= prod_reserve <= head + entries */
	if ((features & AIORING_FEAT_MULTI_PRODUCER) &&
	    aior_load_acquire(&h->prod_reserve) - tail > entries - (tail - head))
		return RING_BAD_TAIL;
	/* leases: head <= claim <= tail */
	if ((features & AIORING_FEAT_LEASES) && aior_load_acquire(&h->claim) - head > tail - head)
		return RING_BAD_CLAIM;
	if (entries_out)
		*entries_out = entries;
	return RING_OK;
}

void v2_bind_spaced(struct v2_ring *r, void *mem, uint32_t entries, uint32_t *head)
{
	struct v2_ring_header *h = mem;

	r->hdr = h;
	r->entries = entries;
	r->mask = entries - 1;
	r->events = (struct io_event *)((char *)mem + AIORING_V2_HEADER_BYTES);
	r->tail = &h->tail;
	r->head = head;
}

void v2_bind(struct v2_ring *r, void *mem, uint32_t entries)
{
	v2_bind_spaced(r, mem, entries, &((struct v2_ring_header *)mem)->head);
}

void v2_producer_init(struct v2_producer *p, const struct v2_ring *r)
{
	p->ring = *r;
	p->tail = aior_load_acquire(r->tail);
	p->head_cache = aior_load_acquire(r->head);
}

void v2_consumer_init(struct v2_consumer *c, const struct v2_ring *r)
{
	c->ring = *r;
	c->head = aior_load_acquire(r->head);
	c->tail_cache = aior_load_acquire(r->tail);
}

int64_t v2_count(const struct v2_ring *r)
{
	uint32_t head = aior_load_acquire(r->head);
	uint32_t used = aior_load_acquire(r->tail) - head;

	return used > r->entries ? -EUCLEAN : (int64_t)used;
}

int64_t v2_reserve(struct v2_producer *p, uint32_t want)
{
	uint32_t entries = p->ring.entries;
	uint32_t used = p->tail - p->head_cache;

	if (used > entries || entries - used < want) {
		p->head_cache = aior_load_acquire(p->ring.head);
		used = p->tail - p->head_cache;
		if (used > entries)
			return -EUCLEAN;
	}
	return entries - used < want ? entries - used : want;
}

void v2_publish(struct v2_producer *p, uint32_t n)
{
	/* release: an engine's submitter reads the private tail too, and the events before it */
	aior_store_release(&p->tail, p->tail + n);
	aior_store_release(p->ring.tail, p->tail);
}

int v2_produce(struct v2_producer *p, const struct io_event *ev)
{
	int64_t n = v2_reserve(p, 1);

	if (n < 0)
		return (int)n;
	if (n == 0)
		return -EAGAIN;
	memcpy(v2_slot(&p->ring, p->tail), ev, sizeof(*ev));
	v2_publish(p, 1);
	return 0;
}

int64_t v2_produce_many(struct v2_producer *p, const struct io_event *ev, uint32_t n)
{
	int64_t room = v2_reserve(p, n);
	uint32_t at, chunk;

	if (room <= 0)
		return room;
	at = p->tail & p->ring.mask;
	chunk = p->ring.entries - at < room ? p->ring.entries - at : (uint32_t)room;
	memcpy(&p->ring.events[at], ev, chunk * sizeof(*ev));
	if (room > chunk)
		memcpy(p->ring.events, ev + chunk, (room - chunk) * sizeof(*ev));
	v2_publish(p, (uint32_t)room);
	return room;
}

int64_t v2_mp_reserve(struct v2_ring *r, uint32_t want, uint32_t *start)
{
	uint32_t *reserve = &r->hdr->prod_reserve;
	uint32_t first = aior_load_acquire(reserve);
	int stale = AIORING_CLAIM_RETRIES;

	for (;;) {
		uint32_t used = first - aior_load_acquire(r->head);
		uint32_t n;

		if (used > r->entries) {
			/* first went stale while others produced and consumed: look again */
			if (--stale == 0)
				return -EUCLEAN;
			first = aior_load_acquire(reserve);
			continue;
		}
		n = r->entries - used < want ? r->entries - used : want;
		if (n == 0)
			return 0;
		if (aior_cas_u32(reserve, &first, first + n)) {
			*start = first;
			return n;
		}
	}
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int v2_mp_publish_within(struct v2_ring *r, uint32_t start, uint32_t n, uint32_t timeout_ms)
{
	unsigned spins = 0;
	uint64_t deadline = 0;
	uint32_t tail;

	/*
	 * Earlier reservations publish first, so tail never covers a hole. The
	 * one before us may be descheduled: stop spinning and yield to it, and
	 * past the deadline (read only once yielding) give up: it may be dead.
	 * tail can only reach start from below; past it, the indices are bad.
	 */
	while ((tail = aior_load_acquire(r->tail)) != start) {
		if (start - tail > r->entries)
			return -EUCLEAN;
		if (++spins < AIORING_PUBLISH_SPINS) {
			aior_cpu_relax();
			continue;
		}
		if (deadline == 0)
			deadline = monotonic_ms() + timeout_ms;
		else if (monotonic_ms() >= deadline)
			return -ETIMEDOUT;
		sched_yield();
	}
	aior_store_release(r->tail, start + n);
	return 0;
}

int v2_mp_publish(struct v2_ring *r, uint32_t start, uint32_t n)
{
	return v2_mp_publish_within(r, start, n, AIORING_PUBLISH_TIMEOUT_MS);
}

int64_t v2_peek(struct v2_consumer *c, uint32_t max)
{
	uint32_t ready = c->tail_cache - c->head;

	if (ready < max || ready > c->ring.entries) {
		c->tail_cache = aior_load_acquire(c->ring.tail);
		ready = c->tail_cache - c->head;
		if (ready > c->ring.entries)
			return -EUCLEAN;
	}
	return ready < max ? ready : max;
}

void v2_advance(struct v2_consumer *c, uint32_t n)
{
	c->head += n;
	aior_store_release(c->ring.head, c->head);
}

/* Copy n events from index first on, in at most two chunks. */
static void copy_out(const struct v2_ring *r, uint32_t first, uint32_t n, struct io_event *out)
{
	uint32_t at = first & r->mask;
	uint32_t chunk = r->entries - at < n ? r->entries - at : n;

	memcpy(out, &r->events[at], chunk * sizeof(*out));
	if (n > chunk)
		memcpy(out + chunk, r->events, (n - chunk) * sizeof(*out));
}

int64_t v2_reap(struct v2_consumer *c, struct io_event *out, uint32_t max)
{
	int64_t n = v2_peek(c, max);

	if (n > 0) {
		copy_out(&c->ring, c->head, (uint32_t)n, out);
		v2_advance(c, (uint32_t)n);
	}
	return n;
}

int64_t v2_claim_reap(const struct v2_ring *r, struct io_event *out, uint32_t max)
{
	uint32_t head = aior_load_acquire(r->head);
	int stale = AIORING_CLAIM_RETRIES;

	for (;;) {
		uint32_t ready = aior_load_acquire(r->tail) - head;
		uint32_t n = ready < max ? ready : max;

		if (ready > r->entries) {
			/* head went stale while the producer refilled: look again */
			if (--stale == 0)
				return -EUCLEAN;
			head = aior_load_acquire(r->head);
			continue;
		}
		if (n == 0)
			return 0;
		/*
		 * The copy may race with the producer refilling these slots; if it
		 * did, head has moved and the CAS below fails, discarding it.
		 */
		copy_out(r, head, n, out);
		if (aior_cas_u32(r->head, &head, head + n))
			return n;
	}
}
