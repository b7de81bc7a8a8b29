// A v2 context whose ring lives in a SharedArrayBuffer another thread may
// write: forge the shared head ahead of tail while a request is in flight
// (a read of a FIFO), then let the request complete. Does its promise settle?
const fs = require('node:fs');
const { execSync } = require('node:child_process');
const { setup, SETUP_V2, V2Header, v2RingBytes } = require('../dist/src');
const fifo = `/tmp/r15-fifo-${process.pid}`;
execSync(`mkfifo ${fifo}`);
const mem = new SharedArrayBuffer(v2RingBytes(128));
const ctx = setup(100, { flags: SETUP_V2, memory: mem, backend: 'threadpool', threads: 2 });
const u32 = new Uint32Array(mem);
const fd = fs.openSync(fifo, fs.constants.O_RDWR);
const p = ctx.read(fd, Buffer.alloc(4), 0).then((r) => `resolved ${r}`, (e) => `rejected ${e.code}`);
setTimeout(() => {
  Atomics.store(u32, V2Header.head / 4, Atomics.load(u32, V2Header.tail / 4) + 1000); // hostile writer
  fs.writeSync(fd, Buffer.from('abcd'));
  const t = new Promise((r) => setTimeout(() => r('no answer after 3 s'), 3000));
  Promise.race([p, t]).then((what) => {
    console.log('promise:', what, 'inflight', ctx.inflight, 'count()', (() => { try { return ctx.ring.count(); } catch (e) { return e.code; } })());
    try { ctx.submit([{ opcode: 'noop', fd: 0 }]); console.log('submit ok'); } catch (e) { console.log('submit', e.code); }
    const d0 = Date.now();
    try { ctx.destroy(); console.log('destroy ok', Date.now() - d0, 'ms'); } catch (e) { console.log('destroy', e.code); }
    fs.closeSync(fd); fs.unlinkSync(fifo);
    console.log('settled after destroy:'); p.then((x) => console.log(' ', x));
    setTimeout(() => process.exit(0), 200);
  });
}, 200);
