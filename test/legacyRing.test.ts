// 03 legacy ring: the kernel's layout and semantics, in C and TypeScript.
import * as fc from 'fast-check';
import { AioError } from '../src/errors';
import { EventBatch } from '../src/events';
import { AioRing, IoEvent } from '../src/layout';
import { LegacyRing } from '../src/legacyRing';
import { testAddon } from './native';
import { cookiesOf, expectShrunkRefused, FifoModel, legacyIndices, resizable } from './ringModel';

const bytesFor = (nr: number): number => AioRing.size + nr * IoEvent.size;

function batchCookies(b: EventBatch): number[] {
  return Array.from({ length: b.length }, (_, i) => b.data(i));
}

type Op = { kind: 'produce'; count: number } | { kind: 'reap'; max: number } | { kind: 'scribble'; head: number };

const opArb = (nr: number): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('produce' as const), count: fc.integer({ min: 1, max: nr + 2 }) }) },
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('reap' as const), max: fc.integer({ min: 0, max: nr + 2 }) }) },
    // userspace may write head as any value < nr that it already consumed up to;
    // the producer clamps it with % nr. Here: rewrite head with an equal value + k*nr.
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('scribble' as const), head: fc.integer({ min: 0, max: 3 }) }) },
  );

describe('03 legacy ring', () => {
  test('format writes the kernel header byte for byte', () => {
    const buf = new ArrayBuffer(4096);
    LegacyRing.format(buf, 127);
    const u32 = new Uint32Array(buf, 0, 8);
    expect(Array.from(u32)).toEqual([0xffffffff, 127, 0, 0, 0xa10a10a1, 1, 0, 32]);
    // the C formatter writes the same bytes
    const cbuf = new ArrayBuffer(4096);
    new testAddon.NativeLegacyRing(new Uint8Array(cbuf), 127);
    expect(Buffer.from(cbuf)).toEqual(Buffer.from(buf));
  });

  test('one slot stays empty: nr - 1 events fit, then produce reports full', () => {
    const ring = LegacyRing.format(new ArrayBuffer(bytesFor(8)), 8);
    let n = 0;
    while (ring.produce({ data: n, res: 0 })) n++;
    expect(n).toBe(7);
    expect(ring.count()).toBe(7);
    expect(ring.space()).toBe(0);
    const c = new testAddon.NativeLegacyRing(new Uint8Array(bytesFor(8)), 8);
    let m = 0;
    while (c.produce(m, 0) === 0) m++;
    expect(m).toBe(7);
  });

  test('tail wraps to 0 at nr; reap copies two chunks and writes head back normalised', () => {
    const ring = LegacyRing.format(new ArrayBuffer(bytesFor(8)), 8);
    const batch = new EventBatch(16);
    for (let i = 0; i < 6; i++) ring.produce({ data: i, res: i * 10 });
    expect(ring.reap(batch, 6)).toBe(6);
    for (let i = 6; i < 12; i++) ring.produce({ data: i, res: -i });
    expect(ring.tail).toBe(12 % 8);
    expect(ring.reap(batch)).toBe(6);
    expect(batchCookies(batch)).toEqual([6, 7, 8, 9, 10, 11]);
    expect(batch.res(0)).toBe(-6);
    expect(ring.head).toBe(4);
    expect(ring.head).toBe(ring.tail);
  });

  test('empty is the raw compare: head == tail + nr is not "empty" until normalised', () => {
    const buf = new ArrayBuffer(bytesFor(8));
    const ring = LegacyRing.format(buf, 8);
    ring.produce({ data: 1, res: 0 });
    ring.produce({ data: 2, res: 0 });
    const u32 = new Uint32Array(buf);
    // head == tail (mod nr) but not raw-equal: the kernel normalises and finds nothing
    u32[AioRing.head / 4] = 2 + 8;
    const batch = new EventBatch(4);
    expect(ring.reap(batch)).toBe(0);
    expect(u32[AioRing.head / 4]).toBe(2);
  });

  test('the producer clamps a user-written head with % nr', () => {
    const buf = new ArrayBuffer(bytesFor(8));
    const ring = LegacyRing.format(buf, 8);
    for (let i = 0; i < 5; i++) ring.produce({ data: i, res: 0 });
    const c = new testAddon.NativeLegacyRing(new Uint8Array(buf));
    new Uint32Array(buf)[AioRing.head / 4] = 3 + 8 * 1000;
    expect(ring.space()).toBe(5);
    expect(c.space()).toBe(5);
  });

  test('res keeps its sign and data its full 64 bits', () => {
    const ring = LegacyRing.format(new ArrayBuffer(bytesFor(4)), 4);
    ring.produce({ data: 0xfedcba9876543210n, obj: 5, res: -5, res2: 2 ** 40 });
    const b = new EventBatch(1);
    ring.reap(b);
    expect(b.dataBigInt(0)).toBe(0xfedcba9876543210n);
    expect([b.obj(0), b.res(0), b.res2(0)]).toEqual([5, -5, 2 ** 40]);
  });

  const runProperty = (impl: 'ts' | 'c'): void => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 9 }).chain((nr) => fc.tuple(fc.constant(nr), fc.array(opArb(nr), { maxLength: 80 }))),
        ([nr, ops]) => {
          const buf = new ArrayBuffer(bytesFor(nr));
          const u32 = new Uint32Array(buf);
          const ts = impl === 'ts' ? LegacyRing.format(buf, nr) : null;
          const c = impl === 'c' ? new testAddon.NativeLegacyRing(new Uint8Array(buf), nr) : null;
          const model = new FifoModel(nr - 1);
          const batch = new EventBatch(nr + 2);
          let cookie = 0;
          for (const op of ops) {
            if (op.kind === 'produce') {
              for (let i = 0; i < op.count; i++) {
                const ok = ts ? ts.produce({ data: cookie, res: cookie }) : c!.produce(cookie, cookie) === 0;
                expect(ok).toBe(model.produce(cookie));
                cookie++;
              }
            } else if (op.kind === 'reap') {
              const got = ts ? (ts.reap(batch, op.max), batchCookies(batch)) : cookiesOf(c!.reap(op.max));
              expect(got).toEqual(model.reap(op.max));
            } else {
              u32[AioRing.head / 4] += op.head * nr;
            }
            const { head, tail } = legacyIndices(model, nr);
            expect(u32[AioRing.tail / 4]).toBe(tail);
            if (op.kind !== 'scribble') expect(u32[AioRing.head / 4] % nr).toBe(head);
            expect(ts ? ts.count() : c!.count()).toBe(model.size);
          }
        },
      ),
      { numRuns: 300 },
    );
  };

  test('property: the TypeScript ring behaves as the model (random produce/reap/wrap)', () => runProperty('ts'));
  test('property: the C ring behaves as the model (random produce/reap/wrap)', () => runProperty('c'));

  test('C producer, TypeScript consumer and back: one byte layout', () => {
    const buf = new ArrayBuffer(bytesFor(16));
    const c = new testAddon.NativeLegacyRing(new Uint8Array(buf), 16);
    const ts = new LegacyRing(buf);
    const batch = new EventBatch(32);
    const seen: number[] = [];
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 11; i++) c.produce(round * 100 + i, 0);
      ts.reap(batch, 7);
      seen.push(...batchCookies(batch));
      seen.push(...cookiesOf(c.reap(64)));
    }
    expect(seen).toEqual(Array.from({ length: 10 }, (_, r) => Array.from({ length: 11 }, (_, i) => r * 100 + i)).flat());
  });

  test('attach validates: a corrupt header is a typed EINVAL naming the field', () => {
    const buf = new ArrayBuffer(bytesFor(8));
    LegacyRing.format(buf, 8);
    new Uint32Array(buf)[AioRing.tail / 4] = 8;
    let e: unknown;
    try {
      new LegacyRing(buf);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(AioError);
    expect(e).toMatchObject({ code: 'EINVAL', errno: -22, field: 'tail' });
    expect(() => new testAddon.NativeLegacyRing(new Uint8Array(buf))).toThrow(expect.objectContaining({ field: 'tail' }));
  });

  test('a resizable ArrayBuffer shrunk under the ring: every call is an AioError EINVAL (field buffer), never a TypeError or a write that vanishes', () => {
    // before: Atomics threw a raw TypeError on the out-of-bounds views, and produce's writes went nowhere
    for (const shrunk of [0, AioRing.size, bytesFor(8) - 1]) {
      const buf = resizable(bytesFor(8));
      const ring = LegacyRing.format(buf, 8);
      ring.produce({ data: 1, res: 0 });
      buf.resize(shrunk);
      const batch = new EventBatch(4);
      const calls: Record<string, () => unknown> = {
        head: () => ring.head,
        tail: () => ring.tail,
        space: () => ring.space(),
        count: () => ring.count(),
        produce: () => ring.produce({ data: 2, res: 0 }),
        reap: () => ring.reap(batch),
      };
      expectShrunkRefused(shrunk, calls);
    }
  });
});
