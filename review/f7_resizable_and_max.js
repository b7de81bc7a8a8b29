// (a) a resizable ArrayBuffer as ring memory, shrunk after attach;
// (b) reap's max: Infinity and 2^33 on both rings and on a context.
const { V2Ring, LegacyRing, v2RingBytes, EventBatch, setup } = require('../dist/src');
const rab = new ArrayBuffer(v2RingBytes(8), { maxByteLength: 65536 });
const ring = V2Ring.format(rab, 8);
ring.produce({ data: 1, res: 0 });
rab.resize(600);
const b = new EventBatch(8);
try { console.log('shrunk v2 reap', ring.reap(b)); } catch (e) { console.log('shrunk v2 reap:', e.constructor.name, e.code, e.message); }
const lrab = new ArrayBuffer(32 + 32 * 8, { maxByteLength: 65536 });
const l = LegacyRing.format(lrab, 8); l.produce({ data: 1, res: 0 }); lrab.resize(100);
try { console.log('shrunk legacy reap', l.reap(b)); } catch (e) { console.log('shrunk legacy reap:', e.constructor.name, e.code, e.message); }
for (const max of [Infinity, 2 ** 33]) {
  const v = V2Ring.format(new ArrayBuffer(v2RingBytes(8)), 8); v.produce({ data: 1, res: 0 });
  const g = LegacyRing.format(new ArrayBuffer(32 + 32 * 8), 8); g.produce({ data: 1, res: 0 });
  const ctx = setup(8);
  const r = (f) => { try { return f(); } catch (e) { return e.code; } };
  console.log(`max ${max}: v2 ${r(() => v.reap(b, max))} legacy ${r(() => g.reap(b, max))} ctx ${r(() => ctx.reap(b, max))}`);
  ctx.destroy();
}
