// Child process: a 'uring' context with more promise reads than its ring
// takes (the rest queue), destroyed from a completion callback while the
// others are still in flight. destroy must return (it hung: the JavaScript
// thread, blocked in destroy, was the announced waiter the engine's mover
// stepped aside for, so nobody reaped io_uring's CQ) and every promise
// settles once.
// argv: file, 'direct' or 'buffered', reads. Prints a JSON report.
import * as fs from 'node:fs';
import { alignedBuffer, setup } from '../../../src/index';

async function main(): Promise<void> {
  const [file, how, count] = process.argv.slice(2);
  const n = Number(count);
  const flags = how === 'direct' ? fs.constants.O_RDONLY | fs.constants.O_DIRECT : fs.constants.O_RDONLY;
  const fd = fs.openSync(file, flags);
  const ctx = setup(32, { backend: 'uring' });
  const settled = new Uint8Array(n);
  let destroyed = false;
  const all: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const p = ctx.read(fd, alignedBuffer(4096), (i % 256) * 4096).then(
      () => {
        settled[i]++;
        if (!destroyed) {
          destroyed = true;
          ctx.destroy();
        }
      },
      () => settled[i]++,
    );
    all.push(p);
  }
  await Promise.all(all);
  fs.closeSync(fd);
  process.stdout.write(JSON.stringify({ destroyed, settledOnce: settled.every((c) => c === 1) }) + '\n');
}

void main();
