#!/usr/bin/env node
// npm run bench:fio [-- --json] [--seconds S] [--rounds R] [--size MiB] [--dir DIR]
//
// Unmodified fio: randread 4 KiB, iodepth 32, direct=1, on one file of the
// root filesystem, with the kernel's libaio and with the drop-in libaio
// preloaded in its default mode (no opt-in: the kernel's own contexts) and
// in each opt-in mode (AIORING_RING=legacy, the engine behind the kernel's
// ring layout, and AIORING_RING=v2), for userspace_reap 0 and 1. Then buffered cold
// random reads (the file's pages dropped before each run), depth 32: the
// drop-in on io_uring (AIORING_BACKEND=uring, with the kernel's buffered
// timing and with AIORING_ASYNC_BUFFERED=1) vs the kernel's libaio (which
// serves buffered reads inside io_submit) and vs fio's own io_uring engine.
// Rounds interleaved; each row is the median round; each ratio is the
// median of the rounds' paired ratios (drop-in over its peer in the same
// round), which a loaded machine disturbs less than a ratio of medians.
import * as os from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { shimPath } from '../../src/index';
import { createFile, fioVersion, medianOf, pickDir, removeFile, Result, rootDevice, runFio, toResult } from './support';

interface Variant {
  name: string;
  engine: 'libaio' | 'io_uring';
  direct: boolean;
  reap: 0 | 1;
  env: NodeJS.ProcessEnv;
}

const REAPS: Array<0 | 1> = [0, 1];
// default: the drop-in preloaded with no opt-in, so the kernel's own contexts
const MODES = ['default', 'legacy', 'v2'] as const;
const SHIM_URING = { LD_PRELOAD: shimPath, AIORING_BACKEND: 'uring' };

const DIRECT: Variant[] = REAPS.flatMap((reap) =>
  (['kernel', ...MODES] as const).map((ring) => ({
    name: `${ring === 'kernel' ? 'kernel libaio' : `drop-in ${ring}`}, userspace_reap=${reap}`,
    engine: 'libaio' as const,
    direct: true,
    reap,
    env: ring === 'kernel' ? {} : ring === 'default' ? { LD_PRELOAD: shimPath } : { LD_PRELOAD: shimPath, AIORING_RING: ring },
  })),
);
const COLD: Variant[] = [
  { name: 'cold buffered: kernel libaio', engine: 'libaio', direct: false, reap: 0, env: {} },
  { name: 'cold buffered: drop-in on io_uring', engine: 'libaio', direct: false, reap: 0, env: SHIM_URING },
  { name: 'cold buffered: drop-in on io_uring, async', engine: 'libaio', direct: false, reap: 0, env: { ...SHIM_URING, AIORING_ASYNC_BUFFERED: '1' } },
  { name: 'cold buffered: fio io_uring', engine: 'io_uring', direct: false, reap: 0, env: {} },
];
const VARIANTS = [...DIRECT, ...COLD];

/** The middle value (the mean of the two middle ones for an even count). */
function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function main(): number {
  const argv = yargs(hideBin(process.argv))
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' })
    .option('seconds', { type: 'number', default: 3, describe: 'seconds per fio run' })
    .option('rounds', { type: 'number', default: 3, describe: 'rounds; each row is its median round' })
    .option('size', { type: 'number', default: 256, describe: 'test file size in MiB' })
    .option('dir', { type: 'string', describe: 'disk-backed directory for the test file' })
    .strict()
    .parseSync();
  const fio = fioVersion();
  if (!fio) {
    process.stderr.write('fio is not installed (apt-get install -y fio): nothing measured\n');
    return 1;
  }
  const sizeBytes = argv.size << 20;
  const dir = pickDir(argv.dir);
  const file = createFile(dir, sizeBytes);
  const rounds: Result[][] = [];
  try {
    for (let round = 0; round < argv.rounds; round++) {
      rounds.push(
        VARIANTS.map((v) =>
          toResult(
            v.name,
            runFio({
              file,
              sizeBytes,
              seconds: argv.seconds,
              engine: v.engine,
              direct: v.direct,
              // buffered runs start from a file with none of its pages cached
              cold: !v.direct,
              // userspace_reap applies only when polling for a minimum of 0 events
              extra: v.engine === 'libaio' ? [`--userspace_reap=${v.reap}`, ...(v.reap ? ['--iodepth_batch_complete_min=0'] : [])] : [],
              env: v.env,
            }),
          ),
        ),
      );
    }
  } finally {
    removeFile(file);
  }
  const results = VARIANTS.map((_, i) => medianOf(rounds.map((r) => r[i])));
  const at = (name: string): number => VARIANTS.findIndex((v) => v.name === name);
  const paired = (a: string, b: string): number => +median(rounds.map((r) => r[at(a)].iops / r[at(b)].iops)).toFixed(3);
  const ratios: Record<string, number> = {};
  for (const reap of REAPS)
    for (const ring of MODES) ratios[`${ring}VsKernelReap${reap}`] = paired(`drop-in ${ring}, userspace_reap=${reap}`, `kernel libaio, userspace_reap=${reap}`);
  ratios.coldUringVsKernel = paired(COLD[1].name, COLD[0].name);
  ratios.coldUringAsyncVsKernel = paired(COLD[2].name, COLD[0].name);
  ratios.coldUringVsFioUring = paired(COLD[1].name, COLD[3].name);
  ratios.coldUringAsyncVsFioUring = paired(COLD[2].name, COLD[3].name);
  const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', kernel: os.release(), fio, file: rootDevice(dir) };
  if (argv.json) {
    process.stdout.write(`${JSON.stringify({ machine, results, ratios })}\n`);
    return 0;
  }
  const x = (v: number): string => `${v.toFixed(3)}x`;
  const lines = [
    `machine: ${machine.cpus} CPUs, ${machine.model}, Linux ${machine.kernel}, ${fio}; file on ${machine.file}`,
    `fio randread 4k iodepth=32 (direct=1, then cold buffered), ${argv.seconds} s a run, median of ${argv.rounds} interleaved rounds`,
    '',
    `${'run'.padEnd(44)}${'IOPS'.padStart(10)} ${'CPU µs/IO'.padStart(10)}`,
    ...results.map((r) => `${r.name.padEnd(44)}${r.iops.toLocaleString('en-US').padStart(10)} ${(r.cpuSecondsPerIo * 1e6).toFixed(2).padStart(10)}`),
    '',
    ...REAPS.flatMap((reap) =>
      MODES.map((ring) => `drop-in ${ring.padEnd(7)} vs kernel, userspace_reap=${reap}   ${x(ratios[`${ring}VsKernelReap${reap}`])}  (target >= 0.95x)`),
    ),
    `cold: drop-in on io_uring vs kernel libaio     ${x(ratios.coldUringVsKernel)}  (async: ${x(ratios.coldUringAsyncVsKernel)})`,
    `cold: drop-in on io_uring vs fio io_uring      ${x(ratios.coldUringVsFioUring)}  (async: ${x(ratios.coldUringAsyncVsFioUring)}; target >= 0.9x)`,
    `each ratio: the median of ${argv.rounds} rounds' paired ratios`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

process.exitCode = main();
