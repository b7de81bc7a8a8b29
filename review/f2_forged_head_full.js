// v2 context, ring in a SharedArrayBuffer: fill the ring with 128 unreaped
// events, then a hostile writer sets the shared head to tail ("all reaped").
// The engine admits and completes 128 more into slots still holding unreaped
// events. What do reap/getEvents then deliver?
const { setup, SETUP_V2, V2Header, v2RingBytes, EventBatch } = require('../dist/src');
const mem = new SharedArrayBuffer(v2RingBytes(128));
const ctx = setup(100, { flags: SETUP_V2, memory: mem, backend: 'threadpool', threads: 1 });
const u32 = new Uint32Array(mem);
const noops = (from, n) => Array.from({ length: n }, (_, i) => ({ opcode: 'noop', fd: 0, data: from + i }));
let sent = 0;
sent += ctx.submit(noops(0, 128));
const waitFull = () => { while (Atomics.load(u32, V2Header.tail / 4) < 128) ; };
waitFull();
console.log('tail', ctx.ring.tail, 'head', ctx.ring.head, 'count', ctx.ring.count());
Atomics.store(u32, V2Header.head / 4, Atomics.load(u32, V2Header.tail / 4)); // hostile writer
try { sent += ctx.submit(noops(1000, 128)); } catch (e) { console.log('second submit', e.code); }
console.log('submitted', sent);
const t0 = Date.now();
while (Atomics.load(u32, V2Header.tail / 4) < sent && Date.now() - t0 < 2000) ;
console.log('tail now', ctx.ring.tail);
const batch = new EventBatch(512);
let got = [];
try {
  const n = ctx.reap(batch, 512);
  for (let i = 0; i < n; i++) got.push(batch.data(i));
  console.log('reaped', n, 'first', got.slice(0, 3), 'last', got.slice(-3));
} catch (e) { console.log('reap threw', e.code, e.message); }
ctx.getEvents(1, 512, 500).then((evs) => { console.log('getEvents', evs.length, evs.slice(0, 2).map((e) => e.data)); },
  (e) => console.log('getEvents rejected', e.code)).finally(() => {
  console.log('inflight', ctx.inflight);
  try { ctx.destroy(); console.log('destroyed'); } catch (e) { console.log('destroy', e.code); }
});
