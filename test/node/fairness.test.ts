// 24 fairness: the event loop keeps turning while a context is kept busy
// (issue 13, rows 4-6). Reads served from the page cache complete inside
// the call that submits them, so without a budget an awaited loop runs in
// microtasks forever. Each loop runs a fixed count of operations, never for
// a time, and the test asserts what ran beside it: a 1 ms interval, a chain
// of setImmediate (one link per turn of the loop: at least one turn per
// TURN_BUDGET units of work, a unit being one event reaped or one request
// submitted, so at least one per TURN_BUDGET reads) and a TCP echo on
// 127.0.0.1.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { AioContext, alignedBuffer, IocbInit, setup, SETUP_V2, TURN_BUDGET } from '../../src/index';
import { directDir, patternByte, patternFile, tempDir } from '../helpers';

const BLOCK = 4096;
const BLOCKS = 256;
const LOOPS = 32;
/** reads per scenario: 32 loops sharing them */
const READS = 20000;

interface Beside {
  /** times the 1 ms interval fired */
  ticks: number;
  /** turns of the event loop (links of a setImmediate chain) */
  turns: number;
  /** round trips of the TCP echo */
  echoes: number;
}

let server: net.Server;
let port: number;

beforeAll(async () => {
  server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Run work with a 1 ms interval, a setImmediate chain and a TCP echo beside it; what each did while it ran. */
async function beside(work: () => Promise<void>): Promise<Beside> {
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const seen: Beside = { ticks: 0, turns: 0, echoes: 0 };
  let running = true;
  client.on('data', () => {
    if (!running) return;
    seen.echoes++;
    client.write('x');
  });
  const interval = setInterval(() => seen.ticks++, 1);
  const link = (): void => {
    if (!running) return;
    seen.turns++;
    setImmediate(link);
  };
  setImmediate(link);
  client.write('x');
  await work();
  // counted in the microtask that follows the work: nothing else ran since
  const during = { ...seen };
  running = false;
  clearInterval(interval);
  client.end();
  await new Promise((resolve) => client.once('close', resolve));
  return during;
}

function expectFair(seen: Beside, reads: number): void {
  expect(seen.ticks).toBeGreaterThanOrEqual(1);
  expect(seen.echoes).toBeGreaterThanOrEqual(1);
  expect(seen.turns).toBeGreaterThanOrEqual(Math.floor(reads / TURN_BUDGET));
}

/** A checksum of one block, to compare with the pattern's. */
function sum(buf: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < buf.length; i++) s = (s + buf[i] * (i + 1)) | 0;
  return s;
}

function patternSums(blocks: number): number[] {
  const block = new Uint8Array(BLOCK);
  return Array.from({ length: blocks }, (_, b) => {
    for (let i = 0; i < BLOCK; i++) block[i] = patternByte(b, i);
    return sum(block);
  });
}

/** 32 loops of `await ctx.read`, READS in all; each block read is checked by its checksum. */
async function readLoops(ctx: AioContext, fd: number, buffer: (k: number) => Uint8Array, reads: number): Promise<number> {
  const sums = patternSums(BLOCKS);
  let next = 0;
  let bad = 0;
  await Promise.all(
    Array.from({ length: LOOPS }, async (_, k) => {
      const buf = buffer(k);
      while (next < reads) {
        const block = (next++ * 37) % BLOCKS;
        const n = await ctx.read(fd, buf, block * BLOCK);
        if (n !== BLOCK || sum(buf) !== sums[block]) bad++;
      }
    }),
  );
  return bad;
}

const configs: [string, number][] = [
  ['legacy', 0],
  ['v2', SETUP_V2],
];

describe('24 fairness: the event loop turns while a context is busy', () => {
  let file: string;
  let fd: number;

  beforeAll(() => {
    file = patternFile(tempDir(), BLOCKS);
    fd = fs.openSync(file, 'r');
    fs.readFileSync(file);
  });

  afterAll(() => fs.closeSync(fd));

  test.each(configs)('row 4: 32 loops of await ctx.read over cached data (%s): timers, immediates and a socket run', async (_, flags) => {
    const ctx = setup(64, { flags });
    try {
      let bad = -1;
      const seen = await beside(async () => {
        bad = await readLoops(ctx, fd, () => Buffer.alloc(BLOCK), READS);
      });
      expect(bad).toBe(0);
      expectFair(seen, READS);
    } finally {
      ctx.destroy();
    }
  });

  test.each(configs)('large cached reads (16 MiB, %s): the budget counts bytes, so the loop turns every few reads', async (_, flags) => {
    const BIG = 16 << 20;
    const big = fs.openSync(patternFile(tempDir(), BIG / BLOCK), 'r');
    const ctx = setup(64, { flags });
    try {
      const ROUNDS = 8;
      fs.readFileSync(`/proc/self/fd/${big}`);
      let bad = 0;
      const seen = await beside(async () => {
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            const buf = Buffer.alloc(BIG);
            for (let i = 0; i < ROUNDS; i++) if ((await ctx.read(big, buf, 0)) !== BIG) bad++;
          }),
        );
      });
      expect(bad).toBe(0);
      // each read costs 1 + 256 units of 512: at least one turn per two reads
      expect(seen.turns).toBeGreaterThanOrEqual((4 * ROUNDS) / 2 - 1);
    } finally {
      ctx.destroy();
      fs.closeSync(big);
    }
  });

  test.each(configs)('row 5: a getEvents reap-and-resubmit loop while events are ready (%s): timers, immediates and a socket run', async (_, flags) => {
    const ctx = setup(64, { flags });
    try {
      const iocbs: IocbInit[] = Array.from({ length: LOOPS }, (_, k) => ({
        opcode: 'pread',
        fd,
        buffer: Buffer.alloc(BLOCK),
        position: k * BLOCK,
        data: k,
      }));
      let events = 0;
      let bad = 0;
      const seen = await beside(async () => {
        ctx.submit(iocbs);
        let submitted = LOOPS;
        while (events < READS) {
          const got = await ctx.getEvents(1, LOOPS);
          events += got.length;
          const again: IocbInit[] = [];
          for (const e of got) {
            const cb = e.iocb!;
            if (e.res !== BLOCK || (cb.buffer as Buffer)[0] !== patternByte(Number(cb.position!) / BLOCK, 0)) bad++;
            if (submitted < READS) {
              cb.position = ((submitted++ * 37) % BLOCKS) * BLOCK;
              again.push(cb);
            }
          }
          if (again.length > 0) ctx.submit(again);
        }
      });
      expect({ events, bad }).toEqual({ events: READS, bad: 0 });
      expectFair(seen, READS);
    } finally {
      ctx.destroy();
    }
  });
});

