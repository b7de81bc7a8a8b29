// 36 streams: createReadStream/createWriteStream over a context, held to
// fs.createReadStream/fs.createWriteStream on the same files: the bytes,
// the chunks, the events in order, the error codes, start/end, backpressure.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { AioContext, createReadStream, createWriteStream, setup } from '../src/index';
import { open } from '../src/files/open';
import { patternFile, removeTempDirs, tempDir } from './helpers';

interface ReadOutcome {
  chunks: number[];
  text: string;
  events: string[];
}

const EVENTS = ['end', 'close', 'finish', 'error'];

function record(stream: Readable | Writable, events: string[]): void {
  for (const name of EVENTS) {
    stream.on(name, (e?: NodeJS.ErrnoException) => events.push(name === 'error' ? `error ${e?.code} ${e?.syscall}` : name));
  }
}

interface Closing {
  autoClose?: boolean;
  emitClose?: boolean;
}

/** Whether a stream with these options emits 'close' when done. */
function closes(options: Closing): boolean {
  return options.autoClose !== false && options.emitClose !== false;
}

/** Read a stream to its end (or error), recording its chunks and events. */
async function drain(stream: Readable, options: Closing = {}): Promise<ReadOutcome> {
  const out: ReadOutcome = { chunks: [], text: '', events: [] };
  const parts: Buffer[] = [];
  record(stream, out.events);
  stream.on('data', (d: Buffer | string) => {
    out.chunks.push(d.length);
    parts.push(typeof d === 'string' ? Buffer.from(d, 'latin1') : d);
  });
  await new Promise<void>((resolve) => {
    stream.once('close', () => resolve());
    if (!closes(options)) stream.once('end', () => setImmediate(resolve));
  });
  await new Promise((r) => setImmediate(r));
  out.text = Buffer.concat(parts).toString('latin1');
  return out;
}

async function nodeRead(file: string, options: Record<string, unknown>): Promise<ReadOutcome> {
  return drain(fs.createReadStream('', { ...options, fd: fs.openSync(file, 'r') }), options);
}

