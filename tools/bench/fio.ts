#!/usr/bin/env node
// npm run bench:fio [-- --json] [--seconds S] [--rounds R] [--size MiB] [--dir DIR]
//
// Unmodified fio: randread 4 KiB, iodepth 32, direct=1, on one file of the
// root filesystem, with the kernel's libaio and with the drop-in libaio
// preloaded in each opt-in mode (AIORING_RING=legacy, the engine behind the
// kernel's ring layout, and AIORING_RING=v2; the default mode is the
// kernel's own contexts), for userspace_reap 0 and 1, rounds interleaved.
// Each row is the median round; each ratio is the median of the rounds'
// paired ratios (drop-in over the kernel run of the same round), which a
// loaded machine disturbs less than a ratio of medians.
import * as os from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { shimPath } from '../../src/index';
import { createFile, fioVersion, medianOf, pickDir, removeFile, Result, rootDevice, runFio, toResult } from './support';

type Ring = 'kernel' | 'legacy' | 'v2';

interface Variant {
  name: string;
  reap: 0 | 1;
  ring: Ring;
}

const REAPS: Array<0 | 1> = [0, 1];
const MODES = ['legacy', 'v2'] as const;
const VARIANTS: Variant[] = REAPS.flatMap((reap) =>
  (['kernel', ...MODES] as Ring[]).map((ring) => ({
    name: `${ring === 'kernel' ? 'kernel libaio' : `drop-in ${ring}`}, userspace_reap=${reap}`,
    reap,
    ring,
  })),
);

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
              engine: 'libaio',
              direct: true,
              // userspace_reap applies only when polling for a minimum of 0 events
              extra: [`--userspace_reap=${v.reap}`, ...(v.reap ? ['--iodepth_batch_complete_min=0'] : [])],
              env: v.ring === 'kernel' ? {} : { LD_PRELOAD: shimPath, AIORING_RING: v.ring },
            }),
          ),
        ),
      );
    }
  } finally {
    removeFile(file);
  }
  const results = VARIANTS.map((_, i) => medianOf(rounds.map((r) => r[i])));
  const at = (ring: Ring, reap: 0 | 1): number => VARIANTS.findIndex((v) => v.ring === ring && v.reap === reap);
  const ratios: Record<string, number> = {};
  for (const reap of REAPS)
    for (const ring of MODES)
      ratios[`${ring}VsKernelReap${reap}`] = +median(rounds.map((r) => r[at(ring, reap)].iops / r[at('kernel', reap)].iops)).toFixed(3);
  const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', kernel: os.release(), fio, file: rootDevice(dir) };
  if (argv.json) {
    process.stdout.write(`${JSON.stringify({ machine, results, ratios })}\n`);
    return 0;
  }
  const lines = [
    `machine: ${machine.cpus} CPUs, ${machine.model}, Linux ${machine.kernel}, ${fio}; file on ${machine.file}`,
    `fio randread 4k iodepth=32 direct=1, ${argv.seconds} s a run, median of ${argv.rounds} interleaved rounds`,
    '',
    `${'run'.padEnd(36)}${'IOPS'.padStart(10)} ${'CPU µs/IO'.padStart(10)}`,
    ...results.map((r) => `${r.name.padEnd(36)}${r.iops.toLocaleString('en-US').padStart(10)} ${(r.cpuSecondsPerIo * 1e6).toFixed(2).padStart(10)}`),
    '',
    ...REAPS.flatMap((reap) =>
      MODES.map((ring) => `drop-in ${ring.padEnd(6)} vs kernel, userspace_reap=${reap}   ${ratios[`${ring}VsKernelReap${reap}`].toFixed(3)}x  (target >= 0.95x)`),
    ),
    `each ratio: the median of ${argv.rounds} rounds' paired ratios`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

process.exitCode = main();
