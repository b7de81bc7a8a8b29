// V2Ring's constructor validates the header, then reads features again: a
// writer flipping features between 0 and an unknown bit leaves some rings
// holding feature bits the validator never saw.
const { Worker } = require('node:worker_threads');
const { V2Ring, V2Header, v2RingBytes, FEAT_ALL } = require('../dist/src');
const mem = new SharedArrayBuffer(v2RingBytes(16));
V2Ring.format(mem, 16);
const stop = new Int32Array(new SharedArrayBuffer(4));
const w = new Worker(`const { workerData: [mem, stop, at] } = require('node:worker_threads');
  const u32 = new Uint32Array(mem);
  while (Atomics.load(stop, 0) === 0) { u32[at] = 0x80000000; u32[at] = 0; }`, { eval: true, workerData: [mem, stop, V2Header.features / 4] });
setTimeout(() => {
  let accepted = 0, refused = 0, bad = 0;
  for (let i = 0; i < 200000; i++) {
    try { const r = new V2Ring(mem); accepted++; if ((r.features & ~FEAT_ALL) !== 0) bad++; } catch (e) { refused++; }
  }
  Atomics.store(stop, 0, 1);
  console.log({ accepted, refused, acceptedWithUnvalidatedFeatures: bad });
}, 100);
