// v2 context over a SharedArrayBuffer; another thread (here: this one, as a
// stand-in) writes the shared tail 1000 past head while a read promise is
// pending. Does the promise reject with EUCLEAN, or does the error escape?
const fs = require('node:fs');
const { setup, SETUP_V2, V2Header, v2RingBytes } = require('../dist/src');
process.on('uncaughtException', (e) => { console.log('UNCAUGHT', e.code, e.message); process.exit(3); });
const mem = new SharedArrayBuffer(v2RingBytes(128));
const ctx = setup(100, { flags: SETUP_V2, memory: mem, backend: 'threadpool', threads: 1 });
const u32 = new Uint32Array(mem);
Atomics.store(u32, V2Header.tail / 4, 1000);
const fd = fs.openSync('/proc/self/exe', 'r');
ctx.read(fd, Buffer.alloc(16), 0).then((r) => console.log('resolved', r), (e) => console.log('rejected', e.code));
setTimeout(() => { console.log('still alive; inflight', ctx.inflight); process.exit(0); }, 2000);
