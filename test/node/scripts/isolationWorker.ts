// A worker with its own context: reads, waits while the main thread
// destroys its context, reads again, and exits without destroy.
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { readBlocks, setupNamed } from './common';

async function main(): Promise<void> {
  const port = parentPort!;
  const fd = fs.openSync(workerData.file, 'r');
  const ctx = setupNamed(workerData.config);
  const first = await readBlocks(ctx, fd, 0, 8);
  const go = new Promise((resolve) => port.once('message', resolve));
  port.postMessage({ step: 'ready', first });
  await go;
  const second = await readBlocks(ctx, fd, 8, 8);
  fs.closeSync(fd);
  port.postMessage({ step: 'done', second });
}

void main();
