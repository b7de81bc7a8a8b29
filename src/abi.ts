// Every constant shared with the C side, under exactly its C macro name.
// C defines each once: compat/include/aioring.h holds the public ones,
// native/core/abi.h the rest; this file is their TypeScript twin, and the
// rest of src/ takes them from here. Struct offsets are in layout.ts.

// Setup flags. Only AIORING_SETUP_V2 selects the v2 ring.
export const AIORING_SETUP_V2 = 1 << 0;
/** Legacy only: the context's ring is the kernel's own (passthrough). */
export const AIORING_SETUP_KERNEL_RING = 1 << 1;
/** This process will not reap from the ring itself (flaw F6). */
export const AIORING_SETUP_NO_USER_REAP = 1 << 2;
/** Never try buffered reads inline (RWF_NOWAIT) before the pool runs them. */
export const AIORING_SETUP_NO_INLINE = 1 << 3;
/** Count requests per CPU in batches, as the kernel's context does (a v2 ring sized to the kernel's ring; not with KERNEL_RING). */
export const AIORING_SETUP_KERNEL_REQS = 1 << 4;
/** Serve large runs of cached reads on the submitting thread only. */
export const AIORING_SETUP_NO_READ_HELPER = 1 << 5;
/** Drop-in: buffered reads and writes complete after io_submit returns, not inside it. */
export const AIORING_SETUP_ASYNC_BUFFERED = 1 << 6;
export const AIORING_SETUP_ALL = (1 << 7) - 1;

// What aioring_features() reports (the drop-in library's C API).
export const AIORING_FEATURE_V2 = 1 << 0;
export const AIORING_FEATURE_KERNEL = 1 << 1;
export const AIORING_FEATURE_THREADS = 1 << 2;
export const AIORING_FEATURE_MEMORY = 1 << 3;
export const AIORING_FEATURE_ASYNC_BUFFERED = 1 << 4;
export const AIORING_FEATURE_URING = 1 << 5;

// The legacy header (struct aio_ring of fs/aio.c).
export const AIO_RING_MAGIC = 0xa10a10a1;
export const AIO_RING_COMPAT_FEATURES = 1;
export const AIO_RING_INCOMPAT_FEATURES = 0;

// The v2 header: a magic and an incompat bit no legacy reader accepts.
export const AIORING_V2_MAGIC = 0xa10a10a2;
export const AIORING_INCOMPAT_V2 = 1 << 0;
export const AIORING_V2_VERSION = 1;
export const AIORING_V2_HEADER_BYTES = 512;
export const AIORING_V2_MAX_ENTRIES = 1 << 24;
export const AIORING_CACHELINE = 64;
/** producer and consumer indices sit two lines apart (the adjacent-line prefetcher) */
export const AIORING_V2_INDEX_SPACING = 128;

// Feature bits a v2 header records as agreed at setup.
export const AIORING_FEAT_MULTI_PRODUCER = 1 << 0;
export const AIORING_FEAT_MULTI_CONSUMER = 1 << 1;
export const AIORING_FEAT_USER_REAP = 1 << 2;
/** consumers in several processes with the lease protocol (docs/COMPAT.md) */
export const AIORING_FEAT_LEASES = 1 << 3;
export const AIORING_FEAT_ALL = (1 << 4) - 1;

// Leases and waiters of a v2 ring.
export const AIORING_LEASE_IDLE = 0;
export const AIORING_LEASE_INTENT = 1;
export const AIORING_LEASE_HELD = 2;
export const AIORING_V2_MAX_LEASES = 64;
/** set in a wait word by a consumer about to sleep: the producer rings */
export const AIORING_V2_WAITER = 1 << 0;

// Limits.
export const AIORING_MAX_THREADS = 64;
/** times a consumer or producer retries a stale index before calling the ring corrupt */
export const AIORING_CLAIM_RETRIES = 4096;
/** an iocb's aio_reserved2 with this bit names registered buffer (aio_reserved2 & ~bit) */
export const AIORING_REGISTERED_BUFFER = 0x8000_0000;
export const AIORING_LEGACY_MAX_EVENTS_BYTES = 0x1000_0000;
export const AIORING_MEMORY_ALIGN = 8;
export const AIORING_PUBLISH_SPINS = 1024;
/** ms a multi-producer publish waits, by default, for earlier reservations before ETIMEDOUT */
export const AIORING_PUBLISH_TIMEOUT_MS = 10000;

// Backend names, as setup takes them and BackendInfo reports them.
export const AIORING_BACKEND_AUTO = 'auto';
export const AIORING_BACKEND_KERNEL = 'kernel';
export const AIORING_BACKEND_THREADPOOL = 'threadpool';
export const AIORING_BACKEND_KERNEL_RING = 'kernel-ring';
export const AIORING_BACKEND_URING = 'uring';