let direct: string | undefined;
try {
  direct = directDir();
} catch {
  process.stdout.write('skipping row 6: no filesystem here takes O_DIRECT\n');
}

(direct === undefined ? describe.skip : describe)('24 fairness with O_DIRECT', () => {
  let fd: number;

  beforeAll(() => {
    const file = patternFile(direct!, BLOCKS);
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  });

  afterAll(() => fs.closeSync(fd));

  test.each(configs)('a thread pool never reads an O_DIRECT descriptor on the event loop thread (%s): RWF_NOWAIT does not keep such a read from waiting for the device', async (_, flags) => {
    // the bytes this thread itself had fetched from storage (task I/O accounting): O_DIRECT reads always go to the device
    const fetched = (): number => Number(/read_bytes: (\d+)/.exec(fs.readFileSync(`/proc/self/task/${process.pid}/io`, 'utf8'))![1]);
    const ctx = setup(64, { flags, backend: 'threadpool', threads: 4 });
    try {
      const buffers = Array.from({ length: LOOPS }, () => alignedBuffer(BLOCK));
      const before = fetched();
      const bad = await readLoops(ctx, fd, (k) => buffers[k], 2000);
      const onLoop = fetched() - before;
      expect(bad).toBe(0);
      // before: about half of the reads (4 MB of 8) ran inline, blocking the loop while the disk served them
      expect(onLoop).toBeLessThan((2000 * BLOCK) / 16);
    } finally {
      ctx.destroy();
    }
  });

  test.each(configs)('row 6: 32 O_DIRECT read loops that checksum each block (%s): timers, immediates and a socket run', async (_, flags) => {
    const ctx = setup(64, { flags });
    try {
      const buffers = Array.from({ length: LOOPS }, () => alignedBuffer(BLOCK));
      let bad = -1;
      const seen = await beside(async () => {
        bad = await readLoops(ctx, fd, (k) => buffers[k], READS);
      });
      expect(bad).toBe(0);
      expectFair(seen, READS);
    } finally {
      ctx.destroy();
    }
  });
});
