// review13: defects found by a hostile review, each with the scenario that
// showed it. The scenarios that could hang run in child processes (./child),
// so a hang is a kill, not a stuck jest.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alignedBuffer, defaultContext, EventBatch, setup, writeFile } from '../../src/index';
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
