// Workers that keep O_DIRECT reads in flight into alignedBuffer()s (a thread
// pool, so the reads run on its threads) are terminated again and again.
// alignedBuffer's memory was a node-api external buffer, whose finalizer
// node-api runs when the worker's environment is torn down, in-flight
// requests or not: the reads landed in freed memory (heap corruption).
import * as fs from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

if (isMainThread) {
  const [file, count] = [process.argv[2], Number(process.argv[3])];
  void (async () => {
    for (let n = 0; n < count; n++) {
      const w = new Worker(__filename, { workerData: { file } });
      await new Promise((resolve) => w.once('message', resolve));
      await new Promise((resolve) => setTimeout(resolve, n % 7));
      await w.terminate();
    }
    console.log(JSON.stringify({ terminated: count }));
  })();
} else {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { alignedBuffer, setup } = require('../../src/index') as typeof import('../../src/index');
  const { file } = workerData as { file: string };
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  const ctx = setup(64, { backend: 'threadpool' });
  parentPort!.postMessage('reading');
  void (async () => {
    for (let i = 0; ; i++) {
      const reads = [];
      for (let j = 0; j < 32; j++) reads.push(ctx.read(fd, alignedBuffer(4096), ((i * 32 + j) % 256) * 4096));
      await Promise.all(reads);
    }
  })();
}
