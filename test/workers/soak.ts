// Child process for the soak (plain node --expose-gc, on this file compiled
// ahead of time): one context, `total` completions through it, printed as
// JSON. A process of its own, so resident memory, descriptors and threads
// are this context's, not what other test files (or the TypeScript
// compiler) left in a jest worker.
//
// The zero-allocation form all the way: a preallocated IocbArray,
// submitArray, reap into an EventBatch, and a 20 us nap when nothing is
// ready (completions land in the ring from the engine's threads, so the
// event loop is not needed to receive them). Seven in eight requests are
// noops (the pool, or io_uring where auto chose it or backend 'uring' was
// asked), one in eight an 8-byte read of a tmpfs file (served inline, or by
// io_uring with 'uring'): two kinds of producer into one ring. Threads are
// counted without io_uring's io-wq workers (the kernel's; test/helpers.ts).
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import { setup, SETUP_V2 } from '../../src/context';
import { EventBatch } from '../../src/events';
import { IocbArray } from '../../src/iocb';
import { fdCount, ownThreadCount as threadCount } from '../helpers';

// usage: soak.ts <completions> <tmpfs file to read> <warm-up completions> [backend: auto | uring]
const [totalArg, file, warmArg, backendArg] = process.argv.slice(2);
const BACKEND = backendArg === 'uring' ? 'uring' : 'auto';
const TOTAL = Number(totalArg);
const WARM_UP = Number(warmArg);
const BATCH = 256;
const READ_EVERY = 8;
const READ_BYTES = 8;
const nap = new Int32Array(new SharedArrayBuffer(4));

/** Seconds spent measuring memory, taken out of the soak's time. */
let measuring = 0;

interface Resident {
  /** VmRSS: everything resident, pages of the node binary and libraries included */
  rss: number;
  /**
   * VmRSS less V8's young generation: after a full collection the young
   * generation holds nothing, and V8 resizes it (268 kB to 2 MB here) with
   * the allocation rate; that is V8's policy, not memory anything holds.
   */
  resident: number;
  /** RssAnon + RssShmem less the young generation: heap, stacks and rings, without pages of mapped files */
  held: number;
}

/**
 * Resident memory in kB after a full collection (node --expose-gc) and a
 * pause: what is held, not how far the JavaScript heap's garbage had got.
 * The least of four readings, as the collector's helper threads malloc and
 * trim arenas of their own; it returns pages from tasks that need the
 * event loop, hence the timers.
 */
async function resident(): Promise<Resident> {
  const t = process.hrtime.bigint();
  const gc = (globalThis as unknown as { gc: () => void }).gc;
  const read = (): Resident => {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]);
    const young = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.physical_space_size / 1024;
    return { rss: kb('VmRSS'), resident: kb('VmRSS') - young, held: kb('RssAnon') + kb('RssShmem') - young };
  };
  const least: Resident = { rss: Infinity, resident: Infinity, held: Infinity };
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = read();
    for (const k of ['rss', 'resident', 'held'] as const) least[k] = Math.min(least[k], now[k]);
  }
  measuring += Number(process.hrtime.bigint() - t) / 1e9;
  return least;
}

async function soak(): Promise<Record<string, unknown>> {
  // one bit per cookie, touched now so its pages count from the start
  const seen = new Uint32Array(Math.ceil(TOTAL / 32));
  seen.fill(1);
  seen.fill(0);
  const fd = fs.openSync(file, 'r');
  const start = await resident();
  const fds0 = fdCount();
  const threads0 = threadCount();

  const ctx = setup(2 * BATCH, { flags: SETUP_V2, backend: BACKEND });
  const fdsDuring = fdCount();
  const threadsDuring = threadCount();
  const buffer = Buffer.alloc(BATCH * READ_BYTES);
  const bufferIndex = ctx.registerBuffers([buffer]);
  const iocbs = new IocbArray(BATCH);
  const batch = new EventBatch(BATCH);

  let submitted = 0;
  let completed = 0;
  /** what went wrong (all must stay 0) and how often the loop napped */
  const tally = { duplicates: 0, badRes: 0, refused: 0, naps: 0 };
  let warm: Resident | undefined;
  let warmSeconds = 0;
  const samples: Resident[] = [];
  const t0 = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - t0) / 1e9 - measuring;

  while (completed < TOTAL) {
    const room = Math.min(BATCH, TOTAL - submitted, ctx.capacity - (submitted - completed));
    if (room > 0) {
      for (let i = 0; i < room; i++) {
        const cookie = submitted + i;
        if (cookie % READ_EVERY === 0) iocbs.setRead(i, fd, bufferIndex, i * READ_BYTES, READ_BYTES, cookie & 4088, cookie);
        else iocbs.setPlain(i, 'noop', fd, cookie);
      }
      const queued = ctx.submitArray(iocbs, room);
      if (queued < room) tally.refused++;
      submitted += queued;
    }
    const n = ctx.reap(batch);
    for (let i = 0; i < n; i++) {
      const cookie = batch.data(i);
      const bit = 1 << (cookie & 31);
      if (seen[cookie >>> 5] & bit) tally.duplicates++;
      seen[cookie >>> 5] |= bit;
      if (batch.res(i) !== (cookie % READ_EVERY === 0 ? READ_BYTES : 0)) tally.badRes++;
    }
    completed += n;
    if (warm === undefined && completed >= WARM_UP) {
      warmSeconds = elapsed();
      warm = await resident();
    }
    if (completed % 5_000_000 < n) samples.push(await resident());
    if (n === 0 && submitted > completed) {
      Atomics.wait(nap, 0, 0, 0.02);
      tally.naps++;
    }
  }
  const seconds = elapsed();
  const end = await resident();
  const { layout } = ctx;
  const backend = ctx.backend.name + (ctx.backend.uring ? ' on io_uring' : '');
  ctx.destroy();
  // its kernel context and eventfd go after destroy returns
  await ctx.closed;
  const fdsAfter = fdCount();
  const threadsAfter = threadCount();
  fs.closeSync(fd);

  let missing = 0;
  for (let c = 0; c < TOTAL; c++) if ((seen[c >>> 5] & (1 << (c & 31))) === 0) missing++;
  return {
    layout,
    backend,
    completed,
    missing,
    ...tally,
    seconds,
    warmUp: WARM_UP,
    warmSeconds,
    residentKb: { start, warm, end, every5M: samples },
    fds: [fds0, fdsDuring, fdsAfter],
    threads: [threads0, threadsDuring, threadsAfter],
  };
}

// run from the event loop: resident()'s collections need its tasks
setImmediate(async () => process.stdout.write(JSON.stringify(await soak())));
