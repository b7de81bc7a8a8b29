// 14 legacy is the kernel: for the same scripted sequence of submits and
// reaps, an aioring context in legacy mode shows the same ring as a real
// kernel context (io_setup) at every step: the same nr, head and tail, the
// same events in the same order, across several wraps.
//
// The reads are buffered reads of a tmpfs file: the kernel completes those
// inside io_submit, so its ring is deterministic; the aioring context is
// given until it has nothing in flight before each comparison.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { AioContext, BackendName, IoEventResult, setup } from '../src/context';
import { EventBatch } from '../src/events';
import { IocbInit } from '../src/iocb';
import { kernelSetup, KernelContext } from '../src/kernel';
import { LegacyRing } from '../src/legacyRing';
import { legacyNr } from '../src/sizing';
import { describeKernel, patternByte, patternFile, rng, tempDir } from './helpers';

const BLOCK = 512;
const BLOCKS = 64;
const TMPFS_MAGIC = 0x01021994;
const WRAPS = 4;

type Step = { op: 'submit'; k: number } | { op: 'reap'; m: number } | { op: 'getevents'; m: number };

/** What one side shows after a step. */
interface Seen {
  step: string;
  got: number;
  cookies?: number[];
  nr: number;
  head: number;
  tail: number;
  count: number;
}


/**
 * A script that wraps a ring of nr entries WRAPS times, keeping at most
 * limit events unreaped. Edge cases first: reap on an empty ring, reap more
 * than is there, fill to the limit, reap all; then random steps.
 */
