// Child process: a destroy in one environment leaves another's contexts
// alone, and a worker's exit ends its own context and no other.
// argv: config name, pattern file. Prints a JSON report.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { threadCount } from '../../helpers';
import { readBlocks, runWorker, setupNamed } from './common';

async function main(): Promise<void> {
  const [config, file] = process.argv.slice(2);
  const fd = fs.openSync(file, 'r');
  await runWorker('requireOnly.js');
  const threads0 = threadCount();
  const mine = setupNamed(config);
  const worker = new Worker(path.join(__dirname, 'isolationWorker.js'), { workerData: { config, file } });
  const steps: Record<string, number> = {};
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  await new Promise<void>((resolve) => {
    worker.on('message', (m: { step: string; first?: number; second?: number }) => {
      steps[m.step] = m.first ?? m.second ?? 0;
      if (m.step === 'ready') {
        mine.destroy();
        worker.postMessage('go');
      } else {
        resolve();
      }
    });
  });
  // made before the worker exits: its exit must not touch this one
  const later = setupNamed(config);
  const exitCode = await exited;
  const laterGood = await readBlocks(later, fd, 0, 8);
  later.destroy();
  await Promise.all([mine.closed, later.closed]);
  fs.closeSync(fd);
  process.stdout.write(JSON.stringify({ steps, exitCode, laterGood, threads0, threads: threadCount() }) + '\n');
}

void main();
