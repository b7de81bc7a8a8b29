// 25 arguments: every argument is type-checked and nothing is coerced.
// The node:fs-shaped calls (read, write, fsync) throw what node:fs throws
// for the same bad argument, checked beside node:fs itself; the
// io_submit-shaped ones (submit, IocbArray, getEvents) say EINVAL and name
// the field, as io_submit and io_getevents would.
import * as fs from 'node:fs';
import { types } from 'node:util';
import { AioContext, defaultContext, IocbArray, IocbInit, open, setup } from '../../src/index';
import { patternByte, patternFile, removeTempDirs, tempDir } from '../helpers';

afterAll(removeTempDirs);
// the shared context open() without one made: a context left alive keeps the process's mover for the files jest runs next
afterAll(() => defaultContext().destroy());

function thrown(f: () => unknown): Record<string, unknown> {
  try {
    f();
  } catch (e) {
    const err = e as Error & Record<string, unknown>;
    return { name: err.name, code: err.code, message: err.message, field: err.field };
  }
  throw new Error('did not throw');
}

async function rejected(p: Promise<unknown>): Promise<Record<string, unknown>> {
  return p.then(
    () => {
      throw new Error('did not reject');
    },
    (e: Error & Record<string, unknown>) => ({ name: e.name, code: e.code, message: e.message, field: e.field }),
  );
}

const shape = (e: Record<string, unknown>) => ({ name: e.name, code: e.code, message: e.message });

