// Free-running indices near 2^32: a ring attached with head = tail = 2^32 - 5,
// a TS producer and a TS consumer (separate V2Ring objects) pass 1000 events
// across the wrap, reaping in odd batch sizes. Also the same with a corrupt
// tail written mid-run (tail - head > entries): EUCLEAN, never a bad read.
const { V2Ring, V2Header, v2RingBytes, EventBatch } = require('../dist/src');
const mem = new SharedArrayBuffer(v2RingBytes(8));
V2Ring.format(mem, 8);
const u32 = new Uint32Array(mem);
Atomics.store(u32, V2Header.head / 4, 0xffff_fffb); Atomics.store(u32, V2Header.tail / 4, 0xffff_fffb);
const p = new V2Ring(mem), c = new V2Ring(mem);
const b = new EventBatch(5);
let next = 0, want = 0, bad = 0;
while (want < 1000) {
  while (next < 1000 && p.produce({ data: next, res: -next, obj: 2 ** 40 + next })) next++;
  const n = c.reap(b, 1 + (want % 5));
  for (let i = 0; i < n; i++, want++) if (b.data(i) !== want || b.res(i) !== -want || b.obj(i) !== 2 ** 40 + want) bad++;
}
console.log('wrap: delivered', want, 'bad', bad, 'head', c.head, 'tail', c.tail);
Atomics.store(u32, V2Header.tail / 4, (c.head + 9) >>> 0);
try { console.log('reap after tail = head + 9:', c.reap(b)); } catch (e) { console.log('reap after tail = head + 9:', e.code); }
try { console.log('produce after:', p.produce({ data: 1, res: 0 })); } catch (e) { console.log('produce after:', e.code); }
Atomics.store(u32, V2Header.tail / 4, (c.head - 1) >>> 0);
try { console.log('reap after tail = head - 1:', c.reap(b)); } catch (e) { console.log('reap after tail = head - 1:', e.code); }
