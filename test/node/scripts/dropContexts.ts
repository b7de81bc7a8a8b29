// Child process (row 11), run with --expose-gc: contexts dropped without
// destroy() are collected, and with them their threads and kernel
// contexts; a ring a caller kept reads as detached, never unmapped memory.
// argv: config name, number of contexts, pattern file. Prints a JSON report.
import * as fs from 'node:fs';
import { LegacyRing } from '../../../src/index';
import { held, settle } from './lifecycle';
import { attempt, readBlocks, setupNamed } from './common';

const gc = (globalThis as { gc?: () => void }).gc!;

// The dropped contexts the collector has taken: the threads are the
// process's (shared), so their count alone does not say a context went.
let collected = 0;
const collection = new FinalizationRegistry<void>(() => {
  collected++;
});

/** Set up and use contexts, keeping only the last one's ring. */
async function useAndDrop(config: string, n: number, fd: number): Promise<{ ring: LegacyRing; good: number }> {
  let good = 0;
  let ring: LegacyRing | undefined;
  for (let i = 0; i < n; i++) {
    const ctx = setupNamed(config);
    collection.register(ctx, undefined);
    good += await readBlocks(ctx, fd, i, 1);
    ring = ctx.ring as LegacyRing;
  }
  return { ring: ring!, good };
}

async function main(): Promise<void> {
  const [config, count, file] = process.argv.slice(2);
  const n = Number(count);
  const fd = fs.openSync(file, 'r');
  // the first context starts what the process keeps (libuv's threads): count after it
  const first = setupNamed(config);
  await readBlocks(first, fd, 0, 1);
  first.destroy();
  await first.closed;
  const start = held();
  const { ring, good } = await useAndDrop(config, n, fd);
  const during = held();
  for (let turn = 0; turn < 250 && collected < n; turn++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const after = await settle(start, 250, gc);
  fs.closeSync(fd);
  process.stdout.write(JSON.stringify({ n, good, collected, start, during, after, keptRing: attempt(() => ring.count()) }) + '\n');
}

void main();
