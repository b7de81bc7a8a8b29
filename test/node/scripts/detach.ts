// Child process: what is left of a context's ring and wait buffers once it
// is gone, here and in a worker the ring was posted to. Another worker's
// exit comes first, so a context wrongly ended by it shows here too.
// argv: config name. Prints a JSON report.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { attempt, runWorker, setupNamed } from './common';

function reply(worker: Worker, message: unknown, transfer: ArrayBuffer[] = []): Promise<unknown> {
  return new Promise((resolve) => {
    worker.once('message', resolve);
    worker.postMessage(message, transfer);
  });
}

async function main(): Promise<void> {
  const ctx = setupNamed(process.argv[2]);
  const internals = ctx as unknown as { ring: { u8: Uint8Array }; waiters: { wait: Uint32Array } };
  const ring = internals.ring.u8.buffer as ArrayBuffer;
  const wait = internals.waiters.wait.buffer as ArrayBuffer;
  const byteLengths = [ring.byteLength, wait.byteLength];
  await runWorker('requireOnly.js');
  const words = Array.from(new Uint32Array(ring, 0, 8));
  const holder = new Worker(path.join(__dirname, 'holdCopy.js'));
  await reply(holder, ring, [ring]);
  const afterPost = ring.byteLength;
  ctx.destroy();
  const copy = await reply(holder, 'read');
  process.stdout.write(
    JSON.stringify({
      byteLengths,
      words,
      afterPost,
      afterDestroy: [ring.byteLength, wait.byteLength],
      viewAfterDestroy: attempt(() => new Uint32Array(ring).length),
      countAfterDestroy: attempt(() => ctx.ring.count()),
      copy,
    }) + '\n',
  );
}

void main();
