// 38 the uring backend: io_uring behind the context's ring. Which backend
// and why (auto chooses it where it works), O_DIRECT, rwFlags, fixed
// buffers, cancel (IORING_OP_ASYNC_CANCEL) of a waiting poll and of a read
// waiting on a FIFO, destroy with work in flight at random moments, and the
// threads and descriptors it leaves (none) once closed, for 'uring' and auto;
// FileHandles on io_uring fixed files (registered at first use, unregistered
// at close, a reused descriptor number, a full table).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { AioContext, alignedBuffer, setup, SETUP_V2 } from '../src/context';
import { AioError } from '../src/errors';
import { features } from '../src/features';
import { EventBatch } from '../src/events';
import { open } from '../src/files/open';
import { groupDatasync } from '../src/files/commit';
import { createReadStream } from '../src/files/streams';
import { IocbInit } from '../src/iocb';
import { describeUring, descriptorCount, directDir, ownThreadCount, patternByte, patternFile, rng, settledCount, tempDir } from './helpers';

const RWF_APPEND = 0x10;
const ECANCELED = -125;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}


const threads = ownThreadCount;

function pipe(): { r: number; w: number } {
  const fifo = path.join(tempDir(), 'fifo');
  execFileSync('mkfifo', [fifo]);
  const r = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  return { r, w: fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK) };
}

async function one(ctx: AioContext, cb: IocbInit): Promise<number> {
  expect(ctx.submit([cb])).toBe(1);
  const [ev] = await ctx.getEvents(1, 1, 10000);
  expect(ev.iocb).toBe(cb);
  return ev.res;
}

