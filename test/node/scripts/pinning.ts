// Run under node --expose-gc: requests whose caller keeps no reference to
// their buffers, held in flight behind a blocking read of an empty FIFO
// (the pool's only thread runs it, so the requests wait in the engine's queue).
// While they wait: gc(), then fresh buffers of the same size filled with
// FILL; then the FIFO is written, the requests run, and the report says
// whether the I/O used only its own buffers.
//
// argv: opcode (pread, pwrite, preadv, pwritev, transfer or byob), a directory.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { setup } from '../../../src/index';
import { patternByte } from '../../helpers';

const [opcode, dir] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc!;
const SIZE = 16384;
const REQUESTS = 32;
const VECTOR = 4;
const FRESH = 2000;
const FILL = 0xee;
/** the gate read's data cookie */
const GATE = 1_000_000;

const ctx = setup(256, { backend: 'threadpool', threads: 1, inlineReads: false, readHelper: false });
const fifo = path.join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);
// a blocking read of an empty FIFO holds the context's only worker (a poll
// would not: polls wait in the poll service), so the requests queue behind it
const gate = fs.openSync(fifo, fs.constants.O_RDWR);
const file = path.join(dir, 'data');
fs.writeFileSync(file, Buffer.from(Array.from({ length: REQUESTS * VECTOR * SIZE }, (_, i) => patternByte(i >> 14, i & (SIZE - 1)))));
const fd = fs.openSync(file, 'r+');
// the pool's one thread waits in this read until the FIFO is written
ctx.submit([{ opcode: 'pread', fd: gate, buffer: Buffer.alloc(1), position: 0, data: GATE }]);

/** The bytes the file holds (reads) or is to hold (writes) at buffer b of request r. */
function expected(r: number, v: number): Uint8Array {
  const b = r * VECTOR + v;
  return Uint8Array.from({ length: SIZE }, (_, i) => (opcode.startsWith('pwrite') ? patternByte(b + 7, i) : patternByte(b, i)));
}

/** Submit the requests, keeping only weak references to their buffers. */
function submitUnreferenced(weak: WeakRef<Uint8Array>[]): Promise<number[]> {
  const results: Promise<number>[] = [];
  for (let r = 0; r < REQUESTS; r++) {
    const position = r * VECTOR * SIZE;
    const vectored = opcode === 'preadv' || opcode === 'pwritev';
    const buffers = Array.from({ length: vectored ? VECTOR : 1 }, (_, v) => (opcode.startsWith('pwrite') ? expected(r, v) : new Uint8Array(SIZE)));
    for (const b of buffers) weak.push(new WeakRef(b));
    if (opcode === 'pread') results.push(ctx.read(fd, buffers[0], position));
    else if (opcode === 'pwrite') results.push(ctx.write(fd, buffers[0], position));
    else {
      ctx.submit([{ opcode: opcode as 'preadv' | 'pwritev', fd, buffers, position, data: r }]);
      buffers.length = 0; // the caller lets go of its array's contents
    }
  }
  if (results.length > 0) return Promise.all(results);
  return (async () => {
    const res: number[] = [];
    while (res.length < REQUESTS) for (const e of await ctx.getEvents(1, REQUESTS, 10000)) if (e.data !== GATE) res[Number(e.data)] = e.res;
    return res;
  })();
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

async function unreferenced(): Promise<Record<string, unknown>> {
  const weak: WeakRef<Uint8Array>[] = [];
  const done = submitUnreferenced(weak);
  await turn(); // a WeakRef keeps its target until the job that made it ends
  gc();
  gc();
  const collectedInFlight = weak.filter((w) => w.deref() === undefined).length;
  const fresh = Array.from({ length: FRESH }, () => new Uint8Array(SIZE).fill(FILL));
  fs.writeSync(gate, 'x');
  const res = await done;
  const overwritten = fresh.filter((b) => b.some((x) => x !== FILL)).length;
  const perRequest = (opcode === 'preadv' || opcode === 'pwritev' ? VECTOR : 1) * SIZE;
  let wrongData = 0;
  for (let r = 0; r < REQUESTS; r++) {
    for (let v = 0; v < perRequest / SIZE; v++) {
      const want = expected(r, v);
      const got = opcode.startsWith('pwrite') ? fs.readFileSync(file).subarray((r * VECTOR + v) * SIZE, (r * VECTOR + v + 1) * SIZE) : weak[r * (perRequest / SIZE) + v].deref();
      if (got === undefined || Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.byteLength), Buffer.from(want)) !== 0) wrongData++;
    }
  }
  return { collectedInFlight, overwritten, rightResults: res.filter((x) => x === perRequest).length, wrongData };
}