describe('36 streams', () => {
  const dir = tempDir();
  let ctx: AioContext;
  let n = 0;
  const fresh = (): string => path.join(dir, `w${n++}`);
  // 1 MiB + 123 bytes: the last chunk is short
  const file = path.join(dir, 'source');
  fs.writeFileSync(file, Buffer.concat([fs.readFileSync(patternFile(dir, 256)), Buffer.alloc(123, 7)]));
  const size = fs.statSync(file).size;

  beforeEach(() => {
    ctx = setup(128);
  });
  afterEach(() => ctx.destroy());
  afterAll(removeTempDirs);

  const ours = (options: Record<string, unknown> = {}): Promise<ReadOutcome> =>
    drain(createReadStream(ctx, fs.openSync(file, 'r'), options), options);

  describe('createReadStream against fs.createReadStream', () => {
    test.each([
      ['defaults', {}],
      ['highWaterMark 4096', { highWaterMark: 4096 }],
      ['highWaterMark 1000, depth 16', { highWaterMark: 1000, depth: 16 }],
      // node:fs reads highWaterMark bytes per read: none at 0, so it ends at once
      ['highWaterMark 0', { highWaterMark: 0 }],
      ['highWaterMark 0, start 100, end 199', { highWaterMark: 0, start: 100, end: 199 }],
      ['highWaterMark 1, end 99', { highWaterMark: 1, end: 99 }],
      ['depth 1', { depth: 1 }],
      ['start 100', { start: 100 }],
      ['start 100, end 199', { start: 100, end: 199 }],
      ['start = end', { start: 5, end: 5 }],
      ['end 0', { end: 0 }],
      ['start at the end of the file', { start: size }],
      ['start past the end', { start: size + 4096 }],
      ['end past the end', { start: size - 10, end: size + 100 }],
      ['end at a chunk boundary', { end: 65535 }],
      ['encoding latin1', { encoding: 'latin1', highWaterMark: 3000 }],
      ['autoClose false', { autoClose: false }],
      ['emitClose false', { emitClose: false }],
    ])('%s: the same bytes, chunks and events', async (_name, options) => {
      const theirs = await nodeRead(file, options);
      const mine = await ours(options);
      expect(mine.text.length).toBe(theirs.text.length);
      expect(mine.text === theirs.text).toBe(true);
      expect(mine.chunks).toEqual(theirs.chunks);
      expect(mine.events).toEqual(theirs.events);
    });

    test('an empty file', async () => {
      const empty = fresh();
      fs.writeFileSync(empty, '');
      const theirs = await nodeRead(empty, {});
      const mine = await drain(createReadStream(ctx, fs.openSync(empty, 'r')));
      expect(mine).toEqual(theirs);
    });

    test('the fd is closed when the stream is done, unless autoClose is false', async () => {
      const fd = fs.openSync(file, 'r');
      await drain(createReadStream(ctx, fd));
      expect(() => fs.fstatSync(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
      const kept = fs.openSync(file, 'r');
      await drain(createReadStream(ctx, kept, { autoClose: false }), { autoClose: false });
      expect(fs.fstatSync(kept).size).toBe(size);
      fs.closeSync(kept);
    });

    test('a directory: the same error code and events', async () => {
      const theirs = await drain(fs.createReadStream('', { fd: fs.openSync(dir, 'r') }));
      const mine = await drain(createReadStream(ctx, fs.openSync(dir, 'r')));
      expect(theirs.events).toEqual(['error EISDIR read', 'close']);
      expect(mine.events).toEqual(theirs.events);
    });

    test('a write-only fd: EBADF, as node:fs', async () => {
      const w = fresh();
      fs.writeFileSync(w, 'abc');
      const theirs = await drain(fs.createReadStream('', { fd: fs.openSync(w, 'w') }));
      const mine = await drain(createReadStream(ctx, fs.openSync(w, 'w')));
      expect(theirs.events).toEqual(['error EBADF read', 'close']);
      // the code and the events; the syscall is io_submit's (the promise read reports a submit-time errno so)
      expect(mine.events.map((e) => e.replace(' io_submit', ' read'))).toEqual(theirs.events);
    });

    test.each([
      [{ start: 5, end: 2 }],
      [{ start: -1 }],
      [{ start: '1' }],
      [{ end: -1 }],
      [{ start: 1.5 }],
      [{ start: 2 ** 53 }],
      [{ highWaterMark: -1 }],
      [{ highWaterMark: 'x' }],
    ])('bad options %j throw what node:fs throws', (options) => {
      const fd = fs.openSync(file, 'r');
      let theirs: NodeJS.ErrnoException | undefined;
      try {
        fs.createReadStream('', { ...options, fd } as never);
      } catch (e) {
        theirs = e as NodeJS.ErrnoException;
      }
      expect(theirs).toBeDefined();
      expect(() => createReadStream(ctx, fd, options as never)).toThrow(
        expect.objectContaining({ code: theirs!.code, message: theirs!.message }),
      );
      fs.closeSync(fd);
    });

    test('bad depth and fd', () => {
      const fd = fs.openSync(file, 'r');
      expect(() => createReadStream(ctx, fd, { depth: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      expect(() => createReadStream(ctx, fd, { depth: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      expect(() => createReadStream(ctx, -1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      fs.closeSync(fd);
    });

    test('depth reads in flight, and no more while nobody consumes (backpressure)', async () => {
      const big = path.join(dir, 'big');
      fs.writeFileSync(big, Buffer.alloc(16 << 20, 1));
      const stream = createReadStream(ctx, fs.openSync(big, 'r'), { highWaterMark: 65536, depth: 4 });
      let peak = 0;
      stream.on('readable', () => undefined);
      for (let i = 0; i < 200 && (i < 2 || ctx.inflight > 0); i++) {
        peak = Math.max(peak, ctx.inflight);
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(peak).toBeLessThanOrEqual(4);
      expect(ctx.inflight).toBe(0);
      expect(stream.bytesRead).toBeLessThanOrEqual(5 * 65536);
      expect(stream.readableLength).toBeLessThanOrEqual(5 * 65536);
      let total = stream.readableLength;
      stream.removeAllListeners('readable');
      stream.on('data', (d: Buffer) => (total += d.length));
      await finished(stream);
      expect(total - stream.readableLength).toBeGreaterThan(0);
      expect(stream.bytesRead).toBe(16 << 20);
    });

    test('destroy() mid-flight: every read settles once, the fd closes, close follows', async () => {
      const fd = fs.openSync(file, 'r');
      const stream = createReadStream(ctx, fd, { highWaterMark: 4096, depth: 8 });
      const events: string[] = [];
      record(stream, events);
      stream.once('data', () => stream.destroy());
      await new Promise((r) => stream.once('close', r));
      expect(events).toEqual(['close']);
      expect(ctx.inflight).toBe(0);
      expect(() => fs.fstatSync(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    });

    test('destroy(error) mid-flight: error then close', async () => {
      const stream = createReadStream(ctx, fs.openSync(file, 'r'), { highWaterMark: 4096, depth: 8 });
      const events: string[] = [];
      record(stream, events);
      stream.once('data', () => stream.destroy(Object.assign(new Error('stop'), { code: 'ESTOP', syscall: 'x' })));
      await new Promise((r) => stream.once('close', r));
      expect(events).toEqual(['error ESTOP x', 'close']);
      expect(ctx.inflight).toBe(0);
    });

    test('a destroyed context: the stream errors with EINVAL and closes', async () => {
      const other = setup(8);
      const stream = createReadStream(other, fs.openSync(file, 'r'));
      other.destroy();
      const { events } = await drain(stream);
      expect(events).toEqual(['error EINVAL read', 'close']);
    });
  });

  describe('createWriteStream against fs.createWriteStream', () => {
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1000 + i * 97, i));

    async function writeAll(
      stream: Writable,
      data: (Buffer | string)[],
      options: Closing = {},
    ): Promise<{ events: string[]; returns: boolean[] }> {
      const events: string[] = [];
      const returns: boolean[] = [];
      record(stream, events);
      stream.on('drain', () => events.push('drain'));
      for (const c of data) {
        const more = stream.write(c);
        returns.push(more);
        if (!more && !stream.destroyed) await new Promise((r) => stream.once('drain', r));
      }
      stream.end();
      await new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        if (!closes(options)) stream.once('finish', () => setImmediate(resolve));
      });
      await new Promise((r) => setImmediate(r));
      return { events, returns };
    }

    test.each([
      ['defaults', {}],
      ['start 10 into an existing file', { start: 10 }],
      ['depth 1', { depth: 1 }],
      ['highWaterMark 1, depth 1', { highWaterMark: 1, depth: 1 }],
      ['depth 32', { depth: 32 }],
      ['autoClose false', { autoClose: false }],
      ['emitClose false', { emitClose: false }],
    ])('%s: the same file and events; each false write() followed by drain', async (_name, options) => {
      const a = fresh();
      const b = fresh();
      fs.writeFileSync(a, Buffer.alloc(50000, 0xee));
      fs.writeFileSync(b, Buffer.alloc(50000, 0xee));
      const theirs = await writeAll(fs.createWriteStream('', { ...options, fd: fs.openSync(a, 'r+') }), chunks, options as Closing);
      const mine = await writeAll(createWriteStream(ctx, fs.openSync(b, 'r+'), options), chunks, options as Closing);
      expect(fs.readFileSync(b).equals(fs.readFileSync(a))).toBe(true);
      expect(mine.events.filter((e) => e !== 'drain')).toEqual(theirs.events.filter((e) => e !== 'drain'));
      // with one write in flight, as node:fs has it, write() returns what node:fs's does
      if ((options as { depth?: number }).depth === 1) expect(mine.returns).toEqual(theirs.returns);
      expect(mine.events.filter((e) => e === 'drain')).toHaveLength(mine.returns.filter((r) => !r).length);
    });

    test('strings with an encoding, as node:fs', async () => {
      const a = fresh();
      const b = fresh();
      const text = ['héllo ', 'wörld ', '✓'];
      await writeAll(fs.createWriteStream('', { fd: fs.openSync(a, 'w'), encoding: 'latin1' }), text);
      await writeAll(createWriteStream(ctx, fs.openSync(b, 'w'), { encoding: 'latin1' }), text);
      expect(fs.readFileSync(b).equals(fs.readFileSync(a))).toBe(true);
    });

    test('a read-only fd: the same error and events', async () => {
      const a = fresh();
      fs.writeFileSync(a, 'x');
      const theirs = await writeAll(fs.createWriteStream('', { fd: fs.openSync(a, 'r') }), [Buffer.from('abc')]);
      const mine = await writeAll(createWriteStream(ctx, fs.openSync(a, 'r')), [Buffer.from('abc')]);
      expect(theirs.events).toEqual(['error EBADF write', 'close']);
      expect(mine.events).toEqual(theirs.events);
    });

    test('many writes in flight, in order: bytes land where they were written', async () => {
      const b = fresh();
      const fd = fs.openSync(b, 'w');
      const stream = createWriteStream(ctx, fd, { depth: 16, highWaterMark: 1 << 20 });
      let peak = 0;
      const expected: Buffer[] = [];
      for (let i = 0; i < 2000; i++) {
        const c = Buffer.alloc(4096 + (i % 7), i & 0xff);
        expected.push(c);
        stream.write(c);
        peak = Math.max(peak, ctx.inflight);
      }
      stream.end();
      await finished(stream);
      expect(peak).toBeLessThanOrEqual(16);
      expect(stream.bytesWritten).toBe(Buffer.concat(expected).length);
      expect(fs.readFileSync(b).equals(Buffer.concat(expected))).toBe(true);
    });

    test('bad options throw what node:fs throws', () => {
      for (const options of [{ start: -1 }, { start: '1' }, { highWaterMark: -1 }]) {
        let theirs: NodeJS.ErrnoException | undefined;
        try {
          fs.createWriteStream('', { ...options, fd: 1 } as never);
        } catch (e) {
          theirs = e as NodeJS.ErrnoException;
        }
        expect(() => createWriteStream(ctx, 1, options as never)).toThrow(expect.objectContaining({ code: theirs!.code, message: theirs!.message }));
      }
    });

    test('destroy() mid-flight: every write settles once, the fd closes', async () => {
      const fd = fs.openSync(fresh(), 'w');
      const stream = createWriteStream(ctx, fd, { depth: 8 });
      const events: string[] = [];
      record(stream, events);
      for (let i = 0; i < 64; i++) stream.write(Buffer.alloc(65536, i));
      stream.destroy();
      await new Promise((r) => stream.once('close', r));
      expect(events).toEqual(['close']);
      expect(ctx.inflight).toBe(0);
      expect(() => fs.fstatSync(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    });
  });

  describe("without start: the descriptor's offset, as node:fs's streams use it", () => {
    /** Where fd stands: the next read(2) at the current position reads from here. */
    const standing = (fd: number): string => {
      const b = Buffer.alloc(8);
      return b.subarray(0, fs.readSync(fd, b, 0, 8, null)).toString('latin1');
    };

    test.each([
      ['from 1000 to the end', 1000, {}],
      ['from 1000, end 70000 (counted from there)', 1000, { end: 70000, highWaterMark: 4096 }],
      ['from 5, depth 16', 5, { depth: 16, highWaterMark: 1000 }],
      ['from the end', size, {}],
    ])('read %s: the same bytes, and the descriptor left where node:fs leaves it', async (_name, at, options) => {
      const outcome: [ReadOutcome, string][] = [];
      for (const make of [(fd: number) => fs.createReadStream('', { ...options, fd, autoClose: false }), (fd: number) => createReadStream(ctx, fd, { ...options, autoClose: false })]) {
        const fd = fs.openSync(file, 'r');
        fs.readSync(fd, Buffer.alloc(at), 0, at, null);
        const got = await drain(make(fd), { autoClose: false });
        outcome.push([got, standing(fd)]);
        fs.closeSync(fd);
      }
      expect(outcome[1][0].text === outcome[0][0].text).toBe(true);
      expect(outcome[1][0].text.length).toBe(outcome[0][0].text.length);
      expect(outcome[1][1]).toBe(outcome[0][1]);
    });

    test("write: from the descriptor's offset, which it leaves past what was written, as node:fs", async () => {
      const got: string[] = [];
      for (const make of [(fd: number) => fs.createWriteStream('', { fd, autoClose: false }), (fd: number) => createWriteStream(ctx, fd, { autoClose: false, depth: 8 })]) {
        const target = fresh();
        const fd = fs.openSync(target, 'w+');
        fs.writeSync(fd, 'head:');
        const w = make(fd);
        for (let i = 0; i < 200; i++) w.write(Buffer.alloc(1000, 65 + (i % 26)));
        await new Promise<void>((resolve, reject) => w.end('tail', (e?: Error | null) => (e ? reject(e) : resolve())));
        fs.writeSync(fd, '|after');
        fs.closeSync(fd);
        got.push(fs.readFileSync(target, 'latin1'));
      }
      expect(got[1].length).toBe(got[0].length);
      expect(got[1] === got[0]).toBe(true);
    });
  });

  describe("a FileHandle's streams, held to node:fs FileHandle's", () => {
    test('autoClose (the default): the stream ends, emits close, and the handle is closed; autoClose: false leaves it open', async () => {
      const mine = await open(file, 'r', undefined, { context: ctx });
      const theirs = await fs.promises.open(file, 'r');
      const a = await drain(mine.createReadStream({ highWaterMark: 65536 }));
      const b = await drain(theirs.createReadStream({ highWaterMark: 65536 }));
      expect(a).toEqual(b);
      expect(a.events).toEqual(['end', 'close']);
      await mine.close(); // the close the stream's autoClose began
      expect(mine.fd).toBe(-1);
      expect(theirs.fd).toBe(-1);

      const kept = await open(file, 'r', undefined, { context: ctx });
      const c = await drain(kept.createReadStream({ autoClose: false, end: 9 }), { autoClose: false });
      expect(c.text).toBe(fs.readFileSync(file, 'latin1').slice(0, 10));
      expect(c.events).toEqual(['end']);
      expect(kept.fd).toBeGreaterThanOrEqual(0);
      await kept.close();

      const w = fresh();
      const writer = await open(w, 'w', undefined, { context: ctx });
      const ws = writer.createWriteStream();
      const events: string[] = [];
      record(ws, events);
      ws.end('written');
      await finished(ws);
      await new Promise((r) => setImmediate(r));
      await writer.close();
      expect(events).toEqual(['finish', 'close']);
      expect(writer.fd).toBe(-1);
      expect(fs.readFileSync(w, 'utf8')).toBe('written');
    });
  });
});
