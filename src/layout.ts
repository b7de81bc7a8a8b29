// Byte offsets of both ring layouts. native/core/layout.h is the
// definition; test/layout.test.ts holds these numbers to the addon's
// offsetof/sizeof so the two cannot drift. The header constants are
// src/abi.ts's; the public ones stay importable from here too.
import * as abi from './abi';

// Copied out rather than `export { ... } from './abi'`, which compiles to
// getters on this module's exports and slows every offset read on the
// reap path (about 20% per event, measured).
export const {
  AIO_RING_MAGIC,
  AIO_RING_COMPAT_FEATURES,
  AIO_RING_INCOMPAT_FEATURES,
  AIORING_V2_MAGIC,
  AIORING_INCOMPAT_V2,
  AIORING_V2_VERSION,
  AIORING_V2_MAX_ENTRIES,
  AIORING_V2_MAX_LEASES,
  AIORING_V2_WAITER,
} = abi;

/** struct aio_ring (fs/aio.c): the legacy header, 32 bytes. */
export const AioRing = {
  size: 32,
  id: 0,
  nr: 4,
  head: 8,
  tail: 12,
  magic: 16,
  compat_features: 20,
  incompat_features: 24,
  header_length: 28,
  io_events: 32,
} as const;

/** struct io_event (<linux/aio_abi.h>): 32 bytes. */
export const IoEvent = { size: 32, data: 0, obj: 8, res: 16, res2: 24 } as const;

/** struct iocb (<linux/aio_abi.h>, little-endian): 64 bytes. */
export const Iocb = {
  size: 64,
  aio_data: 0,
  aio_key: 8,
  aio_rw_flags: 12,
  aio_lio_opcode: 16,
  aio_reqprio: 18,
  aio_fildes: 20,
  aio_buf: 24,
  aio_nbytes: 32,
  aio_offset: 40,
  aio_reserved2: 48,
  aio_flags: 56,
  aio_resfd: 60,
} as const;

/** Feature bits a v2 header records as agreed at setup. */
export const FEAT_MULTI_PRODUCER = abi.AIORING_FEAT_MULTI_PRODUCER;
export const FEAT_MULTI_CONSUMER = abi.AIORING_FEAT_MULTI_CONSUMER;
export const FEAT_USER_REAP = abi.AIORING_FEAT_USER_REAP;
/** consumers in several processes with the lease protocol (docs/COMPAT.md) */
export const FEAT_LEASES = abi.AIORING_FEAT_LEASES;
export const FEAT_ALL = abi.AIORING_FEAT_ALL;

/** struct v2_ring_header: 512 bytes, then the entries. */
export const V2Header = {
  size: abi.AIORING_V2_HEADER_BYTES,
  id: 0,
  nr: 4,
  legacy_head: 8,
  legacy_tail: 12,
  magic: 16,
  compat_features: 20,
  incompat_features: 24,
  header_length: 28,
  version: 32,
  entries: 36,
  mask: 40,
  features: 44,
  setup_flags: 48,
  entries_offset: 52,
  ring_bytes_lo: 56,
  ring_bytes_hi: 60,
  lease_offset: 64,
  lease_count: 68,
  tail: 128,
  prod_reserve: 132,
  head: 256,
  claim: 260,
  wait_flags: 384,
  wakeups: 388,
} as const;

/** struct v2_lease: one per consumer, 64 bytes each, at lease_offset. */
export const V2Lease = { size: 64, owner: 0, state: 8, start: 12, end: 16, commit: 24 } as const;
export const LEASE_IDLE = abi.AIORING_LEASE_IDLE;
export const LEASE_INTENT = abi.AIORING_LEASE_INTENT;
export const LEASE_HELD = abi.AIORING_LEASE_HELD;
