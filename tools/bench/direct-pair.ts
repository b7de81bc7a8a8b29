// node dist/tools/bench/direct-pair.js [--seconds S] [--rounds N] [--size MiB] [--dir DIR] [--only read|write] [--json]
//
// Should backend 'auto' send O_DIRECT reads and writes to io_uring or to
// kernel AIO? O_DIRECT 4 KiB random reads and writes at depth 32 through the
// everyday API (a handle opened with direct: true, 32 loops of
// `await h.read` / `await h.write`), backend 'kernel' against backend
// 'uring' in one process, alternated (the first of each pair swapped every
// round). Each line: the median of the rounds' uring / kernel ratios of IOPS
// and of CPU per I/O (process.cpuUsage: user + system of every thread of
// this process, io_uring's io-wq workers included). Paired ratios are the
// figure to read on a loaded machine (docs/DECISIONS.md, "`auto` on
// io_uring").
import * as os from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { alignedBuffer, features, open, setup } from '../../src/index';
import { createFile, DEPTH, machineFacts, pickDir, removeFile, rootDevice, runBench } from './support';

const BLOCK = 4096;

interface Run {
  iops: number;
  cpuUsPerIo: number;
}

async function runOnce(file: string, sizeBytes: number, backend: 'kernel' | 'uring', write: boolean, seconds: number, seed: number): Promise<Run> {
  const ctx = setup(2 * DEPTH, { backend });
  try {
    const h = await open(file, 'r+', undefined, { context: ctx, direct: true });
    const blocks = sizeBytes / BLOCK;
    let x = seed >>> 0 || 1;
    let n = 0;
    const end = Date.now() + seconds * 1000;
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    try {
      await Promise.all(
        Array.from({ length: DEPTH }, async () => {
          const buf = alignedBuffer(BLOCK);
          while (Date.now() < end) {
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            const pos = (x % blocks) * BLOCK;
            if (write) await h.write(buf, 0, BLOCK, pos);
            else await h.read(buf, 0, BLOCK, pos);
            n++;
          }
        }),
      );
    } finally {
      await h.close();
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    return { iops: n / secs, cpuUsPerIo: (c.user + c.system) / n };
  } finally {
    ctx.destroy();
  }
}

const median = (a: number[]): number => {
  const s = [...a].sort((p, q) => p - q);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<number> {
  const argv = await yargs(hideBin(process.argv))
    .option('seconds', { type: 'number', default: 2, describe: 'seconds per runner' })
    .option('rounds', { type: 'number', default: 7, describe: 'pairs of runners (kernel, uring) per kind' })
    .option('size', { type: 'number', default: 256, describe: 'test file size in MiB' })
    .option('dir', { type: 'string', describe: 'directory for the test file (disk-backed; default /var/tmp, else $HOME)' })
    .option('only', { choices: ['read', 'write'] as const, describe: 'measure only reads or only writes' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' })
    .strict()
    .parse();
  if (!features().backends.uring) {
    process.stderr.write('direct-pair: io_uring does not work here: nothing to compare\n');
    return 1;
  }
  const dir = pickDir(argv.dir);
  const sizeBytes = argv.size * (1 << 20);
  const file = createFile(dir, sizeBytes);
  const kinds = argv.only === 'read' ? [false] : argv.only === 'write' ? [true] : [false, true];
  const out: Record<string, unknown>[] = [];
  try {
    for (const write of kinds) {
      const iops: number[] = [];
      const cpu: number[] = [];
      const rounds: Record<string, Run>[] = [];
      for (let r = 0; r < argv.rounds; r++) {
        const order: ('kernel' | 'uring')[] = r % 2 ? ['uring', 'kernel'] : ['kernel', 'uring'];
        const got: Record<string, Run> = {};
        for (const b of order) got[b] = await runOnce(file, sizeBytes, b, write, argv.seconds, r + 1);
        iops.push(got.uring.iops / got.kernel.iops);
        cpu.push(got.uring.cpuUsPerIo / got.kernel.cpuUsPerIo);
        rounds.push(got);
      }
      out.push({ kind: write ? 'randwrite' : 'randread', iopsRatio: median(iops), cpuRatio: median(cpu), rounds });
    }
  } finally {
    removeFile(file);
  }
  const facts = { ...machineFacts(undefined), device: rootDevice(dir), loadavg: os.loadavg() };
  if (argv.json) {
    process.stdout.write(JSON.stringify({ machine: facts, results: out }) + '\n');
    return 0;
  }
  process.stdout.write(`${facts.cpus} CPUs ${facts.model}, ${facts.kernel}, ${facts.device}, load ${facts.loadavg.map((l: number) => l.toFixed(2)).join(' ')}\n`);
  for (const o of out) {
    const rows = (o.rounds as Record<string, Run>[]).map((g) => `${g.kernel.iops.toFixed(0)}/${g.uring.iops.toFixed(0)} IOPS ${g.kernel.cpuUsPerIo.toFixed(2)}/${g.uring.cpuUsPerIo.toFixed(2)} µs`);
    process.stdout.write(`O_DIRECT 4 KiB ${o.kind}, depth ${DEPTH}: uring/kernel IOPS ${(o.iopsRatio as number).toFixed(3)}, CPU per I/O ${(o.cpuRatio as number).toFixed(3)} (median of ${rows.length} pairs)\n  kernel/uring per round: ${rows.join(' | ')}\n`);
  }
  return 0;
}

runBench('direct-pair', main);
