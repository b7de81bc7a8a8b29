// Child process for the soak (node --expose-gc): one context, `total`
// completions through it, printed as JSON. A process of its own, so resident memory, descriptors
// and threads are this context's and not what other test files left in a
// jest worker.
//
// The zero-allocation form all the way: a preallocated IocbArray,
// submitArray, reap into an EventBatch, and a 20 us nap when nothing is
// ready (completions land in the ring from the engine's threads, so the
// event loop is not needed to receive them). Seven in eight requests are
// noops (the pool), one in eight an 8-byte read of a tmpfs file (served
// inline): two kinds of producer into one ring.
import * as fs from 'node:fs';
import { setup, SETUP_V2 } from '../../src/context';
import { EventBatch } from '../../src/events';
import { IocbArray } from '../../src/iocb';
import { fdCount, threadCount } from '../helpers';

// usage: soak.ts <completions> <tmpfs file to read> <warm-up completions>
const [totalArg, file, warmArg] = process.argv.slice(2);
const TOTAL = Number(totalArg);
const WARM_UP = Number(warmArg);
const BATCH = 256;
const READ_EVERY = 8;
const READ_BYTES = 8;

/**
 * Resident memory after a full collection (node --expose-gc): what the
 * context and the process hold, not how far the JavaScript heap's garbage
 * had got since the last collection.
 */
function rssKb(): number {
  (globalThis as unknown as { gc: () => void }).gc();
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);
}

const nap = new Int32Array(new SharedArrayBuffer(4));
// one bit per cookie, touched now so its pages count before the warm-up
const seen = new Uint32Array(Math.ceil(TOTAL / 32));
seen.fill(1);
seen.fill(0);
const fd = fs.openSync(file, 'r');
// a first collection frees what compiling the modules left behind
rssKb();
const rssStart = rssKb();
const fds0 = fdCount();
const threads0 = threadCount();

const ctx = setup(2 * BATCH, { flags: SETUP_V2 });
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
let rssWarm = 0;
let tWarm = 0;
const samples: number[] = [];
const t0 = process.hrtime.bigint();

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
  if (rssWarm === 0 && completed >= WARM_UP) {
    rssWarm = rssKb();
    tWarm = Number(process.hrtime.bigint() - t0) / 1e9;
  }
  if (completed % 5_000_000 < n) samples.push(rssKb());
  if (n === 0 && submitted > completed) {
    Atomics.wait(nap, 0, 0, 0.02);
    tally.naps++;
  }
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const rssEnd = rssKb();
const layout = ctx.layout;
const backend = ctx.backend.name;
ctx.destroy();
const fdsAfter = fdCount();
const threadsAfter = threadCount();
fs.closeSync(fd);

let missing = 0;
for (let c = 0; c < TOTAL; c++) if ((seen[c >>> 5] & (1 << (c & 31))) === 0) missing++;

process.stdout.write(
  JSON.stringify({
    layout,
    backend,
    completed,
    missing,
    ...tally,
    seconds,
    warmUp: WARM_UP,
    warmSeconds: tWarm,
    rssStartKb: rssStart,
    rssWarmKb: rssWarm,
    rssEndKb: rssEnd,
    rssSamplesKb: samples,
    fds: [fds0, fdsDuring, fdsAfter],
    threads: [threads0, threadsDuring, threadsAfter],
  }),
);
