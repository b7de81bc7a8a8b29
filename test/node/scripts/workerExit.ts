// Child process (row 1): the main thread has a context; a worker loads the
// library and exits; the main thread's context must still work.
// argv: config name, pattern file. Prints a JSON report.
import * as fs from 'node:fs';
import { BLOCKS, readBlocks, runWorker, setupNamed } from './common';

async function main(): Promise<void> {
  const [config, file] = process.argv.slice(2);
  const fd = fs.openSync(file, 'r');
  const ctx = setupNamed(config);
  const before = await readBlocks(ctx, fd, 0, 4);
  await runWorker('requireOnly.js');
  // reads the ring first, as the getEvents did
  const ready = (await ctx.getEvents(0, 4, 0)).length;
  const after = await readBlocks(ctx, fd, 4, BLOCKS);
  ctx.destroy();
  fs.closeSync(fd);
  process.stdout.write(JSON.stringify({ before, ready, after }) + '\n');
}

void main();