/** A read in flight, its buffer transferred away by structuredClone and by postMessage. */
async function transfer(): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = {};
  const bufs = [new Uint8Array(SIZE), new Uint8Array(SIZE)];
  const reads = bufs.map((b, i) => ctx.read(fd, b, i * SIZE));
  const ways: [string, (ab: ArrayBuffer) => ArrayBuffer | undefined][] = [
    ['structuredClone', (ab) => structuredClone(ab, { transfer: [ab] })],
    [
      'postMessage',
      (ab) => {
        const { port1, port2 } = new MessageChannel();
        port1.postMessage(ab, [ab]);
        port1.close();
        port2.close();
        return undefined;
      },
    ],
  ];
  const clones: (ArrayBuffer | undefined)[] = [];
  ways.forEach(([name, send], i) => {
    const ab = bufs[i].buffer as ArrayBuffer;
    try {
      clones.push(send(ab));
      report[name] = 'sent';
    } catch (e) {
      report[name] = (e as Error).name;
    }
    report[`${name}ByteLength`] = bufs[i].byteLength;
  });
  await turn();
  gc();
  fs.writeSync(gate, 'x');
  report.results = await Promise.all(reads);
  report.rightData = bufs.map((b, i) => b.byteLength === SIZE && b.every((x, k) => x === patternByte(i, k)));
  // a copy sent at transfer time holds what the buffer held then: nothing read yet
  report.cloneUntouched = clones[0] === undefined || new Uint8Array(clones[0]).every((x) => x === 0);
  return report;
}

/**
 * Reads in flight whose buffers a web stream's BYOB reader detaches (it
 * ignores the untransferable mark) and whose streams are then dropped, so
 * the memory's new owner is collected: the library must hold that memory
 * itself until the reads end, and fresh buffers must stay untouched.
 */
async function byob(): Promise<Record<string, unknown>> {
  await turn();
  gc();
  gc();
  const before = process.memoryUsage().arrayBuffers;
  let detached = 0;
  // in a function of its own, so no local of this frame keeps a stream alive
  (() => {
    for (let r = 0; r < REQUESTS; r++) {
      const buffer = new Uint8Array(SIZE);
      // submit, not read: a promise call is submitted a microtask later, and
      // a buffer detached before that is refused (EINVAL), not read into
      ctx.submit([{ opcode: 'pread', fd, buffer, position: r * VECTOR * SIZE, data: r }]);
      const stream = new ReadableStream({ type: 'bytes', pull() {} });
      void stream.getReader({ mode: 'byob' }).read(buffer);
      if (buffer.byteLength === 0) detached++;
    }
  })();
  await turn();
  for (let i = 0; i < 4; i++) gc();
  const fresh = Array.from({ length: FRESH }, () => new Uint8Array(SIZE).fill(FILL));
  fs.writeSync(gate, 'x');
  const res: number[] = [];
  while (res.length < REQUESTS) for (const e of await ctx.getEvents(1, REQUESTS, 10000)) if (e.data !== GATE) res.push(e.res);
  const overwritten = fresh.filter((b) => b.some((x) => x !== FILL)).length;
  fresh.length = 0;
  await turn();
  gc();
  gc();
  // the held memory went once the reads ended: the readers' buffers are gone
  const heldAfter = process.memoryUsage().arrayBuffers - before;
  return { detached, overwritten, rightResults: res.filter((x) => x === SIZE).length, heldAfterKiB: Math.round(heldAfter / 1024) };
}

const scenarios: Record<string, () => Promise<Record<string, unknown>>> = { transfer, byob };
(scenarios[opcode] ?? unreferenced)().then((report) => {
  ctx.destroy();
  fs.closeSync(gate);
  fs.closeSync(fd);
  process.stdout.write(`${JSON.stringify(report)}\n`);
});