function script(nr: number, limit: number, seed: number): Step[] {
  const next = rng(seed);
  const steps: Step[] = [
    { op: 'reap', m: 1 },
    { op: 'getevents', m: 4 },
    { op: 'submit', k: 1 },
    { op: 'reap', m: 0 },
    { op: 'reap', m: 5 },
    { op: 'submit', k: limit },
    { op: 'reap', m: limit - 1 },
    { op: 'getevents', m: 1 },
    { op: 'reap', m: 1 },
  ];
  let unreaped = 0;
  let total = 0;
  for (const s of steps) {
    if (s.op === 'submit') {
      unreaped += s.k;
      total += s.k;
    } else {
      unreaped -= Math.min(s.m, unreaped);
    }
  }
  while (total < WRAPS * nr + 3) {
    const r = next() % 10;
    if (r < 4 && unreaped < limit) {
      const k = 1 + (next() % (limit - unreaped));
      steps.push({ op: 'submit', k });
      unreaped += k;
      total += k;
    } else if (r < 6) {
      const m = 1 + (next() % (unreaped + 2));
      steps.push({ op: 'getevents', m });
      unreaped -= Math.min(m, unreaped);
    } else {
      const m = next() % (unreaped + 3);
      steps.push({ op: 'reap', m });
      unreaped -= Math.min(m, unreaped);
    }
  }
  steps.push({ op: 'reap', m: unreaped + 1 }, { op: 'reap', m: 1 });
  return steps;
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function position(c: number): number {
  return (c % BLOCKS) * BLOCK;
}

/** Every read delivered the block its cookie names. */
function dataOk(c: number, buf: Uint8Array): boolean {
  const b = c % BLOCKS;
  return buf.length === BLOCK && [0, 1, BLOCK >> 1, BLOCK - 1].every((i) => buf[i] === patternByte(b, i));
}

describeKernel('14 legacy is the kernel', () => {
  let fd: number;
  let dir: string;
  const open: { k?: KernelContext; a?: AioContext } = {};

  beforeAll(() => {
    // tmpfs (/dev/shm) when there is one: buffered reads complete inside io_submit
    dir = tempDir(fs.existsSync('/dev/shm') && fs.statfsSync('/dev/shm').type === TMPFS_MAGIC ? '/dev/shm' : os.tmpdir());
    fd = fs.openSync(patternFile(dir, BLOCKS, BLOCK), 'r');
  });
  afterAll(() => fs.closeSync(fd));
  afterEach(() => {
    open.k?.destroy();
    open.a?.destroy();
    open.k = open.a = undefined;
  });

  test('the file is on tmpfs, so the kernel completes the reads inside io_submit', () => {
    expect(fs.statfsSync(dir).type).toBe(TMPFS_MAGIC);
  });

  /**
   * Run the script on a kernel context and an aioring context side by side;
   * returns both traces and every cookie in the order each ring gave them.
   */
  async function runBoth(n: number, backend: BackendName, threads: number, seed: number) {
    const kctx = (open.k = kernelSetup(n));
    const actx = (open.a = setup(n, { backend, threads }));
    const kring = new LegacyRing(kctx.ring);
    const aring = actx.ring;
    if (!(aring instanceof LegacyRing)) throw new Error('setup(n) without SETUP_V2 must give a legacy ring');
    expect(actx.layout).toBe('legacy');
    expect(actx.backend.name).toBe(backend);
    expect(kring.nr).toBe(legacyNr(n));

    const nr = kring.nr;
    // the kernel's free-slot accounting is per CPU (req_batch): stay well inside it
    const limit = Math.floor((nr - 1) / 2);
    const steps = script(nr, limit, seed);
    const kBatch = new EventBatch(1024);
    const aBatch = new EventBatch(1024);
    const kTrace: Seen[] = [];
    const aTrace: Seen[] = [];
    const kOrder: number[] = [];
    const aOrder: number[] = [];
    const kBufs = new Map<number, Uint8Array>();
    const aBufs = new Map<number, Uint8Array>();
    let badData = 0;
    let badRes = 0;
    let cookie = 0;
    let tailWraps = 0;
    let lastTail = kring.tail;

    const show = (ring: LegacyRing, step: string, got: number, cookies?: number[]): Seen => ({
      step,
      got,
      ...(cookies ? { cookies } : {}),
      nr: ring.nr,
      head: ring.head,
      tail: ring.tail,
      count: ring.count(),
    });
    const took = (order: number[], bufs: Map<number, Uint8Array>, c: number, res: number): void => {
      order.push(c);
      if (res !== BLOCK) badRes++;
      const buf = bufs.get(c);
      if (buf === undefined || !dataOk(c, buf)) badData++;
      bufs.delete(c);
    };

    // the starting state
    kTrace.push(show(kring, 'setup', 0));
    aTrace.push(show(aring, 'setup', 0));

    for (const [i, s] of steps.entries()) {
      const label = `${i}: ${s.op} ${s.op === 'submit' ? s.k : s.m}`;
      if (s.op === 'submit') {
        const cookies = Array.from({ length: s.k }, (_, j) => cookie + j);
        cookie += s.k;
        const kb = cookies.map(() => new Uint8Array(BLOCK));
        const ab = cookies.map(() => new Uint8Array(BLOCK));
        cookies.forEach((c, j) => {
          kBufs.set(c, kb[j]);
          aBufs.set(c, ab[j]);
        });
        const kGot = kctx.submitReads(fd, kb, cookies.map(position), cookies);
        const iocbs: IocbInit[] = cookies.map((c, j) => ({ opcode: 'pread', fd, buffer: ab[j], position: position(c), data: c }));
        const aGot = actx.submit(iocbs);
        const deadline = Date.now() + 10000;
        while (actx.inflight > 0 && Date.now() < deadline) sleepMs(1);
        expect(actx.inflight).toBe(0);
        kTrace.push(show(kring, label, kGot));
        aTrace.push(show(aring, label, aGot));
      } else if (s.op === 'reap') {
        const kGot = kring.reap(kBatch, s.m);
        const aGot = actx.reap(aBatch, s.m);
        const kc: number[] = [];
        const ac: number[] = [];
        for (let j = 0; j < kGot; j++) {
          kc.push(kBatch.data(j));
          took(kOrder, kBufs, kBatch.data(j), kBatch.res(j));
        }
        for (let j = 0; j < aGot; j++) {
          ac.push(aBatch.data(j));
          took(aOrder, aBufs, aBatch.data(j), aBatch.res(j));
        }
        kTrace.push(show(kring, label, kGot, kc));
        aTrace.push(show(aring, label, aGot, ac));
      } else {
        // io_getevents on the kernel's side, getEvents on aioring's: both reap the ring too
        const pairs = kctx.getEvents(0, s.m, 0);
        const events: IoEventResult[] = await actx.getEvents(0, s.m, 0);
        const kc: number[] = [];
        const ac: number[] = [];
        for (let j = 0; j < pairs.length; j += 2) {
          kc.push(pairs[j]);
          took(kOrder, kBufs, pairs[j], pairs[j + 1]);
        }
        for (const ev of events) {
          const c = typeof ev.data === 'number' ? ev.data : -1;
          ac.push(c);
          took(aOrder, aBufs, c, ev.res);
        }
        kTrace.push(show(kring, label, kc.length, kc));
        aTrace.push(show(aring, label, ac.length, ac));
      }
      if (kring.tail < lastTail) tailWraps++;
      lastTail = kring.tail;
    }
    return { nr, kTrace, aTrace, kOrder, aOrder, cookie, tailWraps, badData, badRes, kLeft: kBufs.size, aLeft: aBufs.size };
  }

  function expectWholeRun(r: Awaited<ReturnType<typeof runBoth>>): void {
    // every event came out of each ring exactly once, with its data
    const all = Array.from({ length: r.cookie }, (_, c) => c);
    expect([...r.kOrder].sort((x, y) => x - y)).toEqual(all);
    expect([...r.aOrder].sort((x, y) => x - y)).toEqual(all);
    expect({ badData: r.badData, badRes: r.badRes, kLeft: r.kLeft, aLeft: r.aLeft }).toEqual({ badData: 0, badRes: 0, kLeft: 0, aLeft: 0 });
    // the script wrapped the ring several times and ended empty
    expect(r.tailWraps).toBeGreaterThanOrEqual(WRAPS - 1);
    expect(r.cookie).toBeGreaterThan(WRAPS * r.nr);
    const last = r.kTrace[r.kTrace.length - 1];
    expect(last.head).toBe(last.tail);
  }

  for (const n of [1, 4, 100, 128]) {
    for (const backend of ['threadpool', 'kernel'] as const) {
      // one pool thread runs requests in submission order, as the kernel does here
      test(`io_setup(${n}) vs setup(${n}, { backend: '${backend}' }): same nr, head, tail at every step, same events in the same order`, async () => {
        const r = await runBoth(n, backend, backend === 'threadpool' ? 1 : 0, 0x1400 + n);
        expect(r.aTrace).toEqual(r.kTrace);
        expect(r.aOrder).toEqual(r.kOrder);
        expectWholeRun(r);
      });
    }
  }

  test('with 4 pool threads completions may reorder, but nr, head and tail still match at every step', async () => {
    const r = await runBoth(100, 'threadpool', 4, 0x14ff);
    const positions = (t: Seen[]) => t.map(({ step, got, nr, head, tail, count }) => ({ step, got, nr, head, tail, count }));
    expect(positions(r.aTrace)).toEqual(positions(r.kTrace));
    expectWholeRun(r);
  });
});
