// A worker that is posted a context's ring buffer, then, told the context
// was destroyed, reads what it holds and posts the first words back.
import { parentPort } from 'node:worker_threads';

const port = parentPort!;
let held: ArrayBuffer | undefined;
port.on('message', (m: unknown) => {
  if (m instanceof ArrayBuffer) {
    held = m;
    port.postMessage('held');
  } else {
    port.postMessage({ byteLength: held!.byteLength, words: Array.from(new Uint32Array(held!, 0, 8)) });
    port.close();
  }
});
