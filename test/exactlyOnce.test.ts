// 13 exactly once: a million random reads of random sizes through each
// backend and each ring layout; every read completes exactly once, with its
// own data cookie, the full size, and the bytes of the file at its position.
// Then a smaller run through the object form with O_DIRECT and the default
// backend (O_DIRECT goes to kernel AIO). io_uring has the million reads too.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AioContext, alignedBuffer, BackendName, setup, SETUP_V2 } from '../src/context';
import { EventBatch } from '../src/events';
import { IocbArray, IocbInit } from '../src/iocb';
import { describeKernel, describeUring, directDir, rng, tempDir, TMPFS_MAGIC } from './helpers';

const FILE_SIZE = 8 << 20;
const MAX_READ = 16384;
const IN_FLIGHT = 64;
const READS = 1_000_000;
const DIRECT_READS = 100_000;
const DIRECT_BLOCK = 4096;

/** Byte at absolute file position p: any shift of a read shows. */
function patternAt(p: number): number {
  return Math.imul(p ^ (p >>> 11), 0x9e3779b1) >>> 24;
}

function writePatternFile(dir: string): string {
  const file = path.join(dir, 'pattern-8MiB');
  const data = Buffer.alloc(FILE_SIZE);
  for (let p = 0; p < FILE_SIZE; p++) data[p] = patternAt(p);
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, data);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  return file;
}



/**
 * Bookkeeping shared by both forms: which cookie is in which buffer slot,
 * what it asked for, and whether it came back. Failures are collected, not
 * thrown per event, so a million checks cost little; the first few are kept.
 */
class Ledger {
  readonly seen: Uint8Array;
  readonly slotOfCookie: Int32Array;
  readonly slotCookie = new Int32Array(IN_FLIGHT).fill(-1);
  readonly slotPos = new Float64Array(IN_FLIGHT);
  readonly slotLen = new Int32Array(IN_FLIGHT);
  readonly free: number[] = [];
  completed = 0;
  failures = 0;
  readonly firstFailures: string[] = [];

  constructor(
    readonly total: number,
    private readonly bufferOf: (slot: number) => Uint8Array,
  ) {
    this.seen = new Uint8Array(total);
    this.slotOfCookie = new Int32Array(total).fill(-1);
    for (let s = IN_FLIGHT - 1; s >= 0; s--) this.free.push(s);
  }

  fail(msg: string): void {
    this.failures++;
    if (this.firstFailures.length < 10) this.firstFailures.push(msg);
  }

  /** Claim a slot for cookie; poison the bytes the check will look at. */
  start(cookie: number, pos: number, len: number): number {
    const slot = this.free.pop()!;
    this.slotCookie[slot] = cookie;
    this.slotPos[slot] = pos;
    this.slotLen[slot] = len;
    this.slotOfCookie[cookie] = slot;
    const buf = this.bufferOf(slot);
    const mid = len >>> 1;
    buf[0] = ~patternAt(pos) & 0xff;
    buf[mid] = ~patternAt(pos + mid) & 0xff;
    buf[len - 1] = ~patternAt(pos + len - 1) & 0xff;
    return slot;
  }

  /** A submit queued fewer than asked: the rest were never in flight. */
  unstart(cookie: number): void {
    const slot = this.slotOfCookie[cookie];
    this.slotOfCookie[cookie] = -1;
    this.slotCookie[slot] = -1;
    this.free.push(slot);
  }

  complete(cookie: number, res: number): void {
    if (!Number.isInteger(cookie) || cookie < 0 || cookie >= this.total) {
      this.fail(`unknown cookie ${String(cookie)} (res ${res})`);
      return;
    }
    if (this.seen[cookie] !== 0) {
      this.fail(`cookie ${cookie} completed twice`);
      return;
    }
    this.seen[cookie] = 1;
    this.completed++;
    const slot = this.slotOfCookie[cookie];
    if (slot < 0 || this.slotCookie[slot] !== cookie) {
      this.fail(`cookie ${cookie} completed but was not in flight`);
      return;
    }
    const pos = this.slotPos[slot];
    const len = this.slotLen[slot];
    if (res !== len) this.fail(`cookie ${cookie}: res ${res}, asked ${len} at ${pos}`);
    const buf = this.bufferOf(slot);
    const mid = len >>> 1;
    if (buf[0] !== patternAt(pos) || buf[mid] !== patternAt(pos + mid) || buf[len - 1] !== patternAt(pos + len - 1)) {
      this.fail(`cookie ${cookie}: wrong data for ${len} bytes at ${pos}`);
    }
    this.slotCookie[slot] = -1;
    this.free.push(slot);
  }

