// Child process (row 2): workers set up, use and destroy contexts at the
// same time for a while, as the main thread reads through its own; then
// every thread, descriptor and kernel context they made must be gone, and
// the system's aio-nr back where it was.
// argv: pattern file, milliseconds, workers, config names (comma-separated).
// Prints a JSON report.
import * as fs from 'node:fs';
import { fdCount, threadCount } from '../../helpers';
import { readBlocks, runWorker, setupNamed } from './common';
import { held } from './lifecycle';

async function main(): Promise<void> {
  const [file, ms, workers, configs] = process.argv.slice(2);
  // the first worker starts what the process keeps (libuv's pool): count after it
  await runWorker('requireOnly.js');
  const threads0 = threadCount();
  const fds0 = fdCount();
  const held0 = held();
  const fd = fs.openSync(file, 'r');
  const ctx = setupNamed('auto');
  let finished = false;
  const all = Promise.all(Array.from({ length: Number(workers) }, (_, id) => runWorker('churnWorker.js', { file, ms: Number(ms), id, configs: configs.split(',') })));
  void all.finally(() => (finished = true));
  let mainReads = 0;
  let mainGood = 0;
  while (!finished) {
    mainGood += await readBlocks(ctx, fd, mainReads, 8);
    mainReads += 8;
    // cached reads complete inline: give the loop a turn to hear the workers
    await new Promise(setImmediate);
  }
  const results = await all;
  ctx.destroy();
  await ctx.closed;
  fs.closeSync(fd);
  // aio-nr is the system's: other processes' contexts come and go in it too
  // (the test files beside this one), so wait for it to be back at or below
  // where it was: what this process charged is given back; others may have
  // freed theirs meanwhile (this process's own kernel contexts are counted
  // exactly, by their mappings)
  let now = held();
  for (let i = 0; i < 150 && now.aioNr > held0.aioNr; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    now = held();
  }
  const { kernelContexts, aioNr } = now;
  process.stdout.write(
    JSON.stringify({ results, mainReads, mainGood, threads0, threads: threadCount(), fds0, fds: fdCount(), kernelContexts0: held0.kernelContexts, kernelContexts, aioNr0: held0.aioNr, aioNr }) + '\n',
  );
}

void main();
