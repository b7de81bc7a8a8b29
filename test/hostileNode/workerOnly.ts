// The main thread never loads the library; workers set up contexts (with
// reads in flight in some) and exit, naturally or by terminate().
import * as fs from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

if (isMainThread) {
  const [file, count] = [process.argv[2], Number(process.argv[3])];
  const codes: number[] = [];
  for (let i = 0; i < count; i++) {
    const w = new Worker(__filename, { workerData: { file, reading: i % 2 === 1 } });
    w.on('message', () => void w.terminate());
    w.on('exit', (code) => {
      codes.push(code);
      if (codes.length === count) console.log(JSON.stringify({ exited: codes.length }));
    });
  }
} else {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { setup } = require('../../src/index') as typeof import('../../src/index');
  const { file, reading } = workerData as { file: string; reading: boolean };
  const ctx = setup(16);
  if (reading) {
    const fd = fs.openSync(file, 'r');
    const loop = async (): Promise<void> => {
      const buf = Buffer.alloc(4096);
      for (;;) await ctx.read(fd, buf, 0);
    };
    for (let k = 0; k < 4; k++) void loop();
    setImmediate(() => parentPort!.postMessage('terminate me'));
  }
}
