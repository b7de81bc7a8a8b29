// What the child processes of test/node share: setup options by name,
// workers that finish, and reads checked against the pattern file.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AioContext, setup, SetupOptions, SETUP_KERNEL_RING, SETUP_V2 } from '../../../src/index';
import { patternByte } from '../../helpers';

export const BLOCK = 4096;
export const BLOCKS = 16;

/** The configurations the tests run: the default, the kernel ring passed through, and the rest. */
export const CONFIGS: Record<string, SetupOptions> = {
  auto: { backend: 'auto' },
  kernel: { backend: 'kernel' },
  'kernel-ring': { flags: SETUP_KERNEL_RING },
  threadpool: { backend: 'threadpool', threads: 2 },
  uring: { backend: 'uring' },
  v2: { flags: SETUP_V2 },
};

export function setupNamed(name: string, nrEvents = 64): AioContext {
  return setup(nrEvents, CONFIGS[name]);
}

/** Run a worker script of this directory to its exit; resolves with what it posted last. */
export function runWorker(script: string, workerData?: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let posted: unknown;
    const w = new Worker(path.join(__dirname, script), { workerData });
    w.on('message', (m) => (posted = m));
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? resolve(posted) : reject(new Error(`${script} exited with ${code}`))));
  });
}

/**
 * Read n blocks of the pattern file through ctx (submit, then getEvents)
 * and return how many came back with the right bytes.
 */
export async function readBlocks(ctx: AioContext, fd: number, first: number, n: number): Promise<number> {
  const bufs = Array.from({ length: n }, () => new Uint8Array(BLOCK));
  const blocks = bufs.map((_, i) => (first + i) % BLOCKS);
  const queued = ctx.submit(bufs.map((buffer, i) => ({ opcode: 'pread', fd, buffer, position: blocks[i] * BLOCK, data: i })));
  const events = [];
  while (events.length < queued) events.push(...(await ctx.getEvents(1, n, 10000)));
  let good = 0;
  for (const e of events) {
    const i = Number(e.data);
    if (e.res === BLOCK && [0, 1, 100, BLOCK - 1].every((k) => bufs[i][k] === patternByte(blocks[i], k))) good++;
  }
  return good;
}

/** What fn returns, or the name of what it throws. */
export function attempt(fn: () => number): number | string {
  try {
    return fn();
  } catch (e) {
    return (e as Error).name;
  }
}