describeUring('38 the uring backend', () => {
  const layouts = [
    ['legacy', 0],
    ['v2', SETUP_V2],
  ] as const;

  test('features() and ctx.backend say io_uring serves the context, and why', () => {
    expect(features().backends).toMatchObject({ uring: true });
    expect(features().backends.uringError).toBeUndefined();
    const c = setup(16, { backend: 'uring' });
    try {
      expect(c.backend).toMatchObject({ name: 'uring', uring: true, kernel: false, threads: 0, readHelper: false });
      expect(c.backend.reason).toMatch(/^io_uring for every request, as asked/);
    } finally {
      c.destroy();
    }
  });

  test('auto chooses io_uring where it works: no ring until the first request the pool would have run, then one; O_DIRECT still to kernel AIO; ctx.backend says which and why', async () => {
    const rings0 = descriptorCount('anon_inode:[io_uring]');
    const eventfds0 = descriptorCount('anon_inode:[eventfd]');
    const file = path.join(tempDir(), 'cached');
    fs.writeFileSync(file, Buffer.alloc(8192, 3));
    const bfd = fs.openSync(file, 'r+');
    const direct = path.join(directDir(), `auto-direct-${process.pid}`);
    fs.writeFileSync(direct, Buffer.alloc(8192, 5));
    const dfd = fs.openSync(direct, fs.constants.O_RDWR | fs.constants.O_DIRECT);
    const c = setup(64);
    try {
      expect(c.backend).toMatchObject({ name: 'auto', uring: true, kernel: false, threads: 4 });
      expect(c.backend.reason).toMatch(
        /^io_uring works here: it serves buffered reads the page cache lacks \(tried inline first with RWF_NOWAIT\), buffered writes, poll and noop, its ring made at the first of them; fsync and fdsync go to the pool of 4 threads; O_DIRECT reads and writes go to kernel AIO, its context made at the first one/,
      );
      expect(descriptorCount('anon_inode:[io_uring]')).toBe(rings0);
      // a cached read is served inline: still no ring
      const small = Buffer.alloc(4096);
      expect(await c.read(bfd, small, 0)).toBe(4096);
      expect(small.every((b) => b === 3)).toBe(true);
      expect(descriptorCount('anon_inode:[io_uring]')).toBe(rings0);
      // a write is io_uring's: the ring now, one, and no eventfd of its own (the mover's is the only new one)
      expect(await c.write(bfd, Buffer.alloc(4096, 9), 4096)).toBe(4096);
      expect(descriptorCount('anon_inode:[io_uring]')).toBe(rings0 + 1);
      expect(descriptorCount('anon_inode:[eventfd]')).toBeLessThanOrEqual(eventfds0 + 1);
      expect(c.backend.reason).toMatch(/its ring made;/);
      const buf = alignedBuffer(4096);
      expect(await c.read(dfd, buf, 4096)).toBe(4096);
      expect(buf.every((b) => b === 5)).toBe(true);
      // O_DIRECT went to kernel AIO, its context made for it (with its eventfd), not to the ring
      expect(c.backend).toMatchObject({ name: 'auto', uring: true, kernel: true, reason: expect.stringMatching(/; O_DIRECT reads and writes go to kernel AIO$/) });
      expect(descriptorCount('anon_inode:[eventfd]')).toBeLessThanOrEqual(eventfds0 + 2);
      // a sync runs on the pool, timed there (syncStats); the noop on the ring
      c.submit([{ opcode: 'fsync', fd: bfd }, { opcode: 'noop', fd: 0 }]);
      expect((await c.getEvents(2, 2, 5000)).map((e) => e.res)).toEqual([0, 0]);
      expect(c.syncStats()).toMatchObject({ fsyncs: 1, fdatasyncs: 0 });
      expect(descriptorCount('anon_inode:[io_uring]')).toBe(rings0 + 1);
    } finally {
      c.destroy();
      await c.closed;
      fs.closeSync(bfd);
      fs.closeSync(dfd);
      fs.rmSync(direct);
    }
    expect(descriptorCount('anon_inode:[io_uring]')).toBe(rings0);
    expect(descriptorCount('anon_inode:[eventfd]')).toBe(eventfds0);
  });

  test('AIORING_AUTO_URING=0, and threads: 1 (submission order), keep auto on kernel AIO and the pool, and ctx.backend says so', async () => {
    const rings0 = descriptorCount('anon_inode:[io_uring]');
    process.env.AIORING_AUTO_URING = '0';
    try {
      const c = setup(16);
      expect(c.backend).toMatchObject({ name: 'auto', uring: false, reason: expect.stringMatching(/^O_DIRECT reads and writes go to kernel AIO.*; io_uring not considered \(AIORING_AUTO_URING=0\)$/) });
      c.destroy();
    } finally {
      delete process.env.AIORING_AUTO_URING;
    }
    const one1 = setup(16, { threads: 1 });
    try {
      expect(one1.backend).toMatchObject({ name: 'auto', uring: false, threads: 1, reason: expect.stringMatching(/; io_uring not used: a one-thread pool keeps submission order, io_uring does not$/) });
      one1.submit([{ opcode: 'noop', fd: 0 }]);
      expect(await one1.getEvents(1, 1, 5000)).toHaveLength(1);
      expect(descriptorCount('anon_inode:[io_uring]')).toBe(rings0);
    } finally {
      one1.destroy();
    }
  });

  describe.each(layouts)('%s ring', (_layout, flags) => {
    let ctx: AioContext;
    beforeEach(() => {
      ctx = setup(64, { flags, backend: 'uring' });
    });
    afterEach(() => ctx.destroy());

    test('O_DIRECT reads and writes round-trip byte for byte, an unaligned one is EINVAL in the event', async () => {
      const file = path.join(directDir(), `uring-direct-${process.pid}`);
      const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_DIRECT);
      try {
        const out = alignedBuffer(16384);
        for (let i = 0; i < out.length; i++) out[i] = (i * 7 + 3) & 0xff;
        expect(await one(ctx, { opcode: 'pwrite', fd, buffer: out, position: 8192 })).toBe(16384);
        const back = alignedBuffer(16384);
        expect(await one(ctx, { opcode: 'pread', fd, buffer: back, position: 8192 })).toBe(16384);
        expect(Buffer.from(back).equals(Buffer.from(out))).toBe(true);
        // as the kernel's own read(2) on the descriptor says
        expect(() => fs.readSync(fd, back.subarray(1, 4097), 0, 4096, 8192)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
        expect(await one(ctx, { opcode: 'pread', fd, buffer: back.subarray(1, 4097), position: 8192 })).toBe(-22);
      } finally {
        fs.closeSync(fd);
        fs.rmSync(file);
      }
    });

    test('rwFlags reach the kernel: RWF_APPEND writes at the end whatever the position', async () => {
      const file = path.join(tempDir(), 'append');
      fs.writeFileSync(file, 'head:');
      const fd = fs.openSync(file, 'r+');
      expect(await one(ctx, { opcode: 'pwrite', fd, buffer: Buffer.from('tail'), position: 0, rwFlags: RWF_APPEND })).toBe(4);
      expect(await one(ctx, { opcode: 'pwritev', fd, buffers: [Buffer.from('+'), Buffer.from('v')], position: 0, rwFlags: RWF_APPEND })).toBe(2);
      fs.closeSync(fd);
      expect(fs.readFileSync(file, 'utf8')).toBe('head:tail+v');
    });

    test('registered buffers (io_uring fixed buffers): writes from and reads into them, by index and offset', async () => {
      const file = path.join(tempDir(), 'fixed');
      const fd = fs.openSync(file, 'w+');
      const arena = new Uint8Array(65536);
      const index = ctx.registerBuffers([arena]);
      for (let i = 0; i < 4096; i++) arena[i] = (i * 13) & 0xff;
      expect(await one(ctx, { opcode: 'pwrite', fd, buffer: arena.subarray(0, 4096), position: 0 })).toBe(4096);
      expect(await one(ctx, { opcode: 'pread', fd, buffer: arena.subarray(8192, 12288), position: 0 })).toBe(4096);
      expect(Buffer.from(arena.subarray(8192, 12288)).equals(Buffer.from(arena.subarray(0, 4096)))).toBe(true);
      expect(index).toBe(0);
      expect(fs.readFileSync(file).equals(Buffer.from(arena.subarray(0, 4096)))).toBe(true);
      fs.closeSync(fd);
    });

    test('cancel: a waiting poll is cancelled (its event ECANCELED); an unknown or reaped request is EINVAL', async () => {
      const p = pipe();
      const poll: IocbInit = { opcode: 'poll', fd: p.r, events: 1, data: 1 };
      expect(ctx.submit([poll])).toBe(1);
      expect(await ctx.getEvents(1, 1, 30)).toEqual([]);
      ctx.cancel(poll);
      const [ev] = await ctx.getEvents(1, 1, 5000);
      expect(ev).toMatchObject({ data: 1, res: ECANCELED, iocb: poll });
      expect(thrown(() => ctx.cancel(poll))).toMatchObject({ code: 'EINVAL' });
      expect(thrown(() => ctx.cancel({ opcode: 'noop', fd: 0 }))).toMatchObject({ code: 'EINVAL' });
      // a poll that fired is reported with its events, as kernel AIO does
      const fired: IocbInit = { opcode: 'poll', fd: p.r, events: 1, data: 2 };
      fs.writeSync(p.w, 'x');
      expect((await one(ctx, fired)) & 1).toBe(1);
      fs.closeSync(p.r);
      fs.closeSync(p.w);
    });

    test('destroy with polls waiting: their events come through as ECANCELED, later calls are EINVAL', async () => {
      const p = pipe();
      const c = setup(32, { flags, backend: 'uring' });
      c.submit([
        { opcode: 'poll', fd: p.r, events: 1, data: 1 },
        { opcode: 'poll', fd: p.r, events: 1, data: 2 },
      ]);
      const waiting = c.getEvents(2, 2);
      await new Promise((r) => setTimeout(r, 20));
      c.destroy();
      const got = await waiting;
      expect(got.map((e) => [e.data, e.res]).sort()).toEqual([
        [1, ECANCELED],
        [2, ECANCELED],
      ]);
      expect(thrown(() => c.submit([{ opcode: 'noop', fd: 0 }]))).toBeInstanceOf(AioError);
      await c.closed;
      fs.closeSync(p.r);
      fs.closeSync(p.w);
    });
  });

  test.each(['uring', 'auto'] as const)(
    '%s: a read waiting in io_uring on a FIFO with no data is cancelled (IORING_OP_ASYNC_CANCEL): one event, ECANCELED, and the bytes written after go to the next read',
    async (backend) => {
      const fifo = path.join(tempDir(), 'fifo');
      execFileSync('mkfifo', [fifo]);
      // O_RDWR: a writer exists, so the read waits for data; a blocking descriptor, so io_uring waits for it (an O_NONBLOCK one answers EAGAIN)
      const fd = fs.openSync(fifo, fs.constants.O_RDWR);
      const c = setup(16, { backend });
      try {
        expect(c.backend.uring).toBe(true);
        const read: IocbInit = { opcode: 'pread', fd, buffer: Buffer.alloc(16), position: 0, data: 7 };
        expect(c.submit([read])).toBe(1);
        expect(await c.getEvents(1, 1, 50)).toEqual([]);
        expect(c.inflight).toBe(1);
        c.cancel(read);
        const [ev, ...more] = await c.getEvents(1, 4, 5000);
        expect(more).toEqual([]);
        expect(ev).toMatchObject({ data: 7, res: ECANCELED, iocb: read });
        // exactly once: nothing more for it, and a second cancel finds nothing
        fs.writeSync(fd, 'abc');
        expect(await c.getEvents(1, 4, 100)).toEqual([]);
        expect(thrown(() => c.cancel(read))).toMatchObject({ code: 'EINVAL' });
        const into = Buffer.alloc(16);
        expect(await one(c, { opcode: 'pread', fd, buffer: into, position: 0, data: 8 })).toBe(3);
        expect(into.subarray(0, 3).toString()).toBe('abc');
      } finally {
        c.destroy();
        await c.closed;
        fs.closeSync(fd);
      }
    },
  );

  test.each(['uring', 'auto'] as const)('%s: destroy at random moments with reads, writes and polls in flight: every context closes, no thread or descriptor is left', async (backend) => {
    const dir = tempDir();
    const file = path.join(dir, 'data');
    fs.writeFileSync(file, Buffer.alloc(1 << 20, 5));
    const fd = fs.openSync(file, 'r+');
    const p = pipe();
    const threads0 = await settledCount(threads);
    const rings0 = await settledCount(() => descriptorCount('anon_inode:[io_uring]'));
    const eventfds0 = await settledCount(() => descriptorCount('anon_inode:[eventfd]'));
    const next = rng(0x38d1);
    for (let round = 0; round < 60; round++) {
      const c = setup(128, { flags: round % 2 ? SETUP_V2 : 0, backend });
      const batch: IocbInit[] = [];
      for (let i = 0; i < 48; i++) {
        const kind = next() % 4;
        const position = (next() % 256) * 4096;
        if (kind === 0) batch.push({ opcode: 'poll', fd: p.r, events: 1, data: i });
        else if (kind === 1) batch.push({ opcode: 'pwrite', fd, buffer: Buffer.alloc(4096, i), position, data: i });
        else batch.push({ opcode: 'pread', fd, buffer: Buffer.alloc(4096), position, data: i });
      }
      expect(c.submit(batch)).toBe(batch.length);
      const wait = next() % 4;
      if (wait) await new Promise((r) => setTimeout(r, wait - 1));
      c.destroy();
      await c.closed;
    }
    // the shared pool's threads exit after a second idle; the contexts' descriptors are gone at closed
    expect(await settledCount(threads, threads0)).toBe(threads0);
    expect(descriptorCount('anon_inode:[io_uring]')).toBe(rings0);
    expect(descriptorCount('anon_inode:[eventfd]')).toBe(eventfds0);
    fs.closeSync(fd);
    fs.closeSync(p.r);
    fs.closeSync(p.w);
  });
  describe('registered files: a FileHandle from open() runs on an io_uring fixed file', () => {
    const URING_MAX_FILES = 256;

    /** Open files until one gets the number n (the lowest free one is given first); the others are closed. */
    function openAs(n: number, file: string): number {
      const extra: number[] = [];
      let fd = fs.openSync(file, 'r');
      while (fd !== n && extra.length < 64) {
        extra.push(fd);
        fd = fs.openSync(file, 'r');
      }
      for (const e of extra) fs.closeSync(e);
      expect(fd).toBe(n);
      return fd;
    }

    test('its reads and writes go through the fixed file, raw descriptors never do, close unregisters', async () => {
      const ctx = setup(64, { backend: 'uring' });
      const file = path.join(tempDir(), 'fixed-file');
      fs.writeFileSync(file, Buffer.alloc(8192));
      try {
        expect(ctx.fileStats()).toEqual({ registered: 0, capacity: URING_MAX_FILES, requests: 0, error: 0 });
        const h = await open(file, 'r+', undefined, { context: ctx });
        expect((await h.write(Buffer.from('fixed'), 0, 5, 100)).bytesWritten).toBe(5);
        const back = Buffer.alloc(5);
        expect((await h.read(back, 0, 5, 100)).bytesRead).toBe(5);
        expect(back.toString()).toBe('fixed');
        expect((await h.readv([Buffer.alloc(2), Buffer.alloc(3)], 100)).bytesRead).toBe(5);
        expect(ctx.fileStats()).toMatchObject({ registered: 1, requests: 3 });
        // the same number through the raw call: by number, not through the table
        expect(await ctx.read(h.fd, Buffer.alloc(5), 100)).toBe(5);
        expect(ctx.fileStats()).toMatchObject({ registered: 1, requests: 3 });
        await h.close();
        expect(ctx.fileStats()).toMatchObject({ registered: 0, requests: 3 });
        // a handle still open when its context is destroyed closes cleanly
        const late = await open(file, 'r', undefined, { context: ctx });
        await late.read(Buffer.alloc(1), 0, 1, 0);
        expect(ctx.fileStats()).toMatchObject({ registered: 1, requests: 4 });
        ctx.destroy();
        await expect(late.close()).resolves.toBeUndefined();
      } finally {
        if (!ctx.destroyed) ctx.destroy();
      }
    });

    test('a descriptor number closed and reused by another file: each call reaches the right file', async () => {
      const ctx = setup(64, { backend: 'uring' });
      const dir = tempDir();
      const a = path.join(dir, 'a');
      const b = path.join(dir, 'b');
      fs.writeFileSync(a, 'AAAA');
      fs.writeFileSync(b, 'BBBB');
      const read4 = async (call: Promise<unknown>, buf: Buffer): Promise<string> => {
        await call;
        return buf.toString();
      };
      try {
        // closed through the handle: the slot is emptied first, so the number's next file is read, by either path
        const ha = await open(a, 'r+', undefined, { context: ctx });
        const n = ha.fd;
        let buf = Buffer.alloc(4);
        expect(await read4(ha.read(buf, 0, 4, 0), buf)).toBe('AAAA');
        await ha.close();
        const fb = openAs(n, b);
        buf = Buffer.alloc(4);
        expect(await read4(ctx.read(fb, buf, 0), buf)).toBe('BBBB');
        fs.closeSync(fb);
        const hb = await open(b, 'r', undefined, { context: ctx });
        buf = Buffer.alloc(4);
        expect(await read4(hb.read(buf, 0, 4, 0), buf)).toBe('BBBB');
        await hb.close();
        expect(ctx.fileStats()).toMatchObject({ registered: 0, requests: 2 });

        // closed behind the handle's back: the table holds the file, not the number, so the
        // raw call on the reused number reads the new file and the handle still the one it opened
        const hc = await open(a, 'r', undefined, { context: ctx });
        buf = Buffer.alloc(4);
        expect(await read4(hc.read(buf, 0, 4, 0), buf)).toBe('AAAA');
        const m = hc.fd;
        fs.closeSync(m);
        const fd = openAs(m, b);
        buf = Buffer.alloc(4);
        expect(await read4(ctx.read(fd, buf, 0), buf)).toBe('BBBB');
        buf = Buffer.alloc(4);
        expect(await read4(hc.read(buf, 0, 4, 0), buf)).toBe('AAAA');
        expect(ctx.fileStats()).toMatchObject({ registered: 1, requests: 4 });
        await hc.close(); // closes the number, which is b's descriptor now
        expect(ctx.fileStats()).toMatchObject({ registered: 0 });
      } finally {
        ctx.destroy();
      }
    });

    test('a full table: the handles past it run unregistered and ask again only once a close has emptied a slot, which the first to ask takes', async () => {
      const ctx = setup(64, { backend: 'uring' });
      const file = patternFile(tempDir(), 4);
      const handles = [];
      try {
        for (let i = 0; i < URING_MAX_FILES + 3; i++) handles.push(await open(file, 'r', undefined, { context: ctx }));
        const reads = handles.map(async (h, i) => {
          const buf = Buffer.alloc(16);
          const block = i % 4;
          expect((await h.read(buf, 0, 16, block * 4096)).bytesRead).toBe(16);
          for (let j = 0; j < 16; j++) expect(buf[j]).toBe(patternByte(block, j));
        });
        await Promise.all(reads);
        expect(ctx.fileStats()).toMatchObject({ registered: URING_MAX_FILES, requests: URING_MAX_FILES });
        // a handle that found the table full runs unregistered, and does not ask again while no slot was emptied
        const asks = jest.spyOn(ctx, 'registerFile');
        for (let i = 0; i < 5; i++) await handles[URING_MAX_FILES].read(Buffer.alloc(1), 0, 1, 0);
        await handles[URING_MAX_FILES + 1].datasync();
        expect(asks).toHaveBeenCalledTimes(0);
        expect(ctx.fileStats()).toMatchObject({ registered: URING_MAX_FILES, requests: URING_MAX_FILES });
        await handles[0].close();
        expect(ctx.fileStats()).toMatchObject({ registered: URING_MAX_FILES - 1 });
        // the slot emptied by close goes to the first handle past the table to make a request, which had found it full
        const buf = Buffer.alloc(8);
        await handles[URING_MAX_FILES].read(buf, 0, 8, 4096);
        expect(buf[7]).toBe(patternByte(1, 7));
        expect(ctx.fileStats()).toMatchObject({ registered: URING_MAX_FILES, requests: URING_MAX_FILES + 1 });
        // the others ask once more, find the table full again, and stay unregistered until the next close
        await handles[URING_MAX_FILES + 1].read(Buffer.alloc(1), 0, 1, 0);
        const next = await open(file, 'r', undefined, { context: ctx });
        handles.push(next);
        await next.read(buf, 0, 8, 2 * 4096);
        expect(buf[7]).toBe(patternByte(2, 7));
        await handles[URING_MAX_FILES + 1].read(Buffer.alloc(1), 0, 1, 0);
        expect(asks).toHaveBeenCalledTimes(3);
        expect(ctx.fileStats()).toMatchObject({ registered: URING_MAX_FILES, requests: URING_MAX_FILES + 1 });
        await handles[1].close();
        await next.read(buf, 0, 8, 3 * 4096);
        expect(buf[7]).toBe(patternByte(3, 7));
        expect(ctx.fileStats()).toMatchObject({ registered: URING_MAX_FILES, requests: URING_MAX_FILES + 2 });
        asks.mockRestore();
      } finally {
        for (const h of handles) await h.close();
        expect(ctx.fileStats()).toMatchObject({ registered: 0 });
        ctx.destroy();
      }
    });

    test("a handle's streams, datasync and sync run on its fixed file; the raw calls on its number never do", async () => {
      const ctx = setup(64, { backend: 'uring' });
      const file = path.join(tempDir(), 'stream-file');
      const chunks = Array.from({ length: 12 }, (_, i) => Buffer.alloc(1000 + i, 0x41 + i));
      const expected = Buffer.concat(chunks);
      try {
        const h = await open(file, 'w+', undefined, { context: ctx });
        // the stream's first write registers the file: the handle made no request of its own before it
        const ws = h.createWriteStream({ autoClose: false, depth: 3 });
        ws.cork();
        for (const c of chunks.slice(0, 4)) ws.write(c); // one writev
        ws.uncork();
        for (const c of chunks.slice(4)) ws.write(c);
        await new Promise<void>((resolve, reject) => ws.end(() => resolve()).once('error', reject));
        const afterWrites = ctx.fileStats();
        expect(afterWrites.registered).toBe(1);
        expect(afterWrites.requests).toBeGreaterThanOrEqual(2);
        expect(ws.bytesWritten).toBe(expected.length);
        await h.datasync();
        await h.sync();
        expect(ctx.fileStats()).toMatchObject({ registered: 1, requests: afterWrites.requests + 2 });
        expect(fs.readFileSync(file).equals(expected)).toBe(true);
        const got: Buffer[] = [];
        // start 0: the write stream left the handle's position at the end, as node:fs's leaves the descriptor's
        const rs = h.createReadStream({ highWaterMark: 1024, depth: 4, start: 0, end: expected.length - 1 });
        const closed = once(rs, 'close');
        for await (const c of rs) got.push(c as Buffer);
        await closed;
        await h.close(); // the close autoClose began
        expect(Buffer.concat(got).equals(expected)).toBe(true);
        const reads = Math.ceil(expected.length / 1024);
        // autoClose closed the handle once the stream closed: its slot is empty
        expect(h.fd).toBe(-1);
        expect(ctx.fileStats()).toMatchObject({ registered: 0, requests: afterWrites.requests + 2 + reads });

        // raw streams and group commit on a number stay on the number
        const raw = fs.openSync(file, 'r+');
        const before = ctx.fileStats().requests;
        const back: Buffer[] = [];
        for await (const c of createReadStream(ctx, raw, { autoClose: false })) back.push(c as Buffer);
        expect(Buffer.concat(back).equals(expected)).toBe(true);
        await groupDatasync(ctx, raw);
        fs.closeSync(raw);
        expect(ctx.fileStats()).toMatchObject({ registered: 0, requests: before });
      } finally {
        ctx.destroy();
      }
    });

    test("a handle's streams after its number was closed through it and reused by another file read and write that file", async () => {
      const ctx = setup(64, { backend: 'uring' });
      const dir = tempDir();
      const a = path.join(dir, 'a');
      const b = path.join(dir, 'b');
      fs.writeFileSync(a, 'A'.repeat(5000));
      fs.writeFileSync(b, 'B'.repeat(5000));
      const drain = async (s: AsyncIterable<unknown>): Promise<string> => {
        let text = '';
        for await (const c of s) text += (c as Buffer).toString();
        return text;
      };
      try {
        const ha = await open(a, 'r+', undefined, { context: ctx });
        const n = ha.fd;
        const rs = ha.createReadStream({ highWaterMark: 1000, end: 4999 });
        const closed = once(rs, 'close');
        expect(await drain(rs)).toBe('A'.repeat(5000));
        await closed;
        await ha.close();
        expect(ha.fd).toBe(-1);
        expect(ctx.fileStats().registered).toBe(0);
        // a new handle on b gets the same number and (the table empty again) the same slot
        const hb = await open(b, 'r+', undefined, { context: ctx });
        expect(hb.fd).toBe(n);
        expect(await drain(hb.createReadStream({ highWaterMark: 1000, end: 4999, autoClose: false }))).toBe('B'.repeat(5000));
        const ws = hb.createWriteStream({ start: 4990, autoClose: false });
        await new Promise<void>((resolve, reject) => ws.end(Buffer.from('0123456789'), () => resolve()).once('error', reject));
        await hb.datasync();
        expect(ctx.fileStats().registered).toBe(1);
        await hb.close();
        expect(fs.readFileSync(a, 'utf8')).toBe('A'.repeat(5000));
        expect(fs.readFileSync(b, 'utf8')).toBe('B'.repeat(4990) + '0123456789');
        // five reads per stream, the write, the datasync
        expect(ctx.fileStats()).toMatchObject({ registered: 0, requests: 5 + 5 + 1 + 1 });
      } finally {
        ctx.destroy();
      }
    });

    test.each(layouts)('%s ring: 20,000 random reads at depth 32 on a registered file complete exactly once, byte for byte', async (_layout, flags) => {
      const ctx = setup(32, { flags, backend: 'uring' });
      const blocks = 64;
      const file = patternFile(tempDir(), blocks);
      const h = await open(file, 'r', undefined, { context: ctx });
      const next = rng(0x5eed + flags);
      const total = 20000;
      let issued = 0;
      let settled = 0;
      const seen = new Uint8Array(total);
      try {
        const loop = async (): Promise<void> => {
          const buf = Buffer.alloc(512);
          while (issued < total) {
            const id = issued++;
            const block = next() % blocks;
            const at = (next() % 8) * 512;
            const { bytesRead } = await h.read(buf, 0, 512, block * 4096 + at);
            seen[id]++;
            settled++;
            expect(bytesRead).toBe(512);
            if (buf[0] !== patternByte(block, at) || buf[511] !== patternByte(block, at + 511)) throw new Error(`read ${id}: wrong bytes`);
          }
        };
        await Promise.all(Array.from({ length: 32 }, loop));
        expect(settled).toBe(total);
        expect(seen.every((c) => c === 1)).toBe(true);
        expect(ctx.fileStats()).toMatchObject({ registered: 1, requests: total });
        expect(ctx.inflight).toBe(0);
        // promise completions are routed to their calls: nothing is left over in the ring
        expect(ctx.reap(new EventBatch(8))).toBe(0);
      } finally {
        await h.close();
        ctx.destroy();
      }
    });

    test('contexts of the other backends register nothing', async () => {
      const ctx = setup(16, { backend: 'threadpool' });
      const file = patternFile(tempDir(), 1);
      try {
        const h = await open(file, 'r', undefined, { context: ctx });
        await h.read(Buffer.alloc(4), 0, 4, 0);
        await h.close();
        expect(ctx.fileStats()).toEqual({ registered: 0, capacity: 0, requests: 0, error: 0 });
      } finally {
        ctx.destroy();
      }
    });
  });
});
