// A worker with its own context: reads, waits while the main thread
// destroys its context, reads again, and exits without destroy.
require('../../workers/tsRequire');
const fs = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const { readBlocks, setupNamed } = require('./common.ts');

async function main() {
  const fd = fs.openSync(workerData.file, 'r');
  const ctx = setupNamed(workerData.config);
  const first = await readBlocks(ctx, fd, 0, 8);
  const go = new Promise((resolve) => parentPort.once('message', resolve));
  parentPort.postMessage({ step: 'ready', first });
  await go;
  const second = await readBlocks(ctx, fd, 8, 8);
  fs.closeSync(fd);
  parentPort.postMessage({ step: 'done', second });
}

void main();
