// 05 v2 ring: new semantics in C and TypeScript, held to one model.
import * as fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AioError } from '../src/errors';
import { EventBatch } from '../src/events';
import { AioRing, FEAT_ALL, FEAT_MULTI_CONSUMER, FEAT_MULTI_PRODUCER, FEAT_USER_REAP, V2Header } from '../src/layout';
import { LegacyRing } from '../src/legacyRing';
import { testAddon } from './native';
import { V2Ring, v2RingBytes } from '../src/v2Ring';
import { tempDir } from './helpers';
import { cookiesOf, expectShrunkRefused, FifoModel, resizable, v2Indices } from './ringModel';

function batchCookies(b: EventBatch): number[] {
  return Array.from({ length: b.length }, (_, i) => b.data(i));
}

/** A formatted ring whose free-running indices start at start (to cross 2^32). */
function ringAt(entries: number, start: number, features = 0): ArrayBuffer {
  const buf = new ArrayBuffer(v2RingBytes(entries));
  V2Ring.format(buf, entries, { features });
  const u32 = new Uint32Array(buf);
  u32[V2Header.head / 4] = start;
  u32[V2Header.tail / 4] = start;
  u32[V2Header.prod_reserve / 4] = start;
  return buf;
}

type Op =
  | { kind: 'produce'; count: number }
  | { kind: 'batch'; count: number }
  | { kind: 'reap'; max: number }
  | { kind: 'peek'; max: number };

const opArb = (entries: number): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.record({ kind: fc.constant('produce' as const), count: fc.integer({ min: 1, max: entries + 2 }) }),
    fc.record({ kind: fc.constant('batch' as const), count: fc.integer({ min: 1, max: entries + 2 }) }),
    fc.record({ kind: fc.constant('reap' as const), max: fc.integer({ min: 0, max: entries + 2 }) }),
    fc.record({ kind: fc.constant('peek' as const), max: fc.integer({ min: 0, max: entries + 2 }) }),
  );

