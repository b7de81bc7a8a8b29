// 38 the uring backend: io_uring behind the context's ring. Which backend
// and why, O_DIRECT, rwFlags, fixed buffers, cancel (IORING_OP_ASYNC_CANCEL),
// destroy with work in flight at random moments, and the threads and
// descriptors it leaves (none) once closed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { AioContext, alignedBuffer, setup, SETUP_V2 } from '../src/context';
import { AioError } from '../src/errors';
import { features } from '../src/features';
import { IocbInit } from '../src/iocb';
import { describeUring, descriptorCount, directDir, ownThreadCount, rng, tempDir } from './helpers';

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

  test('destroy at random moments with reads, writes and polls in flight: every context closes, no thread or descriptor is left', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'data');
    fs.writeFileSync(file, Buffer.alloc(1 << 20, 5));
    const fd = fs.openSync(file, 'r+');
    const p = pipe();
    const threads0 = threads();
    const rings0 = descriptorCount('anon_inode:[io_uring]');
    const eventfds0 = descriptorCount('anon_inode:[eventfd]');
    const next = rng(0x38d1);
    for (let round = 0; round < 60; round++) {
      const c = setup(128, { flags: round % 2 ? SETUP_V2 : 0, backend: 'uring' });
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
    expect(threads()).toBe(threads0);
    expect(descriptorCount('anon_inode:[io_uring]')).toBe(rings0);
    expect(descriptorCount('anon_inode:[eventfd]')).toBe(eventfds0);
    fs.closeSync(fd);
    fs.closeSync(p.r);
    fs.closeSync(p.w);
  });
});
