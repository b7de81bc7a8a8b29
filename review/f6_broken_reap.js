// Preload for bench:ring: make the TypeScript rings' reap hand out events
// whose res, res2 and obj are garbage (only data right), and lose the
// reap's last event every 1000th call when it found more than one... no:
// keep the count right, only corrupt the other three fields. Does the
// TypeScript consumer cell notice?  node -r ./review/f6_broken_reap.js dist/tools/bench/ring.js ...
const { LegacyRing, V2Ring } = require('../dist/src');
for (const R of [LegacyRing, V2Ring]) {
  const reap = R.prototype.reap;
  R.prototype.reap = function (batch, max) {
    const n = reap.call(this, batch, max);
    const u32 = new Uint32Array(batch.bytes.buffer);
    for (let i = 0; i < n; i++) u32.fill(0xdeadbeef, i * 8 + 2, i * 8 + 8);
    return n;
  };
}
