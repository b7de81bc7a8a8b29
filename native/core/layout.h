/*
 * The one definition of both ring layouts.
 *
 * struct io_event and struct iocb come from the kernel's own uapi header,
 * <linux/aio_abi.h>; struct aio_ring is not exported by the kernel, so it is
 * written here exactly as fs/aio.c has it. The v2 header is ours. The
 * TypeScript offsets (src/layout.ts) are tested against the values the addon
 * exports from this file.
 */
#ifndef AIOR_LAYOUT_H
#define AIOR_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include <linux/aio_abi.h>
#include "abi.h"

#ifdef __cplusplus
#define AIOR_STATIC_ASSERT static_assert
#else
#define AIOR_STATIC_ASSERT _Static_assert
#endif

#define AIO_RING_MAGIC               0xa10a10a1u
#define AIO_RING_COMPAT_FEATURES     1u
#define AIO_RING_INCOMPAT_FEATURES   0u

/*
 * The legacy ring, as the kernel maps it at the context address.
 * head is written by the consumer (userspace or io_getevents), tail only by
 * the producer (aio_complete); both are kept < nr by those who write them.
 * Userspace may write any of these words, so a producer never trusts them.
 */
struct aio_ring {
	uint32_t id;
	uint32_t nr;
	uint32_t head;
	uint32_t tail;
	uint32_t magic;
	uint32_t compat_features;
	uint32_t incompat_features;
	uint32_t header_length;
	struct io_event io_events[];
};

/*
 * v2: bytes 0-31 keep the legacy header's shape so a legacy reader never
 * misreads: another magic, an incompat bit, and head == tail frozen (a
 * reader that checks nothing sees an empty ring). nr there is the entry
 * count and header_length the real header's length.
 */
/* AIORING_V2_MAGIC and AIORING_INCOMPAT_V2: aioring.h, for readers */
#define AIORING_V2_VERSION           1u

/* Feature bits a ring header records as agreed at setup. */
#define AIORING_FEAT_MULTI_PRODUCER  (1u << 0)
#define AIORING_FEAT_MULTI_CONSUMER  (1u << 1)
#define AIORING_FEAT_USER_REAP       (1u << 2)
/* consumers in several processes, crash-safe: a lease table (with MULTI_CONSUMER) */
#define AIORING_FEAT_LEASES          (1u << 3)
#define AIORING_FEAT_ALL             ((1u << 4) - 1)

#define AIORING_CACHELINE            64u
/*
 * Producer and consumer indices sit 128 bytes apart: two lines, because the
 * adjacent-line prefetcher pulls lines in pairs (docs/BENCHMARKS.md has the
 * 64 vs 128 measurement behind this choice).
 */
#define AIORING_V2_INDEX_SPACING     128u
#define AIORING_V2_MAX_ENTRIES       (1u << 24)

struct v2_ring_header {
	/* legacy-shaped words, frozen after setup */
	uint32_t id;
	uint32_t nr;
	uint32_t legacy_head;
	uint32_t legacy_tail;
	uint32_t magic;
	uint32_t compat_features;
	uint32_t incompat_features;
	uint32_t header_length;

	/* read-mostly, written once at setup */
	uint32_t version;
	uint32_t entries;
	uint32_t mask;
	uint32_t features;
	uint32_t setup_flags;
	uint32_t entries_offset;
	uint32_t ring_bytes_lo;
	uint32_t ring_bytes_hi;
	uint32_t lease_offset;  /* AIORING_FEAT_LEASES: where the lease table starts */
	uint32_t lease_count;   /* and how many leases it holds; both 0 otherwise */
	uint8_t  pad_read_mostly[128 - 72];

	/* producer line: written only by producers */
	uint32_t tail;          /* published: entries before it are readable */
	uint32_t prod_reserve;  /* multi-producer: next slot to reserve (CAS) */
	uint8_t  pad_producer[128 - 8];

	/* consumer line: written only by consumers */
	uint32_t head;          /* single consumer: store-release; several: CAS */
	uint32_t claim;         /* leases: claimed up to here (CAS); head is released */
	uint8_t  pad_consumer[128 - 8];

	/* waiters: a consumer sets a bit before sleeping, the producer rings */
	uint32_t wait_flags;
	uint32_t wakeups;
	uint8_t  pad_wait[128 - 8];
};

#define AIORING_V2_HEADER_BYTES      ((uint32_t)sizeof(struct v2_ring_header))

/*
 * A consumer's lease (AIORING_FEAT_LEASES), one cache line each, after the
 * entries. docs/COMPAT.md states the protocol; native/core/v2_lease.h
 * implements it. owner is written only by CAS (take a free or dead lease);
 * the other words only by the lease's owner.
 */
struct v2_lease {
	uint64_t owner;   /* pid << 32 | low 32 bits of its start time; 0 = free */
	uint32_t state;   /* AIORING_LEASE_IDLE, _INTENT or _HELD */
	uint32_t start;   /* the claim: indices start .. end - 1 */
	uint32_t end;
	uint32_t pad0;
	uint64_t commit;  /* done (next index to process) | commits << 32 */
	uint8_t  pad[64 - 32];
};

#define AIORING_LEASE_IDLE           0u
#define AIORING_LEASE_INTENT         1u
#define AIORING_LEASE_HELD           2u
#define AIORING_V2_MAX_LEASES        64u
#define AIORING_V2_WAITER            (1u << 0)

AIOR_STATIC_ASSERT(sizeof(struct io_event) == 32, "io_event is 32 bytes");
AIOR_STATIC_ASSERT(sizeof(struct iocb) == 64, "iocb is 64 bytes");
AIOR_STATIC_ASSERT(sizeof(struct aio_ring) == 32, "aio_ring header is 32 bytes");
AIOR_STATIC_ASSERT(offsetof(struct v2_ring_header, magic) == offsetof(struct aio_ring, magic),
	       "v2 keeps the legacy magic word");
AIOR_STATIC_ASSERT(offsetof(struct v2_ring_header, tail) == 128, "producer line");
AIOR_STATIC_ASSERT(offsetof(struct v2_ring_header, head) ==
	       offsetof(struct v2_ring_header, tail) + AIORING_V2_INDEX_SPACING,
	       "index spacing");
AIOR_STATIC_ASSERT(sizeof(struct v2_ring_header) == 512, "v2 header is 512 bytes");
AIOR_STATIC_ASSERT(sizeof(struct v2_lease) == 64, "a lease is one cache line");

#endif
