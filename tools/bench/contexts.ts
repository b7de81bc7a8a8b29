#!/usr/bin/env node
// npm run bench:contexts [-- --contexts K] [--rounds R]
//
// What one context costs: K contexts of io_setup(n) for n = 1, 128, 4096,
// each writing and reading one block (buffered, and for n = 1 O_DIRECT
// too), in one C program run with the kernel's libaio and with the drop-in
// preloaded in its opt-in modes (AIORING_RING=legacy and v2, and
// AIORING_BACKEND=uring). Per context: threads, memory mappings,
// descriptors, RSS and virtual memory (KiB), and aio-nr (the machine's, so
// other processes add noise). The drop-in makes a kernel context only at a
// context's first O_DIRECT request. Then issue 12's row 9: one context, 100 threads with O_DIRECT
// reads in flight, io_destroy timed, rounds interleaved, median.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { shimPath } from '../../src/index';

const MODES: Array<[string, Record<string, string>]> = [
  ['kernel libaio', {}],
  ['drop-in, AIORING_RING=legacy', { LD_PRELOAD: shimPath, AIORING_RING: 'legacy' }],
  ['drop-in, AIORING_RING=v2', { LD_PRELOAD: shimPath, AIORING_RING: 'v2' }],
  ['drop-in, AIORING_BACKEND=uring', { LD_PRELOAD: shimPath, AIORING_BACKEND: 'uring' }],
];

interface Held {
  threads: number;
  maps: number;
  fds: number;
  rssKb: number;
  vmKb: number;
  aioNr: number;
}

function main(): void {
  const argv = yargs(hideBin(process.argv))
    .option('contexts', { type: 'number', default: 1000 })
    .option('rounds', { type: 'number', default: 5 })
    .parseSync();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aioring-contexts-'));
  const exe = path.join(dir, 'many_contexts');
  const file = path.join(dir, 'blocks');
  // O_DIRECT needs a real filesystem: the working directory's, not a tmpfs
  const direct = path.join(process.cwd(), `.aioring-contexts-${process.pid}`);
  const directBlocks = `${direct}-blocks`;
  try {
    execFileSync('cc', ['-O2', path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'many_contexts.c'), '-o', exe, '-laio', '-lpthread']);
    fs.writeFileSync(file, Buffer.alloc(64 * 4096));
    fs.writeFileSync(direct, Buffer.alloc(256 * 4096, 7));
    fs.writeFileSync(directBlocks, Buffer.alloc(64 * 4096));
    console.log(`machine: ${os.cpus().length} CPUs, ${os.cpus()[0].model}, Linux ${os.release()}; ${argv.contexts} contexts each`);
    console.log('| context | I/O | threads | mappings | descriptors | RSS KiB | virtual KiB | aio-nr |');
    console.log('|---|---|---|---|---|---|---|---|');
    const cases: Array<[number, string, string]> = [
      [1, 'buffered', file],
      [1, 'O_DIRECT', directBlocks],
      [128, 'buffered', file],
      [4096, 'buffered', file],
    ];
    for (const [n, io, data] of cases) {
      // within an aio-max-nr of 65536
      const count = Math.max(1, Math.min(argv.contexts, Math.floor(60000 / n)));
      for (const [name, env] of MODES) {
        const args = ['contexts', String(count), String(n), data, ...(io === 'O_DIRECT' ? ['direct'] : [])];
        const out = execFileSync(exe, args, { encoding: 'utf8', env: { ...process.env, ...env } });
        const r = JSON.parse(out) as { start: Held; during: Held };
        const per = (k: keyof Held): string => ((r.during[k] - r.start[k]) / count).toFixed(k === 'threads' ? 3 : 1);
        console.log(`| ${name}, io_setup(${n}) × ${count} | ${io} | ${per('threads')} | ${per('maps')} | ${per('fds')} | ${per('rssKb')} | ${per('vmKb')} | ${per('aioNr')} |`);
      }
    }
    const times: Record<string, number[]> = {};
    for (let round = 0; round < argv.rounds; round++) {
      for (const [name, env] of MODES.slice(0, 2)) {
        const out = execFileSync(exe, ['destroy', '100', direct], { encoding: 'utf8', env: { ...process.env, ...env } });
        (times[name] ??= []).push((JSON.parse(out) as { seconds: number }).seconds);
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const k = median(times[MODES[0][0]]);
    const s = median(times[MODES[1][0]]);
    console.log(`io_destroy with 100 threads' O_DIRECT reads in flight (median of ${argv.rounds}): kernel libaio ${(k * 1000).toFixed(2)} ms, drop-in legacy ${(s * 1000).toFixed(2)} ms: ${(s / k).toFixed(2)}x`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(direct, { force: true });
    fs.rmSync(directBlocks, { force: true });
  }
}

main();
