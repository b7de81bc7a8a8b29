// A worker on a shared v2 ring: producers reserve with CAS and publish in
// order; consumers claim with CAS and mark every cookie they get.
require('./tsRequire');
const { parentPort, workerData } = require('node:worker_threads');
const { V2Ring } = require('../../src/v2Ring.ts');
const { EventBatch } = require('../../src/events.ts');

const { role, id, sab, seen, done, perProducer, producers } = workerData;
const ring = new V2Ring(sab);
const marks = new Uint8Array(seen);
const finished = new Int32Array(done);
const total = perProducer * producers;
const napCell = new Int32Array(new SharedArrayBuffer(4));
// two cores, five spinning workers: let the others run while idle
const nap = () => Atomics.wait(napCell, 0, 0, 0.05);

if (role === 'producer') {
  for (let i = 0; i < perProducer; ) {
    const n = ring.mpReserve(Math.min(8, perProducer - i));
    if (n === 0) {
      nap();
      continue;
    }
    const start = ring.reservedStart;
    for (let k = 0; k < n; k++) ring.write(start + k, { data: id * perProducer + i + k, res: 0 });
    ring.mpPublish(start, n);
    i += n;
  }
  parentPort.postMessage(perProducer);
} else {
  const batch = new EventBatch(16);
  let mine = 0;
  while (Atomics.load(finished, 0) < total) {
    const n = ring.claimReap(batch);
    for (let k = 0; k < n; k++) Atomics.add(marks, batch.data(k), 1);
    if (n > 0) Atomics.add(finished, 0, n);
    else nap();
    mine += n;
  }
  parentPort.postMessage(mine);
}
