// 42 ring batches: a producer that completes several events at once writes
// them all and publishes tail once (legacy_produce_many, v2_produce_many,
// as the engine's aior_complete_many does), and the TypeScript consumers
// copy small and large reaps, across the wrap, word for word.
import { EventBatch } from '../src/events';
import { AioRing, IoEvent, V2Header } from '../src/layout';
import { LegacyRing } from '../src/legacyRing';
import { V2Ring, v2RingBytes } from '../src/v2Ring';
import { testAddon } from './native';

const EAGAIN = 11;
const EUCLEAN = 117;

function cookies(b: EventBatch): number[] {
  return Array.from({ length: b.length }, (_, i) => b.data(i));
}

function range(first: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => first + i);
}

describe('42 ring batches', () => {
  test('legacy_produce_many writes n events from tail on, wrapping at nr, and publishes tail once for all', () => {
    const nr = 8;
    const buf = new ArrayBuffer(AioRing.size + nr * IoEvent.size);
    const c = new testAddon.NativeLegacyRing(new Uint8Array(buf), nr);
    const ring = new LegacyRing(buf);
    const batch = new EventBatch(nr);
    expect(c.produceMany(0, 5, 7)).toBe(5);
    expect(ring.reap(batch)).toBe(5);
    // 6 more cross the end of the ring: tail ends at (5 + 6) % 8
    expect(c.produceMany(100, 6, -4)).toBe(6);
    expect(ring.tail).toBe(3);
    expect(ring.reap(batch)).toBe(6);
    expect(cookies(batch)).toEqual(range(100, 6));
    expect(batch.res(5)).toBe(-4);
    // one slot always stays empty: 8 events do not fit, 7 do
    expect(c.produceMany(200, 8, 0)).toBe(-EAGAIN);
    expect(c.produceMany(200, 7, 0)).toBe(7);
    expect(ring.reap(batch)).toBe(7);
    expect(cookies(batch)).toEqual(range(200, 7));
  });

  test('v2_produce_many publishes as many as there is room for, across the wrap, and refuses a corrupt head', () => {
    const entries = 8;
    const buf = new ArrayBuffer(v2RingBytes(entries));
    const c = new testAddon.NativeV2Ring(new Uint8Array(buf), entries);
    const ring = new V2Ring(buf);
    const batch = new EventBatch(16);
    expect(c.produceMany(0, 5, 1)).toBe(5);
    expect(ring.reap(batch)).toBe(5);
    // 10 asked, 8 fit (every v2 slot is usable), 3 of them after the wrap
    expect(c.produceMany(100, 10, 2)).toBe(8);
    expect(ring.tail).toBe(13);
    expect(c.produceMany(300, 1, 0)).toBe(0);
    expect(ring.reap(batch)).toBe(8);
    expect(cookies(batch)).toEqual(range(100, 8));
    // a head written past tail by a consumer: the producer refuses, writes nothing
    new Uint32Array(buf)[V2Header.head / 4] = 13 + 100;
    expect(c.produceMany(400, 2, 0)).toBe(-EUCLEAN);
    expect(ring.tail).toBe(13);
  });

  test.each([
    ['a few events (copied word by word)', 3],
    ['many events (copied as one block)', 40],
  ])('the TypeScript consumers reap %s across the wrap, every word intact', (_name, n) => {
    const entries = 64;
    const v2buf = new ArrayBuffer(v2RingBytes(entries));
    const v2 = V2Ring.format(v2buf, entries);
    const legacyBuf = new ArrayBuffer(AioRing.size + entries * IoEvent.size);
    const legacy = LegacyRing.format(legacyBuf, entries);
    const batch = new EventBatch(n);
    // start n / 2 events before the end, so the reap straddles the wrap
    const start = entries - Math.floor(n / 2) - 1;
    for (let i = 0; i < start; i++) {
      v2.produce({ data: i, res: 0 });
      legacy.produce({ data: i, res: 0 });
    }
    expect(v2.reap(new EventBatch(entries))).toBe(start);
    expect(legacy.reap(new EventBatch(entries))).toBe(start);
    const ev = (i: number): { data: bigint; obj: number; res: number; res2: number } => ({
      data: 0xfedc_ba98_7654_3210n + BigInt(i),
      obj: 0x1234_5678_9abc + i,
      res: -1 - i,
      res2: 0x7fff_0000 + i,
    });
    for (let i = 0; i < n; i++) {
      v2.produce(ev(i));
      legacy.produce(ev(i));
    }
    for (const ring of [v2, legacy]) {
      expect(ring.reap(batch)).toBe(n);
      for (let i = 0; i < n; i++) {
        const want = ev(i);
        expect([batch.dataBigInt(i), batch.obj(i), batch.res(i), batch.res2(i)]).toEqual([want.data, want.obj, want.res, want.res2]);
      }
    }
  });
});
