// setup with a resizable ArrayBuffer as v2 ring memory, shrunk while a
// request is in flight: the engine's C producer writes into memory the
// buffer no longer has?
const { setup, SETUP_V2, v2RingBytes } = require('../dist/src');
const rab = new ArrayBuffer(v2RingBytes(128), { maxByteLength: 1 << 20 });
try {
  const ctx = setup(100, { flags: SETUP_V2, memory: rab, backend: 'threadpool', threads: 1 });
  console.log('setup accepted a resizable ArrayBuffer; byteLength', rab.byteLength);
  rab.resize(0);
  console.log('after resize(0): byteLength', rab.byteLength);
  ctx.read(require('fs').openSync('/proc/self/exe', 'r'), Buffer.alloc(16), 0).then((r) => console.log('read', r), (e) => console.log('read rejected', e.code, e.message))
    .finally(() => { try { ctx.destroy(); console.log('destroyed'); } catch (e) { console.log('destroy', e.constructor.name, e.message); } });
} catch (e) { console.log('setup:', e.code, e.message); }
