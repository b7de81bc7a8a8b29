// setup with a caller's ArrayBuffer as the v2 ring, then the caller transfers
// the buffer away (structuredClone with transfer) and drops the clone: the
// engine keeps writing completions into memory V8 has freed.
// node --expose-gc review/f9_transfer_ring.js
const fs = require('node:fs');
const { setup, SETUP_V2, v2RingBytes } = require('../dist/src');
const ab = new ArrayBuffer(v2RingBytes(128));
const ctx = setup(100, { flags: SETUP_V2, memory: ab, backend: 'threadpool', threads: 1 });
let moved = structuredClone(ab, { transfer: [ab] });
console.log('after transfer: caller buffer byteLength', ab.byteLength, 'clone', moved.byteLength);
moved = null;
global.gc(); global.gc();
// churn the heap so the freed block is reused
const junk = []; for (let i = 0; i < 2000; i++) junk.push(new ArrayBuffer(v2RingBytes(128)).slice(0));
const fd = fs.openSync('/proc/self/exe', 'r');
let n = 0;
const step = () => ctx.read(fd, Buffer.alloc(16), 0).then((r) => { if (++n < 200) return step(); console.log('200 reads resolved; last', r); },
  (e) => console.log('read rejected', e.code, e.message));
step().finally(() => { try { ctx.destroy(); console.log('destroyed'); } catch (e) { console.log('destroy threw', e.constructor.name, e.message); } });
