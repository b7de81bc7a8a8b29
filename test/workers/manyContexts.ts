// Child process: N contexts of one configuration in this process, each
// writing and reading one block (of a file opened O_DIRECT with 'direct');
// all destroyed. Prints what the process held at the start, with all N,
// and after, as JSON.
import * as fs from 'node:fs';
import { alignedBuffer, setup, SETUP_V2 } from '../../src/context';
import { threadCount } from '../helpers';

const [, , ring, count, file, io] = process.argv;
const BLOCK = 4096;

function held(): { threads: number; maps: number; kernelContexts: number } {
  const maps = fs.readFileSync('/proc/self/maps', 'utf8').trimEnd().split('\n');
  return { threads: threadCount(), maps: maps.length, kernelContexts: maps.filter((l) => l.endsWith('/[aio] (deleted)')).length };
}

async function round(n: number, fd: number): Promise<number> {
  const ctxs = Array.from({ length: n }, () => setup(1, ring === 'v2' ? { flags: SETUP_V2 } : {}));
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
  const after = held();
  process.stdout.write(JSON.stringify({ good, start, during, after }));
}

void main();
