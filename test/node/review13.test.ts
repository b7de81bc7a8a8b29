// review13: defects found by a hostile review, each with the scenario that
// showed it. The scenarios that could hang run in child processes (./child),
// so a hang is a kill, not a stuck jest.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alignedBuffer, defaultContext, EventBatch, open, readFile, setup, writeFile } from '../../src/index';
import { describeUring, directDir } from '../helpers';
import { child } from './child';

const HANG_MS = 30000;

/** 1 MiB written with O_DIRECT: none of it in the page cache, so buffered reads of it wait for the device. */
function coldFile(dir: string, round: number): string {
  const file = path.join(dir, `cold-${round}`);
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_DIRECT);
  const b = alignedBuffer(1 << 20);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + round) & 255;
  fs.writeSync(fd, b, 0, b.length, 0);
  fs.closeSync(fd);
  return file;
}

describeUring('uring destroy with reads in flight', () => {
  // a run hung 4 times in 5 before the fix
  test('destroy from a completion callback with O_DIRECT reads in flight returns, each promise settled once', () => {
    const dir = directDir();
    for (let round = 0; round < 3; round++) {
      const file = coldFile(dir, round);
      expect(child('uringDestroyInflight', [file, 'direct', '300'], [], HANG_MS)).toEqual({ destroyed: true, settledOnce: true });
      fs.rmSync(file);
    }
  });
});

test('an EventBatch cannot be transferred away: a reap never consumes events into a detached batch', () => {
  const ctx = setup(16, { backend: 'threadpool' });
  const fd = fs.openSync('/proc/self/exe', 'r');
  try {
    const batch = new EventBatch(8);
    // Node 20 copies an untransferable buffer, later Node throws: either way the batch keeps its memory
    try {
      const buffer = batch.bytes.buffer as ArrayBuffer;
      structuredClone(buffer, { transfer: [buffer] });
    } catch {
      // DataCloneError
    }
    expect(batch.bytes.byteLength).toBe(8 * 32);
    const queued = ctx.submit([0, 1, 2, 3].map((i) => ({ opcode: 'pread' as const, fd, buffer: Buffer.alloc(16), position: i, data: 100 + i })));
    expect(queued).toBe(4);
    let got = 0;
    const data: number[] = [];
    const until = Date.now() + 10000;
    while (got < 4 && Date.now() < until) {
      const n = ctx.reap(batch);
      for (let i = 0; i < n; i++) data.push(batch.data(i));
      got += n;
    }
    expect(data.sort()).toEqual([100, 101, 102, 103]);
  } finally {
    ctx.destroy();
    fs.closeSync(fd);
  }
});

describe('writeFile checks its data before it opens (and so truncates) the file', () => {
  const dir = directDir();
  const file = path.join(dir, 'precious');
  const cases: [string, unknown, Record<string, unknown>][] = [
    ['an array (an iterable node:fs takes, aioring does not)', ['x'], {}],
    ['a number', 5, {}],
    ['a chunkSize of 0', 'x', { chunkSize: 0 }],
  ];
  test.each(cases)('%s: rejected, the file keeps its bytes', async (_, data, options) => {
    fs.writeFileSync(file, 'precious');
    await expect(writeFile(file, data as string, options)).rejects.toThrow();
    expect(fs.readFileSync(file, 'utf8')).toBe('precious');
  });
  test('a view of a resizable ArrayBuffer is written, as node:fs writes it', async () => {
    const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(4, { maxByteLength: 8 });
    new Uint8Array(ab).set([65, 66, 67, 68]);
    fs.writeFileSync(file, 'precious');
    await writeFile(file, new Uint8Array(ab));
    expect(fs.readFileSync(file, 'utf8')).toBe('ABCD');
  });
  afterAll(() => defaultContext().destroy());
});

describe("readFile/writeFile options and FileHandle.read's buffer, as node:fs/promises checks them", () => {
  const dir = directDir();
  const file = path.join(dir, 'options');
  /** What a call rejects with, as the fields a caller tells errors apart by. */
  async function refusal(p: () => Promise<unknown>): Promise<Record<string, unknown>> {
    try {
      await p();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return { name: err.name, code: err.code };
    }
    return { resolved: true };
  }
  test.each([5, true, 5n])('readFile(path, %p) is refused as node:fs refuses it', async (options) => {
    fs.writeFileSync(file, 'data');
    const ours = await refusal(() => readFile(file, options as unknown as null));
    expect(ours).toEqual(await refusal(() => fs.promises.readFile(file, options as unknown as null)));
    expect(ours.code).toBe('ERR_INVALID_ARG_TYPE');
  });
  test('an aborted signal: readFile and writeFile reject with AbortError as node:fs does, and writeFile leaves the file alone', async () => {
    const signal = AbortSignal.abort();
    fs.writeFileSync(file, 'precious');
    const ours = await refusal(() => readFile(file, { signal }));
    expect(ours).toEqual(await refusal(() => fs.promises.readFile(file, { signal })));
    expect(ours).toEqual({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(await refusal(() => writeFile(file, 'x', { signal }))).toEqual(await refusal(() => fs.promises.writeFile(file, 'x', { signal })));
    expect(fs.readFileSync(file, 'utf8')).toBe('precious');
  });
  test('a signal aborted while readFile runs stops it with AbortError', async () => {
    fs.writeFileSync(file, Buffer.alloc(8 << 20, 7));
    const c = new AbortController();
    const p = readFile(file, { signal: c.signal, chunkSize: 4096 });
    c.abort();
    expect(await refusal(() => p)).toEqual({ name: 'AbortError', code: 'ABORT_ERR' });
  });
  test('FileHandle.read({ buffer: null }) is refused with a TypeError, as node:fs refuses it; read({}) reads into a buffer of its own', async () => {
    fs.writeFileSync(file, 'data');
    const ours = await open(file, 'r');
    const theirs = await fs.promises.open(file, 'r');
    try {
      // node:fs 20 fails on it with a plain TypeError (no code); ours says which argument
      const r = await refusal(() => ours.read({ buffer: null } as never));
      expect(r.name).toBe((await refusal(() => theirs.read({ buffer: null } as never))).name);
      expect(r).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      const a = await ours.read({});
      const b = await theirs.read({});
      expect([a.bytesRead, a.buffer.byteLength]).toEqual([b.bytesRead, b.buffer.byteLength]);
    } finally {
      await ours.close();
      await theirs.close();
    }
  });
  test('readFile of a file above 2 GiB - 1 (sparse) is the RangeError ERR_FS_FILE_TOO_LARGE node:fs gives, by path and by handle', async () => {
    const big = path.join(dir, 'sparse-2g');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 2 ** 31);
    const ours = await open(big, 'r');
    const theirs = await fs.promises.open(big, 'r');
    try {
      /** the refusal, with its message (both say the size) */
      const said = async (p: () => Promise<unknown>) => ({ ...(await refusal(p)), message: await p().catch((e: Error) => e.message) });
      const byPath = await said(() => readFile(big));
      expect(byPath).toEqual(await said(() => fs.promises.readFile(big)));
      expect(byPath).toEqual({ name: 'RangeError', code: 'ERR_FS_FILE_TOO_LARGE', message: 'File size (2147483648) is greater than 2 GiB' });
      expect(await said(() => ours.readFile())).toEqual(await said(() => theirs.readFile()));
    } finally {
      await ours.close();
      await theirs.close();
      fs.rmSync(big);
    }
  });
  afterAll(() => defaultContext().destroy());
});
