// 12 opcodes: every opcode through every backend and layout on real files,
// data checked byte for byte; O_DIRECT; the kernel's error cases.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AioContext, alignedBuffer, BackendName, setup, SETUP_V2 } from '../src/context';
import { AioError } from '../src/errors';
import { IocbInit } from '../src/iocb';
import { describeKernel, directDir, tempDir } from './helpers';


function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}


async function one(ctx: AioContext, cb: IocbInit): Promise<number> {
  expect(ctx.submit([cb])).toBe(1);
  const [ev] = await ctx.getEvents(1, 1, 10000);
  expect(ev.iocb).toBe(cb);
  expect(ev.data).toBe(cb.data ?? 0);
  return ev.res;
}

const dirs: [string, () => string][] = [
  ['a temp dir', () => tempDir()],
  ['/dev/shm', () => tempDir('/dev/shm')],
];

function cases(): [string, BackendName, number][] {
  const out: [string, BackendName, number][] = [];
  for (const backend of ['threadpool', 'kernel', 'auto', 'uring'] as BackendName[]) {
    for (const [layout, flags] of [
      ['legacy', 0],
      ['v2', SETUP_V2],
    ] as const) {
      out.push([`${backend} ${layout}`, backend, flags]);
    }
  }
  return out;
}

function suite(name: string, body: () => void): void {
  // the kernel and auto backends need io_setup
  describeKernel(name, body);
}

