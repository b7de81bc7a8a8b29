// One commits runner in a process of its own (tools/bench/commits-ab/pair.sh):
// node one.cjs <built index.js | fs> <group | groupWrite> <file> <seconds>
// prints {rate, cpuUs, spc (syncs per commit), delays, syncUs, gapUs (p50s)}
const fs = require('fs');
const [, , mod, style, file, secs] = process.argv;
const WRITERS = 16, BLOCK = 4096, SPAN = 64 << 20;
async function loops(seconds, step) {
  const deadline = performance.now() + seconds * 1000;
  let commits = 0;
  await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
    const buf = Buffer.alloc(BLOCK, w);
    for (let i = 0; performance.now() < deadline; i++) { await step(((i * WRITERS + w) * BLOCK) % SPAN, buf); commits++; }
  }));
  return commits;
}
(async () => {
  const seconds = Number(secs);
  let ctx, fd, fh, step;
  if (mod === 'fs') {
    fh = await fs.promises.open(file, 'w+');
    step = async (pos, buf) => { await fh.write(buf, 0, BLOCK, pos); await fh.datasync(); };
  } else {
    const a = require(mod);
    fd = fs.openSync(file, 'w+');
    ctx = a.setup(4 * WRITERS);
    step = style === 'groupWrite' ? (pos, buf) => a.groupWrite(ctx, fd, buf, pos)
      : async (pos, buf) => { await ctx.write(fd, buf, pos); await a.groupDatasync(ctx, fd); };
  }
  const c0 = process.cpuUsage(), t0 = performance.now();
  const n = await loops(seconds, step);
  const t = (performance.now() - t0) / 1000, c = process.cpuUsage(c0);
  const out = { rate: n / t, cpuUs: (c.user + c.system) / n };
  if (ctx) { const s = ctx.syncStats(); out.spc = s.fdatasyncs / n; out.delays = s.delays;
    const r = s.records, d = [], g = [];
    for (let i = 0; i < r.length; i++) { d.push(Number(r[i].end - r[i].start) / 1000); if (i) g.push(Number(r[i].start - r[i - 1].end) / 1000); }
    const med = (x) => x.sort((p, q) => p - q)[x.length >> 1] | 0;
    out.syncUs = med(d); out.gapUs = med(g); ctx.destroy(); fs.closeSync(fd); }
  else await fh.close();
  fs.unlinkSync(file);
  console.log(JSON.stringify(out));
})();