  /** Every cookie came back once, and nothing else. */
  verify(seed: number): void {
    let missing = 0;
    for (let c = 0; c < this.total; c++) if (this.seen[c] === 0) missing++;
    expect({ seed, failures: this.failures, first: this.firstFailures, missing, completed: this.completed }).toEqual({
      seed,
      failures: 0,
      first: [],
      missing: 0,
      completed: this.total,
    });
  }
}

/** Nothing is left in flight and nothing more arrives. */
async function expectQuiet(ctx: AioContext): Promise<void> {
  expect(ctx.inflight).toBe(0);
  expect(ctx.reap(new EventBatch(16))).toBe(0);
  expect(await ctx.getEvents(0, 16, 20)).toEqual([]);
}

interface RunOptions {
  inlineReads?: boolean;
  readHelper?: boolean;
}

/**
 * The zero-allocation path: registered buffer, IocbArray, submitArray,
 * reap. Returns how many reads the read helper thread served.
 */
async function zeroAllocRun(fd: number, backend: BackendName, flags: number, seed: number, options: RunOptions = {}): Promise<number> {
  const ctx = setup(2 * IN_FLIGHT, { backend, flags, ...options });
  try {
    expect(ctx.layout).toBe(flags & SETUP_V2 ? 'v2' : 'legacy');
    expect(ctx.backend.name).toBe(backend);
    const arena = new Uint8Array(IN_FLIGHT * MAX_READ);
    const views = Array.from({ length: IN_FLIGHT }, (_, s) => arena.subarray(s * MAX_READ, (s + 1) * MAX_READ));
    const bufIndex = ctx.registerBuffers([arena]);
    const ledger = new Ledger(READS, (s) => views[s]);
    const iocbs = new IocbArray(IN_FLIGHT);
    const batch = new EventBatch(IN_FLIGHT);
    const next = rng(seed);
    let submitted = 0;

    while (ledger.completed < READS && ledger.failures === 0) {
      // top up to IN_FLIGHT
      let k = 0;
      while (ledger.free.length > 0 && submitted + k < READS) {
        const len = 1 + (next() % MAX_READ);
        const pos = next() % (FILE_SIZE - len + 1);
        const cookie = submitted + k;
        const slot = ledger.start(cookie, pos, len);
        iocbs.setRead(k, fd, bufIndex, slot * MAX_READ, len, pos, cookie);
        k++;
      }
      if (k > 0) {
        const queued = ctx.submitArray(iocbs, k);
        for (let i = k - 1; i >= queued; i--) ledger.unstart(submitted + i);
        submitted += queued;
      }
      // what is ready, synchronously, straight from the ring
      const n = ctx.reap(batch);
      for (let i = 0; i < n; i++) ledger.complete(batch.data(i), batch.res(i));
      // nothing ready and nothing more to submit: wait for the producer
      if (n === 0 && (ledger.free.length === 0 || submitted === READS)) {
        for (const ev of await ctx.getEvents(1, IN_FLIGHT)) ledger.complete(typeof ev.data === 'number' ? ev.data : -1, ev.res);
      }
    }
    ledger.verify(seed);
    expect(submitted).toBe(READS);
    await expectQuiet(ctx);
    return ctx.helperReads;
  } finally {
    ctx.destroy();
  }
}

/**
 * 100,000 random O_DIRECT reads as objects (aligned sizes and offsets),
 * each checked to come back once with its own iocb. The caller destroys ctx.
 */
async function directObjectsRun(ctx: AioContext, directFd: number, seed: number): Promise<void> {
  const buffers = Array.from({ length: IN_FLIGHT }, () => alignedBuffer(MAX_READ));
  const ledger = new Ledger(DIRECT_READS, (s) => buffers[s]);
  const iocbOf: (IocbInit | undefined)[] = new Array(IN_FLIGHT).fill(undefined);
  const next = rng(seed);
  const blocks = FILE_SIZE / DIRECT_BLOCK;
  let submitted = 0;
  let wrongIocb = 0;

  while (ledger.completed < DIRECT_READS && ledger.failures === 0) {
    const batch: IocbInit[] = [];
    while (ledger.free.length > 0 && submitted + batch.length < DIRECT_READS) {
      const nblocks = 1 + (next() % (MAX_READ / DIRECT_BLOCK));
      const len = nblocks * DIRECT_BLOCK;
      const pos = (next() % (blocks - nblocks + 1)) * DIRECT_BLOCK;
      const cookie = submitted + batch.length;
      const slot = ledger.start(cookie, pos, len);
      const cb: IocbInit = { opcode: 'pread', fd: directFd, buffer: buffers[slot].subarray(0, len), position: pos, data: cookie };
      iocbOf[slot] = cb;
      batch.push(cb);
    }
    if (batch.length > 0) {
      const queued = ctx.submit(batch);
      for (let i = batch.length - 1; i >= queued; i--) ledger.unstart(submitted + i);
      submitted += queued;
    }
    for (const ev of await ctx.getEvents(1, IN_FLIGHT)) {
      const cookie = typeof ev.data === 'number' ? ev.data : -1;
      const slot = cookie >= 0 && cookie < DIRECT_READS ? ledger.slotOfCookie[cookie] : -1;
      if (slot >= 0 && ev.iocb !== iocbOf[slot]) wrongIocb++;
      ledger.complete(cookie, ev.res);
    }
  }
  ledger.verify(seed);
  expect(wrongIocb).toBe(0);
  expect(submitted).toBe(DIRECT_READS);
  await expectQuiet(ctx);
}

