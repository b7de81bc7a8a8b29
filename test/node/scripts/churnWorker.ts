// A worker that sets up, reads through, and destroys contexts in a loop
// (rotating through the configurations it is given), then leaves one
// context with finished reads for its exit to clean up. Posts its counts.
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { readBlocks, setupNamed } from './common';

async function main(): Promise<void> {
  const { file, ms, id, configs } = workerData as { file: string; ms: number; id: number; configs: string[] };
  const fd = fs.openSync(file, 'r');
  const deadline = Date.now() + ms;
  let rounds = 0;
  let reads = 0;
  let good = 0;
  while (Date.now() < deadline) {
    const ctx = setupNamed(configs[(id + rounds) % configs.length], 32);
    good += await readBlocks(ctx, fd, rounds, 8);
    reads += 8;
    ctx.destroy();
    rounds++;
  }
  const left = setupNamed(configs[id % configs.length], 32);
  good += await readBlocks(left, fd, 0, 4);
  reads += 4;
  fs.closeSync(fd);
  parentPort?.postMessage({ rounds, reads, good });
}

void main();
