// Child process: N contexts of one configuration in this process, each
// writing and reading one block (of a file opened O_DIRECT with 'direct');
// all destroyed. Prints what the process held at the start, with all N,
// and after, as JSON.
import * as fs from 'node:fs';
import { alignedBuffer, setup, SETUP_V2 } from '../../src/context';
import { ownThreadCount } from '../helpers';

const [, , ring, count, file, io, backend = 'auto'] = process.argv;
const BLOCK = 4096;

/** This process's io_uring instances: one descriptor each. */
function uringRings(): number {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[io_uring]';
    } catch {
      return false;
    }
  }).length;
}

function held(): { threads: number; maps: number; kernelContexts: number; uringRings: number; fds: number; rssKb: number } {
  const maps = fs.readFileSync('/proc/self/maps', 'utf8').trimEnd().split('\n');
  return {
    threads: ownThreadCount(),
    maps: maps.length,
    kernelContexts: maps.filter((l) => l.endsWith('/[aio] (deleted)')).length,
    uringRings: uringRings(),
    fds: fs.readdirSync('/proc/self/fd').length,
    rssKb: Math.round(process.memoryUsage().rss / 1024),
  };
}

async function round(n: number, fd: number): Promise<number> {
  const ctxs = Array.from({ length: n }, () => setup(1, { flags: ring === 'v2' ? SETUP_V2 : 0, backend: backend as 'auto' | 'uring' }));
  let good = 0;
  for (let i = 0; i < n; i++) {
    const data = alignedBuffer(BLOCK).fill(i & 0xff);
    const back = alignedBuffer(BLOCK);
    await ctxs[i].write(fd, data, (i % 64) * BLOCK);
    await ctxs[i].read(fd, back, (i % 64) * BLOCK);
    if (back.every((b) => b === (i & 0xff))) good++;
  }
  during = held();
  for (const c of ctxs) c.destroy();
  await Promise.all(ctxs.map((c) => c.closed));
  return good;
}

let during = held();

async function main(): Promise<void> {
  const fd = fs.openSync(file, fs.constants.O_RDWR | (io === 'direct' ? fs.constants.O_DIRECT : 0));
  // a first round: what the C library and V8 keep after it is there at the start
  await round(8, fd);
  const start = held();
  const good = await round(Number(count), fd);
  // the contexts' own mappings went with destroy; a collection first gives back the pages
  // V8's heap grew by while 10,000 of them lived (under load it may not have run yet)
  (globalThis as { gc?: () => void }).gc?.();
  const after = held();
  process.stdout.write(JSON.stringify({ good, start, during, after }));
}

void main();
