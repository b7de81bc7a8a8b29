// 01 layout: the TypeScript offsets are the C ones (native/core/layout.h).
import * as L from '../src/layout';
import { testAddon } from './native';

describe('01 layout: TypeScript offsets equal the C offsetof/sizeof', () => {
  const c = testAddon.layout;

  test.each(Object.entries(L.AioRing))('struct aio_ring %s', (field, offset) => {
    expect(c[`aio_ring.${field}`]).toBe(offset);
  });
  test.each(Object.entries(L.IoEvent))('struct io_event %s', (field, offset) => {
    expect(c[`io_event.${field}`]).toBe(offset);
  });
  test.each(Object.entries(L.Iocb))('struct iocb %s (<linux/aio_abi.h>)', (field, offset) => {
    expect(c[`iocb.${field}`]).toBe(offset);
  });
  test.each(Object.entries(L.V2Header))('struct v2_ring_header %s', (field, offset) => {
    expect(c[`v2.${field}`]).toBe(offset);
  });

  test.each(Object.entries(L.V2Lease))('struct v2_lease %s', (field, offset) => {
    expect(c[`v2_lease.${field}`]).toBe(offset);
  });

  test('constants', () => {
    for (const name of [
      'AIO_RING_MAGIC',
      'AIO_RING_COMPAT_FEATURES',
      'AIO_RING_INCOMPAT_FEATURES',
      'AIORING_V2_MAGIC',
      'AIORING_INCOMPAT_V2',
      'AIORING_V2_VERSION',
      'AIORING_V2_MAX_ENTRIES',
      'AIORING_V2_WAITER',
      'AIORING_V2_MAX_LEASES',
    ] as const) {
      expect([name, c[name]]).toEqual([name, L[name]]);
    }
    expect(c.AIORING_FEAT_MULTI_PRODUCER).toBe(L.FEAT_MULTI_PRODUCER);
    expect(c.AIORING_FEAT_MULTI_CONSUMER).toBe(L.FEAT_MULTI_CONSUMER);
    expect(c.AIORING_FEAT_USER_REAP).toBe(L.FEAT_USER_REAP);
    expect(c.AIORING_FEAT_LEASES).toBe(L.FEAT_LEASES);
    expect(c.AIORING_FEAT_ALL).toBe(L.FEAT_ALL);
    expect([c.AIORING_LEASE_IDLE, c.AIORING_LEASE_INTENT, c.AIORING_LEASE_HELD]).toEqual([L.LEASE_IDLE, L.LEASE_INTENT, L.LEASE_HELD]);
  });

  test('legacy head and tail share one cache line (flaw F1)', () => {
    expect(Math.floor(L.AioRing.head / 64)).toBe(Math.floor(L.AioRing.tail / 64));
    expect(c['aio_ring.tail'] - c['aio_ring.head']).toBe(4);
  });

  test('v2 puts head and tail on different lines, 128 bytes apart, with legacy-shaped first 32 bytes', () => {
    expect(L.V2Header.head - L.V2Header.tail).toBe(128);
    expect(L.V2Header.tail % 64).toBe(0);
    expect(L.V2Header.head % 64).toBe(0);
    for (const f of ['id', 'nr', 'magic', 'compat_features', 'incompat_features', 'header_length'] as const) {
      expect(L.V2Header[f]).toBe(L.AioRing[f]);
    }
    expect(L.V2Header.legacy_head).toBe(L.AioRing.head);
    expect(L.V2Header.legacy_tail).toBe(L.AioRing.tail);
  });
});