describe('05 v2 ring', () => {
  test('header: legacy-shaped first 32 bytes with another magic, the incompat bit and frozen head == tail', () => {
    const buf = new ArrayBuffer(v2RingBytes(64));
    const ring = V2Ring.format(buf, 64, { features: FEAT_USER_REAP, setupFlags: 1 });
    const u32 = new Uint32Array(buf);
    expect(Array.from(u32.subarray(0, 8))).toEqual([0xffffffff, 64, 0, 0, 0xa10a10a2, 1, 1, 512]);
    expect([ring.entries, ring.mask, ring.features, ring.setupFlags]).toEqual([64, 63, FEAT_USER_REAP, 1]);
    expect(u32[V2Header.entries_offset / 4]).toBe(512);
    // the legacy words stay frozen while events flow
    for (let i = 0; i < 200; i++) {
      ring.produce({ data: i, res: 0 });
      ring.reap(new EventBatch(4));
    }
    expect([u32[AioRing.head / 4], u32[AioRing.tail / 4]]).toEqual([0, 0]);
    // a legacy reader that checks the magic refuses it
    expect(() => new LegacyRing(buf)).toThrow(expect.objectContaining({ field: 'magic' }));
    // the C formatter writes the same header
    const cbuf = new ArrayBuffer(v2RingBytes(64));
    new testAddon.NativeV2Ring(new Uint8Array(cbuf), 64, FEAT_USER_REAP);
    const a = new Uint32Array(cbuf);
    const b = new Uint32Array(v2RingBytes(64) / 4);
    V2Ring.format(b.buffer, 64, { features: FEAT_USER_REAP });
    expect(Buffer.from(a.buffer.slice(0, 512))).toEqual(Buffer.from(b.buffer.slice(0, 512)));
  });

  test('full is tail - head == entries: every slot is usable, none kept empty', () => {
    const ring = V2Ring.format(new ArrayBuffer(v2RingBytes(8)), 8);
    let n = 0;
    while (ring.produce({ data: n, res: 0 })) n++;
    expect(n).toBe(8);
    expect(ring.count()).toBe(8);
    expect(ring.tail - ring.head).toBe(8);
    const c = new testAddon.NativeV2Ring(new Uint8Array(v2RingBytes(8)), 8);
    let m = 0;
    while (c.produce(m, 0) === 0) m++;
    expect(m).toBe(8);
    expect(c.produce(99, 0)).toBe(-11);
  });

  test('indices are free-running across 2^32, masked on use', () => {
    const buf = ringAt(4, 0xffff_fffe);
    const ring = new V2Ring(buf);
    const batch = new EventBatch(8);
    for (let i = 0; i < 4; i++) expect(ring.produce({ data: i, res: 0 })).toBe(true);
    expect(ring.tail).toBe(2);
    expect(ring.count()).toBe(4);
    expect(ring.reap(batch)).toBe(4);
    expect(batchCookies(batch)).toEqual([0, 1, 2, 3]);
    expect(ring.head).toBe(2);
  });

  test('peek and advance: a single consumer reads in place and releases later', () => {
    const ring = V2Ring.format(new ArrayBuffer(v2RingBytes(8)), 8);
    for (let i = 0; i < 5; i++) ring.produce({ data: i, res: 0 });
    expect(ring.peek(3)).toBe(3);
    expect(ring.nextHead).toBe(0);
    expect(ring.reserve(8)).toBe(3); // still held until advance
    ring.advance(3);
    expect(ring.reserve(8)).toBe(6);
    expect(ring.head).toBe(3);
  });

  const runProperty = (impl: 'ts' | 'c'): void => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5 }).map((k) => 1 << k),
        fc.oneof(fc.constant(0), fc.constant(0xffff_fff0), fc.integer({ min: 0, max: 0xffff_ffff })),
        fc.array(opArb(32), { maxLength: 60 }),
        (entries, start, ops) => {
          const buf = ringAt(entries, start);
          const u32 = new Uint32Array(buf);
          const ts = impl === 'ts' ? new V2Ring(buf) : null;
          const c = impl === 'c' ? new testAddon.NativeV2Ring(new Uint8Array(buf)) : null;
          const model = new FifoModel(entries);
          const batch = new EventBatch(40);
          let cookie = 0;
          for (const op of ops) {
            if (op.kind === 'produce') {
              for (let i = 0; i < op.count; i++) {
                const ok = ts ? ts.produce({ data: cookie, res: 1 }) : c!.produce(cookie, 1) === 0;
                expect(ok).toBe(model.produce(cookie));
                cookie++;
              }
            } else if (op.kind === 'batch') {
              // reserve n, write them, publish them at once
              const n = ts ? ts.reserve(op.count) : c!.reserve(op.count);
              expect(n).toBe(Math.min(op.count, entries - model.size));
              const first = (start + model.produced) >>> 0;
              for (let i = 0; i < n; i++) {
                if (ts) ts.write(first + i, { data: cookie, res: 1 });
                else c!.write((first + i) >>> 0, cookie, 1);
                expect(model.produce(cookie++)).toBe(true);
              }
              if (ts) ts.publish(n);
              else c!.publish(n);
            } else if (op.kind === 'reap') {
              const got = ts ? (ts.reap(batch, Math.min(op.max, 40)), batchCookies(batch)) : cookiesOf(c!.reap(op.max));
              expect(got).toEqual(model.reap(Math.min(op.max, 40)));
            } else {
              expect(ts ? ts.peek(op.max) : c!.peek(op.max)).toBe(Math.min(op.max, model.size));
            }
            const { head, tail } = v2Indices(model, start);
            expect([u32[V2Header.head / 4], u32[V2Header.tail / 4]]).toEqual([head, tail]);
            expect(ts ? ts.count() : c!.count()).toBe(model.size);
          }
        },
      ),
      { numRuns: 300 },
    );
  };

  test('property: the TypeScript ring behaves as the model (random produce/batch/reap/peek, wraps of 2^32)', () =>
    runProperty('ts'));
  test('property: the C ring behaves as the model (random produce/batch/reap/peek, wraps of 2^32)', () =>
    runProperty('c'));

  test('property: multi-producer reserve/publish and multi-consumer claim follow the model too', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 10 })), { maxLength: 60 }), (ops) => {
        const buf = ringAt(8, 0xffff_fffa, FEAT_MULTI_PRODUCER | FEAT_MULTI_CONSUMER);
        const ts = new V2Ring(buf);
        const c = new testAddon.NativeV2Ring(new Uint8Array(buf));
        const model = new FifoModel(8);
        const batch = new EventBatch(16);
        let cookie = 0;
        ops.forEach(([produce, k], step) => {
          const useC = step % 2 === 0;
          if (produce) {
            const [start, n] = useC ? c.mpReserve(k) : [ts.reservedStart, ts.mpReserve(k)];
            const s = useC ? start : ts.reservedStart;
            expect(n).toBe(Math.min(k, 8 - model.size));
            for (let i = 0; i < n; i++) {
              ts.write(s + i, { data: cookie, res: 0 });
              model.produce(cookie++);
            }
            if (n > 0 && useC) c.mpPublish(s, n);
            if (n > 0 && !useC) ts.mpPublish(s, n);
          } else {
            const got = useC ? cookiesOf(c.claimReap(k)) : (ts.claimReap(batch, k), batchCookies(batch));
            expect(got).toEqual(model.reap(k));
          }
        });
      }),
      { numRuns: 200 },
    );
  });

  test('corrupt shared indices are EUCLEAN, never an out-of-bounds read', () => {
    const buf = ringAt(8, 0);
    const ring = new V2Ring(buf);
    const c = new testAddon.NativeV2Ring(new Uint8Array(buf));
    new Uint32Array(buf)[V2Header.tail / 4] = 1000;
    const batch = new EventBatch(8);
    expect(() => ring.reap(batch)).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    expect(() => ring.count()).toThrow(AioError);
    expect(() => c.reap(8)).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
    expect(c.count()).toBe(-117);
    const mc = ringAt(8, 0, FEAT_MULTI_CONSUMER);
    const claimer = new V2Ring(mc);
    new Uint32Array(mc)[V2Header.tail / 4] = 1000;
    expect(() => claimer.claimReap(batch)).toThrow(expect.objectContaining({ code: 'EUCLEAN' }));
  });

  test('a ring keeps the header words it validated while another thread rewrites them: never an unknown feature bit', async () => {
    const sab = new SharedArrayBuffer(v2RingBytes(16));
    V2Ring.format(sab, 16);
    const stop = new Int32Array(new SharedArrayBuffer(4));
    // features flips between 0 and a bit outside FEAT_ALL as fast as the writer can
    const writer = new Worker(
      `const { workerData: { sab, stop, at } } = require('node:worker_threads');
       const u32 = new Uint32Array(sab);
       while (Atomics.load(stop, 0) === 0) { u32[at] = 0x8000_0000; u32[at] = 0; }`,
      { eval: true, workerData: { sab, stop, at: V2Header.features / 4 } },
    );
    await once(writer, 'online');
    let accepted = 0;
    let unvalidated = 0;
    for (let i = 0; i < 100_000; i++) {
      try {
        const ring = new V2Ring(sab);
        accepted++;
        if ((ring.features & ~FEAT_ALL) !== 0) unvalidated++;
      } catch (e) {
        expect(e).toMatchObject({ code: 'EINVAL', field: 'features' });
      }
    }
    Atomics.store(stop, 0, 1);
    await once(writer, 'exit');
    expect(accepted).toBeGreaterThan(0);
    expect(unvalidated).toBe(0);
  });

  test('single- and multi-producer (consumer) calls do not mix on one ring', () => {
    const sp = new V2Ring(ringAt(8, 0));
    const batch = new EventBatch(4);
    expect(() => sp.mpReserve(1)).toThrow(expect.objectContaining({ code: 'EINVAL', field: 'features' }));
    expect(() => sp.claimReap(batch)).toThrow(expect.objectContaining({ field: 'features' }));
    const mp = new V2Ring(ringAt(8, 0, FEAT_MULTI_PRODUCER | FEAT_MULTI_CONSUMER));
    expect(() => mp.produce({ data: 1, res: 0 })).toThrow(expect.objectContaining({ field: 'features' }));
    expect(() => mp.reap(batch)).toThrow(expect.objectContaining({ field: 'features' }));
    expect(() => sp.reserve(1.5)).toThrow(expect.objectContaining({ field: 'want' }));
    expect(() => sp.reap(batch, -1)).toThrow(expect.objectContaining({ field: 'max' }));
    // checked as a count before the batch's capacity clamps it, as LegacyRing.reap checks it
    for (const max of [Infinity, 2 ** 33, 1.5]) {
      expect(() => sp.reap(batch, max)).toThrow(expect.objectContaining({ code: 'EINVAL', field: 'max' }));
      expect(() => LegacyRing.format(new ArrayBuffer(AioRing.size + 8 * 32), 8).reap(batch, max)).toThrow(expect.objectContaining({ code: 'EINVAL', field: 'max' }));
    }
  });

  test('publishing out of reservation order is EINVAL, not a hang', () => {
    const ring = V2Ring.format(new ArrayBuffer(v2RingBytes(8)), 8, { features: FEAT_MULTI_PRODUCER });
    const n = ring.mpReserve(2);
    const first = ring.reservedStart;
    ring.mpReserve(2);
    ring.mpPublish(first, n);
    expect(() => ring.mpPublish(first, n)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  test('a resizable ArrayBuffer shrunk under the ring: every call is an AioError EINVAL (field buffer), never a TypeError or a write that vanishes', () => {
    // before: Atomics threw a raw TypeError on the out-of-bounds views, and write's stores went nowhere
    for (const [features, shrunk] of [[0, 0], [0, V2Header.size], [FEAT_MULTI_PRODUCER | FEAT_MULTI_CONSUMER, v2RingBytes(8) - 1]]) {
      const buf = resizable(v2RingBytes(8));
      const ring = V2Ring.format(buf, 8, { features });
      buf.resize(shrunk);
      const batch = new EventBatch(4);
      const single: Record<string, () => unknown> = {
        reserve: () => ring.reserve(1),
        publish: () => ring.publish(1),
        produce: () => ring.produce({ data: 2, res: 0 }),
        peek: () => ring.peek(1),
        advance: () => ring.advance(1),
        reap: () => ring.reap(batch),
      };
      const multi: Record<string, () => unknown> = {
        mpReserve: () => ring.mpReserve(1),
        mpPublish: () => ring.mpPublish(0, 1, 0),
        claimReap: () => ring.claimReap(batch),
      };
      const calls: Record<string, () => unknown> = {
        head: () => ring.head,
        tail: () => ring.tail,
        count: () => ring.count(),
        write: () => ring.write(0, { data: 1, res: 0 }),
        ...(features ? multi : single),
      };
      expectShrunkRefused(shrunk, calls);
    }
  });

  test('a publish whose earlier reservation is never published (its producer died) ends with ETIMEDOUT, in C and TypeScript, not a hang', () => {
    // before, both waited for ever: run in a child process the spawn's timeout ends
    const script = path.join(tempDir(), 'deadProducer.ts');
    fs.writeFileSync(
      script,
      [
        `import { V2Ring, v2RingBytes } from ${JSON.stringify(path.join(__dirname, '..', 'src', 'v2Ring'))};`,
        `import { FEAT_MULTI_PRODUCER } from ${JSON.stringify(path.join(__dirname, '..', 'src', 'layout'))};`,
        `import { testAddon } from ${JSON.stringify(path.join(__dirname, 'native'))};`,
        'const outcome = (f: () => void): unknown => { try { f(); return "published"; } catch (e) { const { name, code, errno, field } = e as Record<string, unknown>; return { name, code, errno, field }; } };',
        'const buf = new ArrayBuffer(v2RingBytes(8));',
        'const ts = V2Ring.format(buf, 8, { features: FEAT_MULTI_PRODUCER });',
        'const c = new testAddon.NativeV2Ring(new Uint8Array(buf));',
        'ts.mpReserve(1); // the producer that dies: slot 0 is never published',
        'ts.mpReserve(2);',
        'const mine = ts.reservedStart;',
        'const tsTimedOut = outcome(() => ts.mpPublish(mine, 2, 50));',
        'const cTimedOut = outcome(() => c.mpPublish(mine, 2, 50));',
        'const tailBefore = ts.tail;',
        'ts.mpPublish(0, 1); // the slow one turns up after all',
        'const retried = outcome(() => ts.mpPublish(mine, 2, 50));',
        'console.log(JSON.stringify({ tsTimedOut, cTimedOut, tailBefore, retried, tail: ts.tail, badTimeout: outcome(() => ts.mpPublish(3, 1, -1)) }));',
      ].join('\n'),
    );
    const r = spawnSync(process.execPath, ['-r', path.join(__dirname, 'workers', 'tsRequire.js'), script], { encoding: 'utf8', timeout: 30000, killSignal: 'SIGKILL' });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const timedOut = { name: 'AioError', code: 'ETIMEDOUT', errno: -110, field: 'start' };
    expect(JSON.parse(r.stdout)).toEqual({
      tsTimedOut: timedOut,
      cTimedOut: timedOut,
      tailBefore: 0,
      retried: 'published',
      tail: 3,
      badTimeout: { name: 'AioError', code: 'EINVAL', errno: -22, field: 'timeoutMs' },
    });
  });

  test.each([
    [1, 1],
    [1, 3],
    [3, 1],
    [4, 4],
    [2, 3],
  ])('C threads: %i producer(s), %i consumer(s), 600k events each exactly once', (producers, consumers) => {
    const r = testAddon.stressV2(64, producers, consumers, 600_000 / producers);
    expect(r).toEqual({ delivered: 600_000, duplicates: 0, missing: 0, corrupt: 0 });
  });

  test('worker threads: 2 TypeScript producers and 3 TypeScript consumers on one SharedArrayBuffer ring', async () => {
    const entries = 256;
    const sab = new SharedArrayBuffer(v2RingBytes(entries));
    V2Ring.format(sab, entries, { features: FEAT_MULTI_PRODUCER | FEAT_MULTI_CONSUMER });
    const perProducer = 50_000;
    const seen = new SharedArrayBuffer(perProducer * 2);
    const done = new SharedArrayBuffer(8);
    const script = path.join(__dirname, 'workers', 'v2Worker.js');
    const run = (role: string, id: number): Promise<number> =>
      new Promise((resolve, reject) => {
        const w = new Worker(script, { workerData: { role, id, sab, seen, done, perProducer, producers: 2 } });
        w.once('message', resolve);
        w.once('error', reject);
      });
    const results = await Promise.all([run('producer', 0), run('producer', 1), run('consumer', 0), run('consumer', 1), run('consumer', 2)]);
    const seenCounts = new Uint8Array(seen);
    expect(seenCounts.every((v) => v === 1)).toBe(true);
    expect(results.slice(2).reduce((a, b) => a + b, 0)).toBe(2 * perProducer);
  });
});
