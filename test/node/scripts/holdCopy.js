// A worker that is posted a context's ring buffer, then, told the context
// was destroyed, reads what it holds and posts the first words back.
const { parentPort } = require('node:worker_threads');

let held;
parentPort.on('message', (m) => {
  if (m instanceof ArrayBuffer) {
    held = m;
    parentPort.postMessage('held');
  } else {
    parentPort.postMessage({ byteLength: held.byteLength, words: Array.from(new Uint32Array(held, 0, 8)) });
    parentPort.close();
  }
});
