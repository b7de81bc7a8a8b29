// 25 backpressure: the promise calls queue past the ring's room, as
// node:fs's calls queue for the thread pool, and go to the engine in call
// order as completions free room (issue 13, row 7); the raw submit and
// submitArray keep io_submit's EAGAIN. Every promise settles exactly once;
// destroy rejects the calls still queued.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AioContext, AioError, alignedBuffer, IocbArray, IocbInit, setup, SetupOptions, SETUP_V2 } from '../../src/index';
import { directDir, patternByte, patternFile, tempDir } from '../helpers';

const BLOCK = 4096;
const BLOCKS = 8192;
const CALLS = 5000;

const contexts: AioContext[] = [];
function ctxOf(n: number, options?: SetupOptions): AioContext {
  const c = setup(n, options);
  contexts.push(c);
  return c;
}
afterEach(() => {
  for (const c of contexts.splice(0)) c.destroy();
});

/** Drop a file's pages from the page cache (dd's nocache is posix_fadvise DONTNEED). */
function dropCache(file: string): void {
  const fd = fs.openSync(file, 'r+');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

/** A fifo's two ends; its read end is not readable until something is written. */
function fifo(): { r: number; w: number } {
  const name = path.join(tempDir(), 'fifo');
  execFileSync('mkfifo', [name]);
  const r = fs.openSync(name, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  return { r, w: fs.openSync(name, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK) };
}

interface Outcome {
  /** how each call settled: its result, or its error's code */
  settled: (number | string)[];
  /** times any promise settled (a second settle of one promise would show here) */
  settles: number;
}

/** Start calls all at once; wait until every one has settled. */
async function allSettled(calls: (() => Promise<number>)[]): Promise<Outcome> {
  const settled: (number | string)[] = new Array(calls.length);
  let settles = 0;
  await Promise.all(
    calls.map((call, i) =>
      call().then(
        (n) => {
          settles++;
          settled[i] = n;
        },
        (e: AioError) => {
          settles++;
          settled[i] = e.code;
        },
      ),
    ),
  );
  return { settled, settles };
}

function positionOf(i: number): number {
  return ((i * 1237) % BLOCKS) * BLOCK;
}

/** 5,000 reads of a cold file at once, each checked against the pattern. */
async function coldReads(ctx: AioContext, fd: number, buffer: () => Uint8Array): Promise<{ outcome: Outcome; wrong: number }> {
  const buffers = Array.from({ length: CALLS }, buffer);
  const outcome = await allSettled(buffers.map((buf, i) => () => ctx.read(fd, buf, positionOf(i))));
  let wrong = 0;
  buffers.forEach((buf, i) => {
    const block = positionOf(i) / BLOCK;
    if (buf[0] !== patternByte(block, 0) || buf[BLOCK - 1] !== patternByte(block, BLOCK - 1)) wrong++;
  });
  return { outcome, wrong };
}

describe('25 backpressure: the promise calls queue past the ring', () => {
  let file: string;

  beforeAll(() => {
    file = patternFile(tempDir(), BLOCKS);
  });

  const configs: [string, SetupOptions][] = [
    ['legacy', {}],
    ['v2', { flags: SETUP_V2 }],
    ['threadpool', { backend: 'threadpool' }],
  ];

  test.each(configs)('row 7: 5,000 concurrent reads of a cold file on a small %s context all succeed with the right bytes', async (_, options) => {
    dropCache(file);
    const ctx = ctxOf(4, options);
    expect(ctx.capacity).toBeLessThan(CALLS / 4);
    const fd = fs.openSync(file, 'r');
    try {
      const { outcome, wrong } = await coldReads(ctx, fd, () => Buffer.alloc(BLOCK));
      expect(outcome.settles).toBe(CALLS);
      expect(outcome.settled.filter((r) => r !== BLOCK)).toEqual([]);
      expect(wrong).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });

  test('queued readv calls read into the buffers named at call time, whatever the caller does to its array after', async () => {
    dropCache(file);
    const ctx = ctxOf(4, { flags: SETUP_V2 });
    const fd = fs.openSync(file, 'r');
    try {
      const halves = Array.from({ length: 2000 }, () => [Buffer.alloc(BLOCK / 2), Buffer.alloc(BLOCK / 2)]);
      const calls = halves.map((pair, i) => () => {
        const array = [...pair];
        const p = ctx.readv(fd, array, positionOf(i));
        array.length = 0; // emptied at once, as the docs allow
        return p;
      });
      const outcome = await allSettled(calls);
      expect(outcome.settled.filter((r) => r !== BLOCK)).toEqual([]);
      const wrong = halves.filter((pair, i) => {
        const block = positionOf(i) / BLOCK;
        const got = Buffer.concat(pair);
        return got.some((byte, k) => byte !== patternByte(block, k));
      });
      expect(wrong.length).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });

  test('5,000 concurrent writes go to the engine in call order (a one-thread pool runs them in the order submitted)', async () => {
    const ctx = ctxOf(4, { backend: 'threadpool', threads: 1 });
    const out = path.join(tempDir(), 'out');
    const fd = fs.openSync(out, 'w+');
    try {
      const order: number[] = [];
      const data = Array.from({ length: CALLS }, (_, i) => Buffer.alloc(16, i & 0xff));
      const outcome = await allSettled(
        data.map((buf, i) => () =>
          ctx.write(fd, buf, i * 16).then((n) => {
            order.push(i);
            return n;
          }),
        ),
      );
      expect(outcome.settles).toBe(CALLS);
      expect(outcome.settled.filter((r) => r !== 16)).toEqual([]);
      expect(order).toEqual(data.map((_, i) => i));
      expect(fs.readFileSync(out).equals(Buffer.concat(data))).toBe(true);
    } finally {
      fs.closeSync(fd);
    }
  });

  test('a ring full of raw requests: submit and submitArray throw EAGAIN, promise calls wait behind them and run once room frees', async () => {
    const ctx = ctxOf(4, { backend: 'threadpool' });
    const { r, w } = fifo();
    const fd = fs.openSync(file, 'r');
    try {
      const polls: IocbInit[] = Array.from({ length: ctx.capacity }, (_, k) => ({ opcode: 'poll', fd: r, data: k }));
      expect(ctx.submit(polls)).toBe(ctx.capacity);
      expect(() => ctx.submit([{ opcode: 'noop', fd: 0 }])).toThrow(expect.objectContaining({ code: 'EAGAIN' }));
      const array = new IocbArray(1);
      array.setPlain(0, 'noop', 0, 0);
      expect(() => ctx.submitArray(array, 1)).toThrow(expect.objectContaining({ code: 'EAGAIN' }));

      const buffers = Array.from({ length: 10 }, () => Buffer.alloc(BLOCK));
      let settles = 0;
      const reads = buffers.map((buf, i) => ctx.read(fd, buf, positionOf(i)).finally(() => settles++));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(settles).toBe(0);

      fs.writeSync(w, 'x');
      expect(await Promise.all(reads)).toEqual(buffers.map(() => BLOCK));
      buffers.forEach((buf, i) => expect(buf[0]).toBe(patternByte(positionOf(i) / BLOCK, 0)));
      // every poll's event is there, once
      const events = await ctx.getEvents(ctx.capacity, ctx.capacity + 1, 10000);
      expect(events.map((e) => Number(e.data)).sort((a, b) => a - b)).toEqual(polls.map((_, k) => k));
      expect(await ctx.getEvents(0, 1, 0)).toEqual([]);
    } finally {
      fs.closeSync(fd);
      fs.closeSync(r);
      fs.closeSync(w);
    }
  });

  test('destroy rejects the promise calls still queued with ECANCELED, each once', async () => {
    const ctx = setup(4, { backend: 'threadpool' });
    const { r, w } = fifo();
    const fd = fs.openSync(file, 'r');
    try {
      ctx.submit(Array.from({ length: ctx.capacity }, (): IocbInit => ({ opcode: 'poll', fd: r })));
      const pending = allSettled(Array.from({ length: 10 }, (_, i) => () => ctx.read(fd, Buffer.alloc(BLOCK), positionOf(i))));
      const errors: AioError[] = [];
      const first = ctx.read(fd, Buffer.alloc(BLOCK), 0).catch((e: AioError) => errors.push(e));
      ctx.destroy();
      const outcome = await pending;
      await first;
      expect(outcome).toEqual({ settled: new Array(10).fill('ECANCELED'), settles: 10 });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(AioError);
      expect(errors[0]).toMatchObject({ code: 'ECANCELED', errno: -125, syscall: 'read' });
      expect(errors[0].message).toMatch(/destroyed before this request was submitted/);
    } finally {
      fs.closeSync(fd);
      fs.closeSync(r);
      fs.closeSync(w);
    }
  });
});

let direct: string | undefined;
try {
  direct = directDir();
} catch {
  process.stdout.write('skipping the O_DIRECT backpressure test: no filesystem here takes O_DIRECT\n');
}

(direct === undefined ? describe.skip : describe)('25 backpressure with O_DIRECT', () => {
  test.each([
    ['legacy', 0],
    ['v2', SETUP_V2],
  ])('row 7: 5,000 concurrent O_DIRECT reads on a small %s context all succeed with the right bytes', async (_, flags) => {
    const file = patternFile(direct!, BLOCKS);
    const ctx = ctxOf(4, { flags });
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
    try {
      const { outcome, wrong } = await coldReads(ctx, fd, () => alignedBuffer(BLOCK));
      expect(outcome.settles).toBe(CALLS);
      expect(outcome.settled.filter((r) => r !== BLOCK)).toEqual([]);
      expect(wrong).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });
});
