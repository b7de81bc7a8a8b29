// Found by the fourth hostile review of the Node API (each case failed
// before its fix): a FileHandle's vectored calls past IOV_MAX buffers and
// with a bigint position, pwritev2 and dsyncWrite past IOV_MAX, and the
// type checks of readFile's chunkSize and of setup's options. Compared
// with node:fs on the same files where node:fs has the same call.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultContext, dsyncWrite, IocbInit, open, readFile, setup, writeFile } from '../../src/index';
import { removeTempDirs, tempDir } from '../helpers';

afterAll(removeTempDirs);
// the calls without a context of their own (open, readFile, writeFile) made the shared one: jest runs
// other files in this process after, and a context left alive keeps the process's mover thread
afterAll(() => defaultContext().destroy());

const BACKENDS = ['auto', 'threadpool', 'uring', 'kernel'] as const;
/** Past IOV_MAX (1,024) buffers of 2 bytes, distinct contents. */
const MANY = 1500;

function pieces(seed: number): Buffer[] {
  return Array.from({ length: MANY }, (_, i) => Buffer.from([(i + seed) & 255, (i * 7 + seed) & 255]));
}

function fileOf(dir: string, name: string, content: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

test.each(BACKENDS)('%s: FileHandle.writev of 1,500 buffers writes them all, at a position and at the current one, as node:fs', async (backend) => {
  const dir = tempDir();
  const ctx = setup(32, { backend });
  try {
    for (const position of [0, null] as const) {
      const theirs = fileOf(dir, `theirs-${position}`, Buffer.from('abc'));
      const ours = fileOf(dir, `ours-${position}`, Buffer.from('abc'));
      const fh = await fs.promises.open(theirs, 'r+');
      const h = await open(ours, 'r+', 0o600, { context: ctx });
      try {
        if (position === null) {
          // both handles' current position moved past the first byte
          await fh.read(Buffer.alloc(1), 0, 1, null);
          await h.read(Buffer.alloc(1), 0, 1, null);
        }
        const expected = await fh.writev(pieces(position === null ? 3 : 1), position ?? undefined);
        const got = await h.writev(pieces(position === null ? 3 : 1), position ?? undefined);
        expect(got.bytesWritten).toBe(expected.bytesWritten);
        expect(got.bytesWritten).toBe(2 * MANY);
        // the current position moved on as node:fs's did: the next write lands after the pieces
        await fh.write(Buffer.from('Z'), 0, 1, null);
        await h.write(Buffer.from('Z'), 0, 1, null);
      } finally {
        await fh.close();
        await h.close();
      }
      expect(fs.readFileSync(ours).equals(fs.readFileSync(theirs))).toBe(true);
    }
  } finally {
    ctx.destroy();
  }
});

test.each(BACKENDS)('%s: FileHandle.readv of 1,500 buffers fills the first 1,024, as node:fs', async (backend) => {
  const dir = tempDir();
  const content = Buffer.alloc(4 * MANY);
  for (let i = 0; i < content.length; i++) content[i] = (i * 13) & 255;
  const file = fileOf(dir, 'read', content);
  const ctx = setup(32, { backend });
  const fh = await fs.promises.open(file, 'r');
  const h = await open(file, 'r', 0o600, { context: ctx });
  try {
    const theirs = pieces(0).map(() => Buffer.alloc(2));
    const ours = pieces(0).map(() => Buffer.alloc(2));
    const expected = await fh.readv(theirs, 0);
    const got = await h.readv(ours, 0);
    expect(got.bytesRead).toBe(expected.bytesRead);
    expect(got.bytesRead).toBe(2 * 1024);
    expect(Buffer.concat(ours).equals(Buffer.concat(theirs))).toBe(true);
  } finally {
    await fh.close();
    await h.close();
    ctx.destroy();
  }
});

test('a bigint position of FileHandle.readv and writev is that position, as read and write take it (docs/API.md)', async () => {
  const dir = tempDir();
  const file = fileOf(dir, 'digits', Buffer.from('0123456789'));
  const h = await open(file, 'r+');
  try {
    await h.writev([Buffer.from('XY')], 8n);
    const b = Buffer.alloc(2);
    expect((await h.readv([b], 5n)).bytesRead).toBe(2);
    expect(b.toString()).toBe('56');
    // the current position did not move: a read there starts at 0
    const c = Buffer.alloc(2);
    await h.read(c, 0, 2, null);
    expect(c.toString()).toBe('01');
  } finally {
    await h.close();
  }
  expect(fs.readFileSync(file, 'latin1')).toBe('01234567XY');
});

test.each(BACKENDS)('%s: pwritev2 and dsyncWrite of 1,500 buffers write them all, as writev', async (backend) => {
  const dir = tempDir();
  const ctx = setup(32, { backend });
  try {
    for (const how of ['pwritev2', 'dsyncWrite'] as const) {
      const file = fileOf(dir, how, Buffer.alloc(0));
      const fd = fs.openSync(file, 'r+');
      try {
        const data = pieces(5);
        const n = how === 'pwritev2' ? await ctx.pwritev2(fd, data, 0, 0) : await dsyncWrite(ctx, fd, data, 0);
        expect(n).toBe(2 * MANY);
        expect(fs.readFileSync(file).equals(Buffer.concat(data))).toBe(true);
      } finally {
        fs.closeSync(fd);
      }
    }
  } finally {
    ctx.destroy();
  }
});

test("readFile's and writeFile's chunkSize: a non-number is ERR_INVALID_ARG_TYPE, a number out of range ERR_OUT_OF_RANGE", async () => {
  const file = fileOf(tempDir(), 'chunks', Buffer.from('abc'));
  const codes = async (chunkSize: unknown): Promise<string[]> => {
    const r = await readFile(file, { chunkSize } as never).then(() => 'resolved', (e: NodeJS.ErrnoException) => `${e.name} ${e.code}`);
    const w = await writeFile(file, 'abc', { chunkSize } as never).then(() => 'resolved', (e: NodeJS.ErrnoException) => `${e.name} ${e.code}`);
    return [r, w];
  };
  expect(await codes(0)).toEqual(['RangeError ERR_OUT_OF_RANGE', 'RangeError ERR_OUT_OF_RANGE']);
  expect(await codes(1.5)).toEqual(['RangeError ERR_OUT_OF_RANGE', 'RangeError ERR_OUT_OF_RANGE']);
  expect(await codes('8')).toEqual(['TypeError ERR_INVALID_ARG_TYPE', 'TypeError ERR_INVALID_ARG_TYPE']);
  expect(await codes(1n)).toEqual(['TypeError ERR_INVALID_ARG_TYPE', 'TypeError ERR_INVALID_ARG_TYPE']);
  expect(await codes(1)).toEqual(['resolved', 'resolved']);
  expect(fs.readFileSync(file, 'latin1')).toBe('abc');
});

test("setup's options: null is no options; a number, string or array is ERR_INVALID_ARG_TYPE", () => {
  const ctx = setup(8, null);
  expect(ctx.backend.name).toBe('auto');
  ctx.destroy();
  for (const bad of [5, 'x', [], true]) {
    let code: unknown = 'did not throw';
    try {
      setup(8, bad as never).destroy();
    } catch (e) {
      code = `${(e as Error).name} ${(e as NodeJS.ErrnoException).code}`;
    }
    expect(code).toBe('TypeError ERR_INVALID_ARG_TYPE');
  }
});

test.each(BACKENDS)('%s: cancel of a poll still waiting for its descriptor succeeds, and the poll completes once with ECANCELED', async (backend) => {
  const file = path.join(tempDir(), 'poll-fifo');
  execFileSync('mkfifo', [file]);
  // the read end, with a writer that never writes: never readable, never at end of file (a FIFO
  // opened read-write waits on two queues, which kernel AIO's poll refuses: EINVAL, docs/API.md)
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const writer = fs.openSync(file, fs.constants.O_WRONLY);
  const ctx = setup(8, { backend });
  try {
    const poll: IocbInit = { opcode: 'poll', fd, events: 1, data: 7 };
    expect(ctx.submit([poll])).toBe(1);
    expect(await ctx.getEvents(1, 1, 30)).toEqual([]);
    ctx.cancel(poll);
    // cancelled, its event not yet reaped: no longer in flight, as the kernel's io_cancel says
    expect(() => ctx.cancel(poll)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(await ctx.getEvents(1, 2, 5000)).toEqual([expect.objectContaining({ data: 7, res: -125 })]);
    expect(() => ctx.cancel(poll)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  } finally {
    ctx.destroy();
    fs.closeSync(fd);
    fs.closeSync(writer);
  }
});

test('a writev past 1,024 buffers at the current position keeps its range: calls made with it come after it, in call order', async () => {
  const file = fileOf(tempDir(), 'ranges', Buffer.alloc(0));
  const h = await open(file, 'w+');
  try {
    const ones = (c: string): Buffer[] => Array.from({ length: 1100 }, () => Buffer.from(c));
    const [a, b, c] = await Promise.all([h.writev(ones('a')), h.writev(ones('b')), h.write(Buffer.from('c'))]);
    expect([a.bytesWritten, b.bytesWritten, c.bytesWritten]).toEqual([1100, 1100, 1]);
    // the handle's position is past all three
    await h.write(Buffer.from('d'));
  } finally {
    await h.close();
  }
  expect(fs.readFileSync(file, 'latin1')).toBe(`${'a'.repeat(1100)}${'b'.repeat(1100)}cd`);
});
