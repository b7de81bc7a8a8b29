#!/usr/bin/env node
// npm run bench:fio [-- --json] [--seconds S] [--rounds R] [--size MiB] [--dir DIR]
//
// Unmodified fio: randread 4 KiB, iodepth 32, direct=1, on one file of the
// root filesystem, with the kernel's libaio and with the drop-in libaio
// preloaded on its engine's legacy ring (AIORING_RING=legacy: the default
// mode is the kernel's own contexts), for userspace_reap 0 and 1, rounds interleaved;
// each row is the median round. Prints the shim/kernel IOPS ratios. Then
// buffered cold random reads (the file's pages dropped before each run),
// depth 32: the drop-in on io_uring (AIORING_BACKEND=uring, with the
// kernel's buffered timing and with AIORING_ASYNC_BUFFERED=1) vs the
// kernel's libaio (which serves buffered reads inside io_submit) and vs
// fio's own io_uring engine.
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

const SHIM_LEGACY = { LD_PRELOAD: shimPath, AIORING_RING: 'legacy' };
const SHIM_URING = { LD_PRELOAD: shimPath, AIORING_BACKEND: 'uring' };

const VARIANTS: Variant[] = [
  { name: 'kernel libaio, userspace_reap=0', engine: 'libaio', direct: true, reap: 0, env: {} },
  { name: 'aioring shim, userspace_reap=0', engine: 'libaio', direct: true, reap: 0, env: SHIM_LEGACY },
  { name: 'kernel libaio, userspace_reap=1', engine: 'libaio', direct: true, reap: 1, env: {} },
  { name: 'aioring shim, userspace_reap=1', engine: 'libaio', direct: true, reap: 1, env: SHIM_LEGACY },
  { name: 'cold buffered: kernel libaio', engine: 'libaio', direct: false, reap: 0, env: {} },
  { name: 'cold buffered: shim on io_uring', engine: 'libaio', direct: false, reap: 0, env: SHIM_URING },
  { name: 'cold buffered: shim on io_uring, async', engine: 'libaio', direct: false, reap: 0, env: { ...SHIM_URING, AIORING_ASYNC_BUFFERED: '1' } },
  { name: 'cold buffered: fio io_uring', engine: 'io_uring', direct: false, reap: 0, env: {} },
];

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
  const ratio = (shim: number, kernel: number): number => +(results[shim].iops / results[kernel].iops).toFixed(2);
  const ratios = {
    shimVsKernelReap0: ratio(1, 0),
    shimVsKernelReap1: ratio(3, 2),
    coldUringShimVsKernel: ratio(5, 4),
    coldUringAsyncShimVsKernel: ratio(6, 4),
    coldUringShimVsFioUring: ratio(5, 7),
    coldUringAsyncShimVsFioUring: ratio(6, 7),
  };
  const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', kernel: os.release(), fio, file: rootDevice(dir) };
  if (argv.json) {
    process.stdout.write(`${JSON.stringify({ machine, results, ratios })}\n`);
    return 0;
  }
  const lines = [
    `machine: ${machine.cpus} CPUs, ${machine.model}, Linux ${machine.kernel}, ${fio}; file on ${machine.file}`,
    `fio randread 4k iodepth=32 (direct=1; cold buffered: direct=0, invalidate=1), ${argv.seconds} s a run, median of ${argv.rounds} interleaved rounds`,
    '',
    `${'run'.padEnd(40)}${'IOPS'.padStart(10)} ${'CPU µs/IO'.padStart(10)}`,
    ...results.map((r) => `${r.name.padEnd(40)}${r.iops.toLocaleString('en-US').padStart(10)} ${(r.cpuSecondsPerIo * 1e6).toFixed(2).padStart(10)}`),
    '',
    `shim vs kernel, userspace_reap=0   ${ratios.shimVsKernelReap0.toFixed(2)}x  (target >= 0.95x)`,
    `shim vs kernel, userspace_reap=1   ${ratios.shimVsKernelReap1.toFixed(2)}x  (target >= 0.95x)`,
    `cold: uring shim vs kernel libaio  ${ratios.coldUringShimVsKernel.toFixed(2)}x  (async: ${ratios.coldUringAsyncShimVsKernel.toFixed(2)}x)`,
    `cold: uring shim vs fio io_uring   ${ratios.coldUringShimVsFioUring.toFixed(2)}x  (async: ${ratios.coldUringAsyncShimVsFioUring.toFixed(2)}x; target >= 0.9x)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

process.exitCode = main();