describe('27 arguments', () => {
  let ctx: AioContext;
  let fd: number;
  let file: string;

  beforeAll(() => {
    file = patternFile(tempDir(), 4);
    fd = fs.openSync(file, 'r+');
    ctx = setup(16);
  });

  afterAll(() => {
    ctx.destroy();
    fs.closeSync(fd);
  });

  const badFds: unknown[] = ['x', null, -1, 1.5, 2 ** 31, Number.NaN, 3n];
  const badPositions: unknown[] = ['x', 1.5, -2, Number.NaN, 2 ** 53, {}, Number.POSITIVE_INFINITY, 2n ** 63n, -(2n ** 63n) - 1n, 2n ** 64n];
  const badBuffers: unknown[] = ['abc', 123, null, {}, [1, 2]];

  test.each(badFds)('row 13: read, write and fsync with fd %p throw what node:fs throws', async (bad) => {
    const buf = Buffer.alloc(8);
    expect(shape(await rejected(ctx.read(bad as number, buf, 0)))).toEqual(shape(thrown(() => fs.readSync(bad as number, buf, 0, 8, 0))));
    expect(shape(await rejected(ctx.write(bad as number, buf, 0)))).toEqual(shape(thrown(() => fs.writeSync(bad as number, buf, 0, 8, 0))));
    // node:fs's fsync prints a bigint without its n (3n as "(3)"), unlike its read and write: ours prints it as they do
    if (typeof bad !== 'bigint') expect(shape(await rejected(ctx.fsync(bad as number)))).toEqual(shape(thrown(() => fs.fsyncSync(bad as number))));
  });

  test.each(badPositions)('row 13: read and write with position %p throw what node:fs read throws', async (bad) => {
    // node:fs's writeSync does not check its position (a non-number means the current one): ours does, as its read
    const buf = Buffer.alloc(8);
    const nodeRead = shape(thrown(() => fs.readSync(fd, buf, 0, 8, bad as number)));
    expect(shape(await rejected(ctx.read(fd, buf, bad as number)))).toEqual(nodeRead);
    expect(shape(await rejected(ctx.write(fd, buf, bad as number)))).toEqual(nodeRead);
  });

  test.each(badBuffers)('row 13: read into buffer %p throws what node:fs throws', async (bad) => {
    expect(shape(await rejected(ctx.read(fd, bad as Buffer, 0)))).toEqual(shape(thrown(() => fs.readSync(fd, bad as Buffer, 0, 1, 0))));
  });

  test('row 13: write takes no string (node:fs would encode it): the same TypeError shape, naming what it takes', async () => {
    expect(await rejected(ctx.write(fd, 'abc' as unknown as Buffer, 0))).toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
      message: `The "buffer" argument must be an instance of Buffer, TypedArray, or DataView. Received type string ('abc')`,
    });
  });

  test('node:fs positions: a bigint position reads there exactly; null and -1 (the current position) are EINVAL: a context has no file position', async () => {
    const buf = Buffer.alloc(16);
    expect(await ctx.read(fd, buf, 4096n * 2n + 3n)).toBe(16);
    expect([...buf]).toEqual(Array.from({ length: 16 }, (_, i) => patternByte(2, 3 + i)));
    const beyond = await rejected(ctx.read(fd, buf, 2n ** 63n));
    expect(beyond).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    // node:fs reads every negative bigint its int64 check lets through as the current position too
    for (const current of [null, -1, -1n, -2n, -(2n ** 63n)]) {
      expect(await rejected(ctx.read(fd, buf, current as number))).toMatchObject({ code: 'EINVAL', field: 'position', name: 'AioError' });
      expect(await rejected(ctx.write(fd, buf, current as number))).toMatchObject({ code: 'EINVAL', field: 'position' });
    }
    // node:fs takes a DataView too
    const view = new DataView(new ArrayBuffer(4));
    expect(await ctx.read(fd, view, 4096)).toBe(4);
    expect(view.getUint8(1)).toBe(patternByte(1, 1));
  });

  describe("readv and writev beside node:fs's on the same file", () => {
    const nodeReadv = (buffers: Buffer[], position: number) =>
      new Promise<number>((resolve, reject) => fs.readv(fd, buffers, position, (e, n) => (e ? reject(e) : resolve(n))));
    const nodeWritev = (f: number, buffers: Buffer[], position: number) =>
      new Promise<number>((resolve, reject) => fs.writev(f, buffers, position, (e, n) => (e ? reject(e) : resolve(n))));
    // node:fs's errors come from another realm than jest's Error: isNativeError holds for both
    const errorShape = (e: Error & Record<string, unknown>) => ({ isError: types.isNativeError(e), code: e.code, errno: e.errno, syscall: e.syscall });
    const settled = (p: Promise<number>) => p.then((n) => ({ n }), errorShape);
    // distinct bytes per buffer, so a piece written twice or out of place shows
    const numbered = (count: number, size: number) => Array.from({ length: count }, (_, i) => Buffer.alloc(size, i % 251));

    test('readv of no buffers is EINVAL from read, as node:fs; writev of none writes 0 bytes', async () => {
      expect(await settled(ctx.readv(fd, [], 0))).toEqual(await settled(nodeReadv([], 0)));
      expect(await settled(ctx.readv(fd, [], 0))).toEqual({ isError: true, code: 'EINVAL', errno: -22, syscall: 'read' });
      expect(await ctx.writev(fd, [], 0)).toBe(await nodeWritev(fd, [], 0));
    });

    test('readv past IOV_MAX buffers reads into the first IOV_MAX only (a short read), the same bytes as node:fs', async () => {
      const ours = numbered(1500, 4).map((b) => Buffer.from(b.fill(0xee)));
      const theirs = numbered(1500, 4).map((b) => Buffer.from(b.fill(0xee)));
      const n = await ctx.readv(fd, ours, 4096 * 2);
      expect(n).toBe(await nodeReadv(theirs, 4096 * 2));
      expect(n).toBe(1024 * 4);
      expect(Buffer.concat(ours)).toEqual(Buffer.concat(theirs));
    });

    test.each([1025, 3000, 2048])('writev of %i buffers writes them all in order, as node:fs: the same file', async (count) => {
      const dir = tempDir();
      const files = ['ours', 'theirs'].map((name) => fs.openSync(`${dir}/${name}-${count}`, 'w+'));
      try {
        // sizes that do not divide a piece evenly
        const buffers = numbered(count, 3);
        expect(await ctx.writev(files[0], buffers, 5n)).toBe(await nodeWritev(files[1], buffers, 5));
        expect(fs.readFileSync(`${dir}/ours-${count}`)).toEqual(fs.readFileSync(`${dir}/theirs-${count}`));
        expect(fs.fstatSync(files[0]).size).toBe(5 + 3 * count);
      } finally {
        files.forEach((f) => fs.closeSync(f));
      }
    });

    test('a position node:fs readv and writev read as the current one (below -1, a negative bigint) is EINVAL: a context has none', async () => {
      for (const current of [-2, -1000, -2n]) {
        expect(await rejected(ctx.readv(fd, [Buffer.alloc(4)], current))).toMatchObject({ code: 'EINVAL', field: 'position' });
        expect(await rejected(ctx.writev(fd, [Buffer.alloc(4)], current))).toMatchObject({ code: 'EINVAL', field: 'position' });
      }
    });
  });

  describe.each(['threadpool', 'kernel', 'auto'] as const)("a call the system refuses fails as node:fs's does (%s backend)", (backend) => {
    // the kernel backend refuses these at io_submit, the pool when it runs them: the same error either way
    const nodeCall = (call: (cb: (e: Error | null) => void) => void) => new Promise<Error | null>((resolve) => call(resolve));
    const full = (e: unknown) => {
      const err = e as Error & Record<string, unknown>;
      return { isError: types.isNativeError(err), message: err.message, code: err.code, errno: err.errno, syscall: err.syscall, path: err.path };
    };
    const closedFd = 999_999;
    let own: AioContext;
    let readOnly: number;
    let writeOnly: number;

    beforeAll(() => {
      own = setup(16, { backend });
      readOnly = fs.openSync(file, 'r');
      writeOnly = fs.openSync(file, 'a');
    });
    afterAll(() => {
      own.destroy();
      fs.closeSync(readOnly);
      fs.closeSync(writeOnly);
    });

    test('read, write, readv, writev, fsync, fdatasync of a descriptor not open: EBADF, "bad file descriptor", named for the call', async () => {
      const buf = Buffer.alloc(8);
      const pairs: [Promise<unknown>, Promise<Error | null>][] = [
        [own.read(closedFd, buf, 0), nodeCall((cb) => fs.read(closedFd, buf, 0, 8, 0, cb))],
        [own.write(closedFd, buf, 0), nodeCall((cb) => fs.write(closedFd, buf, 0, 8, 0, cb))],
        [own.readv(closedFd, [buf], 0), nodeCall((cb) => fs.readv(closedFd, [buf], 0, cb))],
        [own.writev(closedFd, [buf], 0), nodeCall((cb) => fs.writev(closedFd, [buf], 0, cb))],
        [own.fsync(closedFd), nodeCall((cb) => fs.fsync(closedFd, cb))],
        [own.datasync(closedFd), nodeCall((cb) => fs.fdatasync(closedFd, cb))],
      ];
      const settled = pairs.map(([ours, theirs]) => Promise.all([ours.catch((e) => e), theirs]));
      for (const [ours, theirs] of await Promise.all(settled)) expect(full(ours)).toEqual(full(theirs));
      expect(full(await own.read(closedFd, buf, 0).catch((e) => e))).toMatchObject({ message: 'EBADF: bad file descriptor, read', syscall: 'read' });
    });

    test('a read of a write-only descriptor and a write of a read-only one: EBADF as node:fs says it', async () => {
      const buf = Buffer.alloc(8);
      expect(full(await own.read(writeOnly, buf, 0).catch((e) => e))).toEqual(full(await nodeCall((cb) => fs.read(writeOnly, buf, 0, 8, 0, cb))));
      expect(full(await own.readv(writeOnly, [buf], 0).catch((e) => e))).toEqual(full(await nodeCall((cb) => fs.readv(writeOnly, [buf], 0, cb))));
      expect(full(await own.write(readOnly, buf, 0).catch((e) => e))).toEqual(full(await nodeCall((cb) => fs.write(readOnly, buf, 0, 8, 0, cb))));
      expect(full(await own.writev(readOnly, [buf], 0).catch((e) => e))).toEqual(full(await nodeCall((cb) => fs.writev(readOnly, [buf], 0, cb))));
    });
  });

  test('a resizable ArrayBuffer is refused, by the promise calls and by submit: resize() could shrink it under the I/O', async () => {
    const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
    const buf = new Uint8Array(new Resizable(16, { maxByteLength: 64 }));
    expect(await rejected(ctx.read(fd, buf, 0))).toMatchObject({ code: 'EINVAL', field: 'buffer' });
    expect(() => ctx.submit([{ opcode: 'pread', fd, buffer: buf, position: 0 }])).toThrow(expect.objectContaining({ code: 'EINVAL', field: 'buffer' }));
    expect(buf.byteLength).toBe(16);
  });

  test("a promise call's refusals name node:fs's syscall (read, write), never io_submit: a resizable buffer, pwritev2's rwFlags, a FileHandle's calls", async () => {
    // before: the resizable buffer's EINVAL and pwritev2's bad rwFlags named io_submit
    const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
    const buf = new Uint8Array(new Resizable(16, { maxByteLength: 64 }));
    const syscallOf = (p: Promise<unknown>): Promise<unknown> =>
      p.then(
        () => 'resolved',
        (e: NodeJS.ErrnoException & { field?: string }) => ({ code: e.code, syscall: e.syscall, field: e.field, io_submit: /io_submit/.test(e.message) }),
      );
    const refused = (syscall: string, field: string): unknown => ({ code: 'EINVAL', syscall, field, io_submit: false });
    expect(await syscallOf(ctx.read(fd, buf, 0))).toEqual(refused('read', 'buffer'));
    expect(await syscallOf(ctx.write(fd, buf, 0))).toEqual(refused('write', 'buffer'));
    expect(await syscallOf(ctx.readv(fd, [buf], 0))).toEqual(refused('read', 'buffers'));
    expect(await syscallOf(ctx.writev(fd, [buf], 0))).toEqual(refused('write', 'buffers'));
    expect(await syscallOf(ctx.pwritev2(fd, buf, 0, 0))).toEqual(refused('write', 'buffer'));
    expect(await syscallOf(ctx.pwritev2(fd, Buffer.alloc(4), 0, -1))).toEqual(refused('write', 'rwFlags'));
    const h = await open(file, 'r+');
    try {
      expect(await syscallOf(h.read(buf, 0, 16, 0))).toEqual(refused('read', 'buffer'));
      expect(await syscallOf(h.write(buf, 0, 16, 0))).toEqual(refused('write', 'buffer'));
      expect(await syscallOf(h.readv([buf], 0))).toEqual(refused('read', 'buffers'));
      expect(await syscallOf(h.writev([buf], 0))).toEqual(refused('write', 'buffers'));
    } finally {
      await h.close();
    }
    // the raw, io_submit-shaped call keeps io_submit's name
    expect(thrown(() => ctx.submit([{ opcode: 'pread', fd, buffer: buf, position: 0 }]))).toMatchObject({ code: 'EINVAL', field: 'buffer' });
    expect(() => ctx.submit([{ opcode: 'pread', fd, buffer: buf, position: 0 }])).toThrow(expect.objectContaining({ syscall: 'io_submit' }));
  });

  test('row 13: a bad field of a submitted iocb is EINVAL naming it, never coerced', () => {
    const buffer = Buffer.alloc(8);
    const bad: [string, Record<string, unknown>][] = [
      ['rwFlags', { opcode: 'pread', buffer, rwFlags: 'x' }],
      ['rwFlags', { opcode: 'pread', buffer, rwFlags: -1 }],
      ['data', { opcode: 'noop', data: 'abc' }],
      ['data', { opcode: 'noop', data: 2n ** 64n + 5n }],
      ['data', { opcode: 'noop', data: -1n }],
      ['data', { opcode: 'noop', data: -1 }],
      ['data', { opcode: 'noop', data: 1.5 }],
      ['data', { opcode: 'noop', data: 2 ** 53 }],
      ['events', { opcode: 'poll', events: 'x' }],
      ['events', { opcode: 'poll', events: 0x1_0000 }],
      ['opcode', { opcode: '__proto__' }],
      ['opcode', { opcode: 'toString' }],
      ['position', { opcode: 'pread', buffer, position: null }],
      ['position', { opcode: 'pread', buffer, position: -1 }],
      ['position', { opcode: 'pread', buffer, position: 'x' }],
      ['position', { opcode: 'pread', buffer, position: 2n ** 63n }],
      ['fd', { opcode: 'noop', fd: 'x' }],
      ['buffers', { opcode: 'preadv', buffers: [buffer, 'x'] }],
    ];
    for (const [field, cb] of bad) {
      const e = thrown(() => ctx.submit([{ fd, ...cb } as unknown as IocbInit]));
      expect([field, cb, e.code, e.field]).toEqual([field, cb, 'EINVAL', field]);
    }
    expect(ctx.inflight).toBe(0);
  });

  test('data as a number or bigint comes back exactly; a bigint position is exact', async () => {
    const buffer = Buffer.alloc(8);
    const cookies = [0, 2 ** 53 - 1, 2n ** 64n - 1n, 2n ** 53n + 1n];
    expect(ctx.submit(cookies.map((data) => ({ opcode: 'pread', fd, buffer, position: 4096n * 3n, data })))).toBe(4);
    const events = await ctx.getEvents(4, 4, 10000);
    expect(events.map((e) => e.data).sort()).toEqual([0, 2 ** 53 - 1, 2n ** 64n - 1n, 2n ** 53n + 1n].sort());
    expect(buffer[0]).toBe(patternByte(3, 0));
  });

  test('row 13: IocbArray setters refuse what they cannot write exactly', () => {
    const a = new IocbArray(2);
    const ok = [0, fd, 0, 0, 8, 0, 0] as const;
    const at = (k: number, v: unknown) => ok.map((x, i) => (i === k ? v : x)) as unknown as typeof ok;
    const cases: [string, number, unknown][] = [
      ['fd', 1, 'x'],
      ['bufferOffset', 3, -1],
      ['length', 4, 1.5],
      ['position', 5, 'x'],
      ['position', 5, -1],
      ['data', 6, 'abc'],
      ['data', 6, 2 ** 53],
    ];
    for (const [field, k, v] of cases) {
      const e = thrown(() => a.setRead(...at(k, v)));
      expect([field, v, e.code, e.field]).toEqual([field, v, 'EINVAL', field]);
    }
    expect(thrown(() => a.setPlain(0, 'noop', fd, 'abc' as unknown as number))).toMatchObject({ code: 'EINVAL', field: 'data' });
    a.setRead(...ok);
  });

  test('row 10: getEvents with a timeout setTimeout cannot honour is EINVAL, without a TimeoutOverflowWarning; the longest it can still waits', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const c = setup(4);
    try {
      for (const t of [2 ** 31, 1e300, 'x', Number.POSITIVE_INFINITY]) {
        expect(await rejected(c.getEvents(1, 1, t as number))).toMatchObject({ code: 'EINVAL', field: 'timeoutMs' });
      }
      let settled = false;
      const longest = c.getEvents(1, 1, 2 ** 31 - 1).then((events) => {
        settled = true;
        return events;
      });
      await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setImmediate(r));
      expect(settled).toBe(false);
      c.destroy();
      expect(await longest).toEqual([]);
    } finally {
      c.destroy();
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

});