describe('13 exactly once: the thread pool', () => {
  let fd: number;
  beforeAll(() => {
    fd = fs.openSync(writePatternFile(tempDir()), 'r');
  });
  afterAll(() => fs.closeSync(fd));

  test('1,000,000 random reads by the worker threads, legacy ring: each completes once, right cookie, size and data', async () => {
    await zeroAllocRun(fd, 'threadpool', 0, 0x13a1, { inlineReads: false });
  });

  test('1,000,000 random reads by the worker threads, v2 ring: each completes once, right cookie, size and data', async () => {
    await zeroAllocRun(fd, 'threadpool', SETUP_V2, 0x13a2, { inlineReads: false });
  });

  // with two CPUs the read helper thread takes part of each large run
  const helperExpected = os.availableParallelism() > 1;

  test('1,000,000 random reads tried inline first (RWF_NOWAIT), shared with the read helper, legacy ring: each completes once', async () => {
    const helped = await zeroAllocRun(fd, 'threadpool', 0, 0x13a3);
    if (helperExpected) expect(helped).toBeGreaterThan(READS / 10);
    else expect(helped).toBe(0);
  });

  test('1,000,000 random reads tried inline first (RWF_NOWAIT), shared with the read helper, v2 ring: each completes once', async () => {
    const helped = await zeroAllocRun(fd, 'threadpool', SETUP_V2, 0x13a4);
    if (helperExpected) expect(helped).toBeGreaterThan(READS / 10);
    else expect(helped).toBe(0);
  });

  test('1,000,000 random reads inline on the submitting thread only (readHelper: false), v2 ring: each completes once', async () => {
    expect(await zeroAllocRun(fd, 'threadpool', SETUP_V2, 0x13a5, { readHelper: false })).toBe(0);
  });
});

describeKernel('13 exactly once: kernel AIO', () => {
  let fd: number;
  let directFd: number;
  beforeAll(() => {
    fd = fs.openSync(writePatternFile(tempDir()), 'r');
    const dir = directDir();
    expect(fs.statfsSync(dir).type).not.toBe(TMPFS_MAGIC);
    directFd = fs.openSync(writePatternFile(dir), fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  });
  afterAll(() => {
    fs.closeSync(fd);
    fs.closeSync(directFd);
  });

  test('1,000,000 random buffered reads through the kernel ring and the mover, legacy ring', async () => {
    await zeroAllocRun(fd, 'kernel', 0, 0x13b1);
  });

  test('1,000,000 random buffered reads through the kernel ring and the mover, v2 ring', async () => {
    await zeroAllocRun(fd, 'kernel', SETUP_V2, 0x13b2);
  });

  test('100,000 random O_DIRECT reads as objects, default backend (kernel AIO): each once, with its iocb', async () => {
    const ctx = setup(2 * IN_FLIGHT);
    try {
      expect(ctx.backend.name).toBe('auto');
      expect(ctx.backend.kernel).toBe(true);
      await directObjectsRun(ctx, directFd, 0x13c1);
    } finally {
      ctx.destroy();
    }
  });
});


describeUring('13 exactly once: io_uring', () => {
  let fd: number;
  let directFd: number;
  beforeAll(() => {
    fd = fs.openSync(writePatternFile(tempDir()), 'r');
    directFd = fs.openSync(writePatternFile(directDir()), fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  });
  afterAll(() => {
    fs.closeSync(fd);
    fs.closeSync(directFd);
  });

  // the registered arena is an io_uring fixed buffer: every read is READ_FIXED
  test('1,000,000 random buffered reads through io_uring (fixed buffers), legacy ring: each completes once, right cookie, size and data', async () => {
    await zeroAllocRun(fd, 'uring', 0, 0x13d1);
  });

  test('1,000,000 random buffered reads through io_uring (fixed buffers), v2 ring: each completes once, right cookie, size and data', async () => {
    await zeroAllocRun(fd, 'uring', SETUP_V2, 0x13d2);
  });

  test('100,000 random O_DIRECT reads as objects through io_uring, v2 ring: each once, with its iocb', async () => {
    const ctx = setup(2 * IN_FLIGHT, { backend: 'uring', flags: SETUP_V2 });
    try {
      await directObjectsRun(ctx, directFd, 0x13d3);
    } finally {
      ctx.destroy();
    }
  });
});
