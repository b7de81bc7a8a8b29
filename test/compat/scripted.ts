// One scripted sequence of submits and reaps, run on a real kernel context
// (io_setup) and an aioring legacy context side by side, recording what
// each ring shows after every step: nr, head, tail, count and the events
// reaped. Used by `14 legacy is the kernel` and the compatibility suite's
// differential tier.
//
// The reads are buffered reads of a tmpfs file: the kernel completes those
// inside io_submit, so its ring is deterministic; the aioring context is
// given until it has nothing in flight before each comparison.
import { AioContext, IoEventResult, setup, SETUP_KERNEL_RING, SetupOptions } from '../../src/context';
import { EventBatch } from '../../src/events';
import { IocbInit } from '../../src/iocb';
import { kernelSetup, KernelContext } from '../../src/kernel';
import { LegacyRing } from '../../src/legacyRing';
import { legacyNr } from '../../src/sizing';
import { patternByte, rng, sleepMs } from '../helpers';

/** The file the script reads: BLOCKS blocks of BLOCK bytes of patternByte. */
export const BLOCK = 512;
export const BLOCKS = 64;
/** How many times a script wraps the ring. */
export const WRAPS = 4;

export type Step = { op: 'submit'; k: number } | { op: 'reap'; m: number } | { op: 'getevents'; m: number };

/** What one side shows after a step. */
export interface Seen {
  step: string;
  got: number;
  cookies?: number[];
  nr: number;
  head: number;
  tail: number;
  count: number;
}

/** The contexts of a run in progress, for the caller's afterEach to destroy. */
export interface Sides {
  k?: KernelContext;
  a?: AioContext;
}

/**
 * A script that wraps a ring of nr entries WRAPS times, keeping at most
 * limit events unreaped. Edge cases first: reap on an empty ring, reap more
 * than is there, fill to the limit, reap all; then random steps.
 */
export function script(nr: number, limit: number, seed: number): Step[] {
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

function position(c: number): number {
  return (c % BLOCKS) * BLOCK;
}

/** Every read delivered the block its cookie names. */
function dataOk(c: number, buf: Uint8Array): boolean {
  const b = c % BLOCKS;
  return buf.length === BLOCK && [0, 1, BLOCK >> 1, BLOCK - 1].every((i) => buf[i] === patternByte(b, i));
}

export type ScriptRun = Awaited<ReturnType<typeof runBoth>>;

/**
 * Run the script on a kernel context and an aioring legacy context made by
 * setup(n, options) side by side, reading fd (a file of BLOCKS blocks of
 * patternByte); returns both traces and every cookie in the order each ring
 * gave them.
 */
export async function runBoth(fd: number, n: number, options: SetupOptions, seed: number, open: Sides) {
  const kctx = (open.k = kernelSetup(n));
  const actx = (open.a = setup(n, options));
  const kring = new LegacyRing(kctx.ring);
  const aring = actx.ring;
  if (!(aring instanceof LegacyRing)) throw new Error('setup(n) without SETUP_V2 must give a legacy ring');
  expect(actx.layout).toBe('legacy');
  expect(actx.backend.name).toBe((options.flags ?? 0) & SETUP_KERNEL_RING ? 'kernel-ring' : options.backend);
  expect(kring.nr).toBe(legacyNr(n));

  const nr = kring.nr;
  // the kernel's free-slot accounting is per CPU (req_batch): stay well inside it
  const limit = Math.floor((nr - 1) / 2);
  const steps = script(nr, limit, seed);
  // room for the largest reap a script asks for
  const kBatch = new EventBatch(nr);
  const aBatch = new EventBatch(nr);
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

/** Every event came out of each ring exactly once, with its data; the script wrapped the ring and ended empty. */
export function expectWholeRun(r: ScriptRun): void {
  const all = Array.from({ length: r.cookie }, (_, c) => c);
  expect([...r.kOrder].sort((x, y) => x - y)).toEqual(all);
  expect([...r.aOrder].sort((x, y) => x - y)).toEqual(all);
  expect({ badData: r.badData, badRes: r.badRes, kLeft: r.kLeft, aLeft: r.aLeft }).toEqual({ badData: 0, badRes: 0, kLeft: 0, aLeft: 0 });
  expect(r.tailWraps).toBeGreaterThanOrEqual(WRAPS - 1);
  expect(r.cookie).toBeGreaterThan(WRAPS * r.nr);
  const last = r.kTrace[r.kTrace.length - 1];
  expect(last.head).toBe(last.tail);
}

/** Both rings showed the same at every step, gave the same events in the same order, and the run was whole. */
export function expectSameRun(r: ScriptRun): void {
  expect(r.aTrace).toEqual(r.kTrace);
  expect(r.aOrder).toEqual(r.kOrder);
  expectWholeRun(r);
}

/** Destroy what a run left open (for afterEach). */
export function closeSides(open: Sides): void {
  open.k?.destroy();
  open.a?.destroy();
  open.k = open.a = undefined;
}

/** The positions of a trace without the cookies (for runs whose completions may reorder). */
export function positions(t: Seen[]): Omit<Seen, 'cookies'>[] {
  return t.map(({ step, got, nr, head, tail, count }) => ({ step, got, nr, head, tail, count }));
}
