// 16 the read helper: with two CPUs a helper thread serves part of each
// submit of 8 or more cached reads. What it changes must not show: a bad
// descriptor still fails the submit before anything runs, a batch mixing
// files keeps io_submit's prefix rule, reads that would block still reach
// the pool, and destroy still joins every thread, the helper's included.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AioContext, alignedBuffer, setup, SETUP_V2 } from '../src/context';
import { IocbArray } from '../src/iocb';
import { directDir, ownThreadCount, rng, settledCount, sleepMs, tempDir, TMPFS_MAGIC } from './helpers';

const BLOCK = 4096;
const BLOCKS = 512;
const BATCH = 32;
const twoCpus = os.availableParallelism() > 1;

/** Block b of the file holds b in every 4-byte word, so a misplaced read shows. */
function blockFile(dir: string, flags = 0): string {
  const file = path.join(dir, 'blocks');
  const data = alignedBuffer(BLOCKS * BLOCK);
  for (let b = 0; b < BLOCKS; b++) for (let w = 0; w < BLOCK; w += 4) data.writeUInt32LE(b, b * BLOCK + w);
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | flags, 0o600);
  try {
    fs.writeSync(fd, data, 0, data.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

function checkBlock(buf: Buffer, block: number): boolean {
  for (let w = 0; w < BLOCK; w += 4) if (buf.readUInt32LE(w) !== block) return false;
  return true;
}

interface Batch {
  arr: IocbArray;
  buffers: Buffer[];
  blocks: number[];
}

/** count reads of random blocks; entry i reads into buffers[i] with data i. */
function readBatch(ctx: AioContext, fds: number[], count: number, seed: number): Batch {
  const next = rng(seed);
  const buffers = Array.from({ length: count }, () => alignedBuffer(BLOCK));
  const first = ctx.registerBuffers(buffers);
  const arr = new IocbArray(count);
  const blocks: number[] = [];
  for (let i = 0; i < count; i++) {
    const b = next() % BLOCKS;
    blocks.push(b);
    arr.setRead(i, fds[i], first + i, 0, BLOCK, b * BLOCK, i);
  }
  return { arr, buffers, blocks };
}

/** Reap n events: each data seen once, each read full and right. */
async function expectReads(ctx: AioContext, batch: Batch, n: number): Promise<void> {
  const seen = new Set<number>();
  while (seen.size < n) {
    for (const e of await ctx.getEvents(1, n, 10000)) {
      const i = Number(e.data);
      expect(seen.has(i)).toBe(false);
      seen.add(i);
      expect(e.res).toBe(BLOCK);
      expect(checkBlock(batch.buffers[i], batch.blocks[i])).toBe(true);
    }
  }
  expect(await ctx.getEvents(0, 1, 20)).toEqual([]);
  expect(ctx.inflight).toBe(0);
}

describe('16 the read helper', () => {
  let dir: string;
  let file: string;
  let fd: number;
  beforeAll(() => {
    dir = tempDir();
    file = blockFile(dir);
    fd = fs.openSync(file, 'r');
  });
  afterAll(() => fs.closeSync(fd));

  /** A descriptor number that was valid a moment ago and is closed now. */
  function closedFd(): number {
    const closed = fs.openSync(file, 'r');
    fs.closeSync(closed);
    return closed;
  }

  test.each([
    ['legacy', 0],
    ['v2', SETUP_V2],
  ])('%s ring: a batch of 32 cached reads completes once each, part of it by the helper', async (_name, flags) => {
    const ctx = setup(64, { backend: 'threadpool', flags });
    try {
      expect(ctx.backend.readHelper).toBe(twoCpus);
      let helped = 0;
      for (let round = 0; round < 20; round++) {
        const batch = readBatch(ctx, new Array(BATCH).fill(fd), BATCH, 0x1600 + round);
        expect(ctx.submitArray(batch.arr, BATCH)).toBe(BATCH);
        await expectReads(ctx, batch, BATCH);
        helped = ctx.helperReads;
      }
      if (twoCpus) expect(helped).toBeGreaterThan(0);
      else expect(helped).toBe(0);
    } finally {
      ctx.destroy();
    }
  });

  test('readHelper: false and small batches leave every read to the submitting thread', async () => {
    const off = setup(64, { backend: 'threadpool', readHelper: false });
    const on = setup(64, { backend: 'threadpool' });
    try {
      expect(off.backend.readHelper).toBe(false);
      const big = readBatch(off, new Array(BATCH).fill(fd), BATCH, 0x1610);
      expect(off.submitArray(big.arr, BATCH)).toBe(BATCH);
      await expectReads(off, big, BATCH);
      expect(off.helperReads).toBe(0);
      // 8 reads are below the helper's run: the submitter reads them all
      for (let round = 0; round < 10; round++) {
        const small = readBatch(on, new Array(8).fill(fd), 8, 0x1620 + round);
        expect(on.submitArray(small.arr, 8)).toBe(8);
        await expectReads(on, small, 8);
      }
      expect(on.helperReads).toBe(0);
    } finally {
      off.destroy();
      on.destroy();
    }
  });

  test('a one-thread pool has no helper: 32 cached reads complete in submission order, as the kernel completes them', async () => {
    const ctx = setup(64, { backend: 'threadpool', threads: 1 });
    try {
      expect(ctx.backend.readHelper).toBe(false);
      for (let round = 0; round < 10; round++) {
        const batch = readBatch(ctx, new Array(BATCH).fill(fd), BATCH, 0x1628 + round);
        expect(ctx.submitArray(batch.arr, BATCH)).toBe(BATCH);
        const order: number[] = [];
        while (order.length < BATCH) for (const e of await ctx.getEvents(1, BATCH, 10000)) order.push(Number(e.data));
        expect(order).toEqual(Array.from({ length: BATCH }, (_, i) => i));
      }
      expect(ctx.helperReads).toBe(0);
    } finally {
      ctx.destroy();
    }
  });

  test('32 reads of a closed descriptor: the submit fails with EBADF, nothing runs, nothing completes', async () => {
    const ctx = setup(64, { backend: 'threadpool' });
    try {
      const closed = closedFd();
      const batch = readBatch(ctx, new Array(BATCH).fill(closed), BATCH, 0x1630);
      let code = '';
      try {
        ctx.submitArray(batch.arr, BATCH);
      } catch (e) {
        code = (e as { code: string }).code;
      }
      expect(code).toBe('EBADF');
      expect(ctx.inflight).toBe(0);
      expect(ctx.helperReads).toBe(0);
      expect(await ctx.getEvents(0, BATCH, 50)).toEqual([]);
    } finally {
      ctx.destroy();
    }
  });

  test('16 good reads, then 16 of a closed descriptor: 16 queued, as io_submit says, and only those complete', async () => {
    const ctx = setup(64, { backend: 'threadpool' });
    try {
      const closed = closedFd();
      const fds = [...new Array(16).fill(fd), ...new Array(16).fill(closed)];
      const batch = readBatch(ctx, fds, BATCH, 0x1640);
      expect(ctx.submitArray(batch.arr, BATCH)).toBe(16);
      await expectReads(ctx, batch, 16);
    } finally {
      ctx.destroy();
    }
  });

  test('reads the page cache does not hold (written with O_DIRECT) go on to the pool and complete right', async () => {
    const ddir = directDir();
    expect(fs.statfsSync(ddir).type).not.toBe(TMPFS_MAGIC);
    const cold = blockFile(ddir, fs.constants.O_DIRECT);
    const cfd = fs.openSync(cold, 'r');
    const ctx = setup(64, { backend: 'threadpool' });
    try {
      for (let round = 0; round < 4; round++) {
        const batch = readBatch(ctx, new Array(BATCH).fill(cfd), BATCH, 0x1650 + round);
        expect(ctx.submitArray(batch.arr, BATCH)).toBe(BATCH);
        await expectReads(ctx, batch, BATCH);
      }
    } finally {
      ctx.destroy();
      fs.closeSync(cfd);
    }
  });

  test('a helper that fell asleep is woken by the next large submit: 100 rounds with pauses past its spin, every read completes', async () => {
    const ctx = setup(64, { backend: 'threadpool' });
    try {
      const pause = rng(0x1670);
      for (let round = 0; round < 100; round++) {
        const batch = readBatch(ctx, new Array(BATCH).fill(fd), BATCH, 0x1700 + round);
        expect(ctx.submitArray(batch.arr, BATCH)).toBe(BATCH);
        await expectReads(ctx, batch, BATCH);
        // 0.1-2 ms: the helper has spun its 5 µs and sleeps on its futex
        sleepMs(0.1 + (pause() % 20) / 10);
      }
      if (twoCpus) expect(ctx.helperReads).toBeGreaterThan(0);
    } finally {
      ctx.destroy();
    }
  });

  test('destroy at random moments after a large submit (spinning, falling asleep, asleep): it returns, every thread joined', async () => {
    const threads0 = await settledCount(ownThreadCount);
    const pause = rng(0x1680);
    for (let round = 0; round < 100; round++) {
      const ctx = setup(64, { backend: 'threadpool', threads: 2 });
      const batch = readBatch(ctx, new Array(BATCH).fill(fd), BATCH, 0x1800 + round);
      expect(ctx.submitArray(batch.arr, BATCH)).toBe(BATCH);
      sleepMs((pause() % 100) / 1000);
      ctx.destroy();
    }
    expect(ownThreadCount()).toBe(threads0);
  });

  test('destroy right after large submits: every thread is joined, the helper included', async () => {
    // not io_uring's io-wq workers, nor idle pool workers an earlier file in this jest worker left to wind down
    const threads0 = await settledCount(ownThreadCount);
    const ctx = setup(256, { backend: 'threadpool', threads: 2 });
    for (let round = 0; round < 6; round++) {
      const batch = readBatch(ctx, new Array(BATCH).fill(fd), BATCH, 0x1660 + round);
      expect(ctx.submitArray(batch.arr, BATCH)).toBe(BATCH);
    }
    // the process's helper once a large run started it, and pool workers (at most the context's 2) for what would block
    expect(ownThreadCount()).toBeGreaterThanOrEqual(threads0 + (twoCpus ? 1 : 0));
    expect(ownThreadCount()).toBeLessThanOrEqual(threads0 + 2 + (twoCpus ? 1 : 0));
    ctx.destroy();
    expect(ownThreadCount()).toBe(threads0);
  });
});
