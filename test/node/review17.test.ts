// Found by the sixth hostile review of the Node API (each case failed
// before its fix): streams and writeFile on a FIFO kept several positioned
// requests in flight, and a FIFO has no positions, so the bytes came out of
// order; a loop of getEvents(0, ...) that finds nothing, and a loop of
// calls the engine refuses at submit, resolved in microtasks and the event
// loop never turned. Compared with node:fs on the same FIFOs.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { alignedBuffer, createReadStream, createWriteStream, open, setup, writeFile } from '../../src/index';
import { directDir, removeTempDirs, tempDir } from '../helpers';

afterAll(removeTempDirs);

const BACKENDS = ['auto', 'threadpool', 'uring'] as const;

/** Bytes whose every 4-byte word is its own index: a misplaced chunk shows. */
function counted(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes / 4; i++) b.writeUInt32LE(i, i * 4);
  return b;
}

function fifo(dir: string, name: string): string {
  const p = path.join(dir, name);
  execFileSync('mkfifo', [p]);
  return p;
}

/** What `cat` read from the FIFO, once it saw the writers' end. */
function catFrom(p: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('sh', ['-c', 'cat "$0" > "$1"', p, out], { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cat exited ${code}`))));
  });
}

/** Await step in a loop until a 5 ms timer has run (true), or 3,000,000 times (false: the loop never turned). */
async function timerRunsDuring(step: () => Promise<void>): Promise<boolean> {
  let fired = false;
  const t = setTimeout(() => (fired = true), 5);
  for (let calls = 0; !fired && calls < 3_000_000; calls++) await step();
  clearTimeout(t);
  return fired;
}

describe.each(BACKENDS)('%s', (backend) => {
  test('createReadStream of a FIFO a writer fills: the bytes in order, as fs.createReadStream', async () => {
    const dir = tempDir();
    const source = path.join(dir, 'source');
    const data = counted(1 << 20);
    fs.writeFileSync(source, data);
    const ctx = setup(64, { backend });
    try {
      const p = fifo(dir, 'in');
      const writer = spawn('sh', ['-c', 'cat "$0" > "$1"', source, p], { stdio: 'ignore' });
      const written = new Promise((r) => writer.on('exit', r));
      const fd = fs.openSync(p, 'r');
      const parts: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        const s = createReadStream(ctx, fd, { highWaterMark: 16384 });
        s.on('data', (b: Buffer) => parts.push(b));
        s.on('end', resolve);
        s.on('error', reject);
      });
      await written;
      expect(Buffer.concat(parts).equals(data)).toBe(true);
    } finally {
      ctx.destroy();
    }
  }, 60000);

  test('createWriteStream (depth 8) and writeFile into a FIFO: a reader gets the bytes in order, as through node:fs', async () => {
    const dir = tempDir();
    const ctx = setup(64, { backend });
    try {
      const streamed = counted(16 * 65536);
      const p = fifo(dir, 'out');
      const got = path.join(dir, 'got');
      const reader = catFrom(p, got);
      const fd = fs.openSync(p, 'w');
      await new Promise<void>((resolve, reject) => {
        const s = createWriteStream(ctx, fd, { depth: 8 });
        s.on('error', reject);
        s.on('close', resolve);
        for (let i = 0; i < 16; i++) s.write(streamed.subarray(i * 65536, (i + 1) * 65536));
        s.end();
      });
      await reader;
      expect(fs.readFileSync(got).equals(streamed)).toBe(true);

      const whole = counted(4 << 20);
      const reader2 = catFrom(p, got);
      await writeFile(p, whole, { context: ctx });
      await reader2;
      expect(fs.readFileSync(got).equals(whole)).toBe(true);
    } finally {
      ctx.destroy();
    }
  }, 60000);

  test('a loop of getEvents(0, 8, 0) that finds nothing lets a timer run', async () => {
    const ctx = setup(16, { backend });
    try {
      expect(await timerRunsDuring(async () => void (await ctx.getEvents(0, 8, 0)))).toBe(true);
    } finally {
      ctx.destroy();
    }
  }, 60000);

  test('a loop of awaited reads the engine refuses at submit (EBADF) lets a timer run, as node:fs', async () => {
    const ctx = setup(16, { backend });
    const unused = 1000;
    expect(() => fs.fstatSync(unused)).toThrow();
    const buf = Buffer.alloc(16);
    try {
      const step = async (): Promise<void> => {
        const code = await ctx.read(unused, buf, 0).then(
          () => 'read',
          (e: NodeJS.ErrnoException) => e.code,
        );
        expect(code).toBe('EBADF');
      };
      expect(await timerRunsDuring(step)).toBe(true);
    } finally {
      ctx.destroy();
    }
  }, 60000);
});

describe.each(['auto', 'threadpool', 'uring', 'kernel'] as const)('%s, O_DIRECT', (backend) => {
  test('reads at the current position until 0, on a file of 10,000 bytes: 4096, 4096, 1808, 0, as read(2) on the descriptor', async () => {
    const dir = directDir();
    const file = path.join(dir, 'tenk');
    fs.writeFileSync(file, counted(10000));
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
    const theirs: number[] = [];
    const big = alignedBuffer(4096);
    try {
      for (let n = -1; n !== 0; ) theirs.push((n = fs.readSync(fd, big, 0, 4096, null)));
    } finally {
      fs.closeSync(fd);
    }
    const ctx = setup(16, { backend });
    const h = await open(file, 'r', undefined, { context: ctx, direct: true });
    const ours: number[] = [];
    try {
      for (let n = -1; n !== 0 && ours.length < 8; ) ours.push((n = (await h.read(big, 0, 4096, null)).bytesRead));
    } finally {
      await h.close();
      ctx.destroy();
    }
    expect(theirs).toEqual([4096, 4096, 1808, 0]);
    expect(ours).toEqual(theirs);
  });
});
