// 04 the real kernel's ring: read with the TypeScript legacy reader straight
// out of the kernel's mapping, head written back, and io_getevents returns
// exactly the rest.
import * as fs from 'node:fs';
import { EventBatch } from '../src/events';
import { kernelSetup, KernelContext } from '../src/kernel';
import { LegacyRing } from '../src/legacyRing';
import { legacyNr } from '../src/sizing';
import { describeKernel, patternByte, patternFile, tempDir } from './helpers';

const BLOCK = 4096;

describeKernel('04 the live kernel ring, reaped from JavaScript', () => {
  let fd: number;
  let ctx: KernelContext | undefined;

  beforeAll(() => {
    fd = fs.openSync(patternFile(tempDir(), 64, BLOCK), 'r');
  });
  afterAll(() => fs.closeSync(fd));
  afterEach(() => ctx?.destroy());

  /** Submit reads of blocks (block i into its own buffer), cookie = base + i. */
  function submit(c: KernelContext, blocks: number[], base: number): Map<number, Uint8Array> {
    const bufs = blocks.map(() => new Uint8Array(BLOCK));
    expect(c.submitReads(fd, bufs, blocks.map((b) => b * BLOCK), blocks.map((_, i) => base + i))).toBe(blocks.length);
    return new Map(blocks.map((_, i) => [base + i, bufs[i]]));
  }

  function waitReady(ring: LegacyRing, n: number): void {
    // Buffered reads complete inside io_submit; allow for a slow device anyway.
    const deadline = Date.now() + 10000;
    while (ring.count() < n && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    expect(ring.count()).toBe(n);
  }

  function checkData(buf: Uint8Array, block: number): void {
    for (const i of [0, 1, 100, BLOCK - 1]) expect(buf[i]).toBe(patternByte(block, i));
  }

  test("the ring at the context address is the kernel's own mapping and layout, exposed without a copy", () => {
    ctx = kernelSetup(128);
    const ring = new LegacyRing(ctx.ring);
    // F7: the kernel made this mapping itself ([aio]), not memory the caller chose
    const start = ctx.id.toString(16);
    const line = fs.readFileSync('/proc/self/maps', 'utf8').split('\n').find((l) => l.startsWith(`${start}-`));
    expect(line).toMatch(/\[aio\]/);
    expect(ring.nr).toBe(legacyNr(128));
    // no copy: what the kernel writes is what this buffer shows
    const before = ring.tail;
    submit(ctx, [0, 1, 2], 7);
    waitReady(ring, 3);
    expect(ring.tail).toBe(before + 3);
    expect(new Uint32Array(ctx.ring, 16, 1)[0]).toBe(0xa10a10a1);
  });

  test('reap some in JavaScript, write head back; io_getevents returns exactly the rest', () => {
    ctx = kernelSetup(128);
    const ring = new LegacyRing(ctx.ring);
    const blocks = Array.from({ length: 40 }, (_, i) => i % 64);
    const bufs = submit(ctx, blocks, 1000);
    waitReady(ring, 40);

    const batch = new EventBatch(64);
    expect(ring.reap(batch, 15)).toBe(15);
    const mine = Array.from({ length: 15 }, (_, i) => batch.data(i));
    for (let i = 0; i < 15; i++) expect(batch.res(i)).toBe(BLOCK);
    expect(ring.head).toBe(15);

    const rest = ctx.getEvents(0, 128, 0);
    const theirs: number[] = [];
    for (let i = 0; i < rest.length; i += 2) {
      theirs.push(rest[i]);
      expect(rest[i + 1]).toBe(BLOCK);
    }
    expect(theirs).toHaveLength(25);
    const all = [...mine, ...theirs].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 40 }, (_, i) => 1000 + i));
    expect(ring.head).toBe(ring.tail);
    expect(ctx.getEvents(0, 128, 0)).toHaveLength(0);
    for (const [cookie, buf] of bufs) checkData(buf, blocks[cookie - 1000]);
  });

  test('across wraps of the kernel ring, alternating readers lose and repeat nothing', () => {
    ctx = kernelSetup(1);
    const ring = new LegacyRing(ctx.ring);
    expect(ring.nr).toBe(legacyNr(1));
    const batch = new EventBatch(256);
    const seen = new Set<number>();
    let cookie = 0;
    for (let round = 0; round < 12; round++) {
      const n = 50 + (round % 3) * 10;
      const blocks = Array.from({ length: n }, (_, i) => (round * 7 + i) % 64);
      const bufs = submit(ctx, blocks, cookie);
      waitReady(ring, n);
      const jsTake = round % 4 === 3 ? n : 17 + round;
      ring.reap(batch, jsTake);
      const got = Array.from({ length: batch.length }, (_, i) => batch.data(i));
      const rest = ctx.getEvents(0, 256, 0);
      for (let i = 0; i < rest.length; i += 2) got.push(rest[i]);
      expect(got).toHaveLength(n);
      for (const c of got) {
        expect(seen.has(c)).toBe(false);
        seen.add(c);
        checkData(bufs.get(c)!, blocks[c - cookie]);
      }
      cookie += n;
    }
    expect(seen.size).toBe(cookie);
    expect(cookie).toBeGreaterThan(ring.nr * 4);
  });

  test('after destroy the ring buffer is detached: views read as empty, calls are EINVAL', () => {
    ctx = kernelSetup(4);
    const buf = ctx.ring;
    const view = new Uint32Array(buf);
    ctx.destroy();
    expect(buf.byteLength).toBe(0);
    expect(view.length).toBe(0);
    expect(() => ctx!.ring).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => ctx!.getEvents(0, 1, 0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    ctx.destroy();
    ctx = undefined;
  });
});