suite('12 opcodes on real files', () => {
  describe.each(cases())('%s', (_label, backend, flags) => {
    let ctx: AioContext;
    beforeEach(() => {
      ctx = setup(64, { flags, backend });
    });
    afterEach(() => ctx.destroy());

    test.each(dirs)('pwrite, pread, pwritev, preadv, fsync, fdsync, noop in %s', async (_where, dir) => {
      const file = path.join(dir(), 'data');
      const fd = fs.openSync(file, 'w+');
      const a = bytes(10000, 1);
      expect(await one(ctx, { opcode: 'pwrite', fd, buffer: a, position: 100, data: 1 })).toBe(10000);
      const back = Buffer.alloc(10000);
      expect(await one(ctx, { opcode: 'pread', fd, buffer: back, position: 100, data: 2 })).toBe(10000);
      expect(back.equals(a)).toBe(true);
      const parts = [bytes(3000, 2), bytes(1, 3), bytes(4096, 4)];
      expect(await one(ctx, { opcode: 'pwritev', fd, buffers: parts, position: 20000, data: 3 })).toBe(7097);
      const into = [Buffer.alloc(97), Buffer.alloc(7000)];
      expect(await one(ctx, { opcode: 'preadv', fd, buffers: into, position: 20000, data: 4 })).toBe(7097);
      expect(Buffer.concat(into).equals(Buffer.concat(parts))).toBe(true);
      expect(await one(ctx, { opcode: 'fsync', fd, data: 5 })).toBe(0);
      expect(await one(ctx, { opcode: 'fdsync', fd, data: 6 })).toBe(0);
      // what the file holds, read with node:fs: byte for byte
      const disk = fs.readFileSync(file);
      expect(disk.subarray(100, 10100).equals(a)).toBe(true);
      expect(disk.subarray(20000, 27097).equals(Buffer.concat(parts))).toBe(true);
      expect(disk.length).toBe(27097);
      // a short read at the end of the file, and one past it
      expect(await one(ctx, { opcode: 'pread', fd, buffer: Buffer.alloc(100), position: 27050, data: 7 })).toBe(47);
      expect(await one(ctx, { opcode: 'pread', fd, buffer: Buffer.alloc(100), position: 90000, data: 8 })).toBe(0);
      fs.closeSync(fd);
      if (backend !== 'kernel') expect(await one(ctx, { opcode: 'noop', fd: 0, data: 9 })).toBe(0);
    });

    test('poll on a pipe: completes with the ready events once written', async () => {
      const fifo = path.join(tempDir(), 'fifo');
      require('node:child_process').execFileSync('mkfifo', [fifo]);
      const r = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      const w = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      const cb: IocbInit = { opcode: 'poll', fd: r, events: 1, data: 11 };
      expect(ctx.submit([cb])).toBe(1);
      expect(await ctx.getEvents(1, 1, 50)).toEqual([]);
      fs.writeSync(w, 'x');
      const [ev] = await ctx.getEvents(1, 1, 10000);
      expect(ev.data).toBe(11);
      expect(ev.res & 1).toBe(1);
      fs.closeSync(r);
      fs.closeSync(w);
    });

    test('errors: EBADF on a closed fd at submit; a directory read fails as the backend\'s kernel path does', async () => {
      const dir = tempDir();
      const fd = fs.openSync(path.join(dir, 'x'), 'w+');
      fs.closeSync(fd);
      let e: unknown;
      try {
        ctx.submit([{ opcode: 'pread', fd, buffer: Buffer.alloc(8) }]);
      } catch (err) {
        e = err;
      }
      expect(e).toBeInstanceOf(AioError);
      expect(e).toMatchObject({ code: 'EBADF', errno: -9, syscall: 'io_submit' });
      const dfd = fs.openSync(dir, 'r');
      if (backend === 'kernel') {
        // the real kernel refuses a directory at io_submit (no read_iter): EINVAL
        expect(() => ctx.submit([{ opcode: 'pread', fd: dfd, buffer: Buffer.alloc(8) }])).toThrow(
          expect.objectContaining({ code: 'EINVAL', syscall: 'io_submit' }),
        );
      } else {
        // pread(2) in the pool: the failure arrives as a negative res in the event
        expect(await one(ctx, { opcode: 'pread', fd: dfd, buffer: Buffer.alloc(8), data: 12 })).toBe(-21);
      }
      fs.closeSync(dfd);
    });
  });

  describe.each([
    ['legacy', 0],
    ['v2', SETUP_V2],
  ])('O_DIRECT on the root filesystem, %s', (_layout, flags) => {
    let ctx: AioContext;
    let dir: string;
    beforeAll(() => {
      dir = directDir();
    });
    beforeEach(() => {
      ctx = setup(64, { flags });
    });
    afterEach(() => ctx.destroy());

    test('aligned buffers go to kernel AIO and round-trip byte for byte', async () => {
      expect(ctx.backend.kernel).toBe(true);
      const fd = fs.openSync(path.join(dir, 'direct'), fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_DIRECT, 0o600);
      const out = alignedBuffer(8192);
      out.set(bytes(8192, 5));
      expect(await ctx.write(fd, out, 4096)).toBe(8192);
      const back = alignedBuffer(8192);
      expect(await ctx.read(fd, back, 4096)).toBe(8192);
      expect(back.equals(out)).toBe(true);
      fs.closeSync(fd);
    });

    test('an unaligned buffer is EINVAL in the event, as the kernel says', async () => {
      const fd = fs.openSync(path.join(dir, 'direct2'), fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_DIRECT, 0o600);
      fs.writeSync(fd, alignedBuffer(4096), 0, 4096, 0);
      const unaligned = alignedBuffer(8192).subarray(1, 4097);
      expect(await one(ctx, { opcode: 'pread', fd, buffer: unaligned, data: 13 })).toBe(-22);
      let e: unknown;
      try {
        await ctx.read(fd, unaligned, 0);
      } catch (err) {
        e = err;
      }
      expect(e).toBeInstanceOf(AioError);
      expect(e).toMatchObject({ code: 'EINVAL', errno: -22 });
      // and at an unaligned file position
      await expect(ctx.read(fd, alignedBuffer(4096), 100)).rejects.toMatchObject({ code: 'EINVAL' });
      fs.closeSync(fd);
    });
  });
});
