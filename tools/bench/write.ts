#!/usr/bin/env node
// npm run bench:write [-- --json] [--seconds S] [--rounds N] [--read-size MiB] [--append-size MiB] [--dir DIR] [--only PART]
//
// Writes and their durability, and the streams, everything in one run,
// every runner once per round, rounds interleaved (each row is its median):
//   commits  16 writers, each `write 4 KiB; datasync` in a loop on one file:
//            aioring with group commit (groupDatasync) on the default
//            backend (thread pool) and on io_uring, groupWrite (the write
//            and its group commit as one request, on the default backend), aioring with one
//            ctx.datasync per call, aioring RWF_DSYNC writes, fs.promises,
//            and fio: 16 threads each `pwrite 4 KiB; fdatasync` on one
//            file (what the kernel's own merging of concurrent syncs gives);
//   direct   O_DIRECT 4 KiB random writes, 32 loops of `await ctx.write`,
//            vs fio --ioengine=libaio --rw=randwrite --direct=1 --iodepth=32
//            and fs.promises;
//   append   64 KiB sequential appends through createWriteStream vs
//            fs.createWriteStream, MB/s;
//   scan     a sequential read of a large file (1 GiB) through
//            createReadStream vs fs.createReadStream, cold (the file's pages
//            dropped first: posix_fadvise DONTNEED, by dd iflag=nocache) and
//            hot (read once before); ours also on a context with
//            inlineReads: false (no RWF_NOWAIT try on the calling thread).
// Each Node runner also reports the longest a 1 ms timer waited while it
// ran. CPU: process.cpuUsage() (every thread of this process).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { alignedBuffer, AioContext, createReadStream, createWriteStream, dsyncWrite, features, groupDatasync, groupWrite, setup } from '../../src/index';
import { createFile, DEPTH, fioVersion, machineFacts, Measured, pickDir, removeFile, rootDevice, runBench, runFio, timerWatch, warmCache } from './support';

const BLOCK = 4096;
const WRITERS = 16;
/** the commits part's writers wrap within this much of the file */
const COMMIT_SPAN = 64 << 20;
const APPEND_CHUNK = 64 << 10;

type Part = 'commits' | 'direct' | 'append' | 'scan';
const PARTS: Part[] = ['commits', 'direct', 'append', 'scan'];

interface Row {
  part: Part;
  name: string;
  /** commits/s, IOPS or MB/s */
  rate: number;
  unit: string;
  cpuUsPerOp: number;
  /** longest wait of a 1 ms timer, ms (null: not a Node runner) */
  timerWaitMs: number | null;
  /** group commit: real fdatasync calls per datasync call */
  syncsPerCommit?: number;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Run fn with the clocks and the timer watch around it; fn returns its operations. */
async function timed(fn: () => Promise<number>): Promise<Measured & { timerWaitMs: number }> {
  const watch = timerWatch();
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  const ios = await fn();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - cpu0;
  return { ios, seconds, cpuSeconds: cpu, timerWaitMs: watch.stop() };
}

function row(part: Part, name: string, m: Measured & { timerWaitMs?: number }, unit: string, rate = m.ios / m.seconds): Row {
  return { part, name, rate, unit, cpuUsPerOp: (m.cpuSeconds / m.ios) * 1e6, timerWaitMs: m.timerWaitMs ?? null };
}

function freshFile(dir: string, name: string): string {
  const file = path.join(dir, name);
  fs.rmSync(file, { force: true });
  return file;
}

// --- commits --------------------------------------------------------------

/** WRITERS loops of `write 4 KiB; commit` until the deadline; returns the commits. */
async function commitLoops(seconds: number, step: (w: number, position: number, buf: Buffer) => Promise<void>): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let commits = 0;
  const writer = async (w: number): Promise<void> => {
    const buf = Buffer.alloc(BLOCK, w);
    for (let i = 0; performance.now() < deadline; i++) {
      await step(w, ((i * WRITERS + w) * BLOCK) % COMMIT_SPAN, buf);
      commits++;
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
  return commits;
}

type CommitStyle = 'group' | 'groupWrite' | 'group, uring' | 'each' | 'dsync';
const COMMIT_STYLES: CommitStyle[] = ['group', 'groupWrite', 'group, uring', 'each', 'dsync'];

async function commitsAioring(file: string, style: CommitStyle, seconds: number): Promise<Row> {
  const fd = fs.openSync(file, 'w+');
  const ctx = setup(4 * WRITERS, style === 'group, uring' ? { backend: 'uring' } : undefined);
  try {
    const group = async (_w: number, position: number, buf: Buffer): Promise<void> => {
      await ctx.write(fd, buf, position);
      await groupDatasync(ctx, fd);
    };
    const steps: Record<CommitStyle, (w: number, position: number, buf: Buffer) => Promise<void>> = {
      group,
      groupWrite: async (_w, position, buf) => {
        await groupWrite(ctx, fd, buf, position);
      },
      'group, uring': group,
      each: async (_w, position, buf) => {
        await ctx.write(fd, buf, position);
        await ctx.datasync(fd);
      },
      dsync: async (_w, position, buf) => {
        await dsyncWrite(ctx, fd, buf, position);
      },
    };
    const m = await timed(() => commitLoops(seconds, steps[style]));
    const names: Record<CommitStyle, string> = {
      group: 'aioring write + groupDatasync',
      groupWrite: 'aioring groupWrite (write + group datasync)',
      'group, uring': 'aioring write + groupDatasync, uring',
      each: 'aioring write + ctx.datasync',
      dsync: 'aioring dsyncWrite (RWF_DSYNC)',
    };
    const r = row('commits', names[style], m, 'commits/s');
    if (style !== 'dsync') r.syncsPerCommit = ctx.syncStats().fdatasyncs / m.ios;
    return r;
  } finally {
    ctx.destroy();
    fs.closeSync(fd);
  }
}

async function commitsFsPromises(file: string, seconds: number): Promise<Row> {
  const fh = await fs.promises.open(file, 'w+');
  try {
    const m = await timed(() =>
      commitLoops(seconds, async (_w, position, buf) => {
        await fh.write(buf, 0, BLOCK, position);
        await fh.datasync();
      }),
    );
    return row('commits', 'fs.promises write + datasync', m, 'commits/s');
  } finally {
    await fh.close();
  }
}

/** fio's 16 threads, each pwrite 4 KiB + fdatasync, on one file of COMMIT_SPAN bytes. */
function commitsFio(file: string, seconds: number): Row {
  const extra = ['--fdatasync=1', `--numjobs=${WRITERS}`, '--thread', '--group_reporting'];
  const m = runFio({ file, sizeBytes: COMMIT_SPAN, seconds, engine: 'psync', direct: false, rw: 'randwrite', extra });
  return row('commits', `fio psync write + fdatasync, ${WRITERS} threads`, m, 'commits/s');
}

// --- O_DIRECT random writes -----------------------------------------------

function randomBlock(x: number, blocks: number): [number, number] {
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  x >>>= 0;
  return [x, (x % blocks) * BLOCK];
}

/** DEPTH loops of an awaited 4 KiB write at random blocks until the deadline. */
async function directLoops(seconds: number, blocks: number, write: (buf: Buffer, position: number) => Promise<unknown>): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let ios = 0;
  const loop = async (seed: number): Promise<void> => {
    const buf = alignedBuffer(BLOCK);
    buf.fill(seed);
    let x = seed;
    while (performance.now() < deadline) {
      let position: number;
      [x, position] = randomBlock(x, blocks);
      await write(buf, position);
      ios++;
    }
  };
  await Promise.all(Array.from({ length: DEPTH }, (_, i) => loop(i + 1)));
  return ios;
}

async function directAioring(file: string, sizeBytes: number, seconds: number): Promise<Row> {
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_DIRECT);
  const ctx: AioContext = setup(2 * DEPTH);
  try {
    const m = await timed(() => directLoops(seconds, sizeBytes / BLOCK, (buf, position) => ctx.write(fd, buf, position)));
    return row('direct', 'aioring 32 loops of await ctx.write', m, 'IOPS');
  } finally {
    ctx.destroy();
    fs.closeSync(fd);
  }
}

async function directFsPromises(file: string, sizeBytes: number, seconds: number): Promise<Row> {
  const fh = await fs.promises.open(file, fs.constants.O_RDWR | fs.constants.O_DIRECT);
  try {
    const m = await timed(() => directLoops(seconds, sizeBytes / BLOCK, (buf, position) => fh.write(buf, 0, BLOCK, position)));
    return row('direct', 'fs.promises 32 loops of await write', m, 'IOPS');
  } finally {
    await fh.close();
  }
}

function directFio(file: string, sizeBytes: number, seconds: number): Row {
  const m = runFio({ file, sizeBytes, seconds, engine: 'libaio', direct: true, rw: 'randwrite' });
  return row('direct', 'fio libaio randwrite direct=1', m, 'IOPS');
}

// --- the streams ----------------------------------------------------------

/** Write sizeBytes in 64 KiB chunks, minding write()'s backpressure, until the stream closes. */
async function appendThrough(stream: NodeJS.WritableStream & { once(e: string, f: () => void): unknown }, sizeBytes: number): Promise<number> {
  const chunk = Buffer.alloc(APPEND_CHUNK, 0x61);
  const closed = new Promise<void>((resolve, reject) => {
    stream.once('close', resolve);
    stream.once('error', reject as () => void);
  });
  for (let written = 0; written < sizeBytes; written += APPEND_CHUNK) {
    if (!stream.write(chunk)) await new Promise<void>((r) => stream.once('drain', r));
  }
  stream.end();
  await closed;
  return sizeBytes / APPEND_CHUNK;
}

async function appendRow(file: string, ours: boolean, sizeBytes: number): Promise<Row> {
  const fd = fs.openSync(file, 'a');
  const ctx = ours ? setup(64) : undefined;
  try {
    const m = await timed(() => appendThrough(ctx ? createWriteStream(ctx, fd) : fs.createWriteStream('', { fd }), sizeBytes));
    const name = ours ? 'aioring createWriteStream' : 'fs.createWriteStream';
    return row('append', name, m, 'MB/s', sizeBytes / 1e6 / m.seconds);
  } finally {
    ctx?.destroy();
  }
}

async function scanThrough(stream: NodeJS.ReadableStream, sizeBytes: number): Promise<number> {
  let bytes = 0;
  let chunks = 0;
  for await (const c of stream) {
    bytes += (c as Buffer).length;
    chunks++;
  }
  if (bytes !== sizeBytes) throw new Error(`a scan read ${bytes} of ${sizeBytes} bytes`);
  return chunks;
}

/** Drop the file's pages from the page cache: dd's iflag=nocache count=0 is posix_fadvise(POSIX_FADV_DONTNEED) over the file. */
function dropCache(file: string): void {
  const r = spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
  if (r.status !== 0) throw new Error(`dd iflag=nocache failed: ${r.stderr}`);
}

/** A scan runner: node:fs's stream, or ours on a context that tries buffered reads inline first (the default) or not. */
type Scanner = 'node' | 'aioring' | 'aioring, inlineReads: false';

async function scanRow(file: string, scanner: Scanner, cold: boolean, sizeBytes: number): Promise<Row> {
  if (cold) dropCache(file);
  else warmCache(file);
  const fd = fs.openSync(file, 'r');
  const ctx = scanner === 'node' ? undefined : setup(64, { inlineReads: scanner === 'aioring' });
  try {
    const m = await timed(() => scanThrough(ctx ? createReadStream(ctx, fd) : fs.createReadStream('', { fd }), sizeBytes));
    const name = `${scanner === 'node' ? 'fs.createReadStream' : `${scanner} createReadStream`}, ${cold ? 'cold' : 'hot'}`;
    return row('scan', name, m, 'MB/s', sizeBytes / 1e6 / m.seconds);
  } finally {
    ctx?.destroy();
  }
}

// --- one round --------------------------------------------------------------

interface Files {
  dir: string;
  direct: string;
  directBytes: number;
  scan: string;
  scanBytes: number;
  appendBytes: number;
}

async function measureRound(f: Files, seconds: number, parts: Part[], fio: boolean): Promise<Row[]> {
  const rows: Row[] = [];
  if (parts.includes('commits')) {
    rows.push(await commitsFsPromises(freshFile(f.dir, 'commits'), seconds));
    if (fio) rows.push(commitsFio(freshFile(f.dir, 'commits'), seconds));
    for (const style of COMMIT_STYLES) {
      if (style === 'group, uring' && !features().backends.uring) continue;
      rows.push(await commitsAioring(freshFile(f.dir, 'commits'), style, seconds));
    }
  }
  if (parts.includes('direct')) {
    if (fio) rows.push(directFio(f.direct, f.directBytes, seconds));
    rows.push(await directAioring(f.direct, f.directBytes, seconds));
    rows.push(await directFsPromises(f.direct, f.directBytes, seconds));
  }
  if (parts.includes('append')) {
    for (const ours of [false, true]) rows.push(await appendRow(freshFile(f.dir, 'append'), ours, f.appendBytes));
  }
  if (parts.includes('scan')) {
    for (const cold of [true, false]) {
      for (const scanner of ['node', 'aioring', 'aioring, inlineReads: false'] as Scanner[]) rows.push(await scanRow(f.scan, scanner, cold, f.scanBytes));
    }
  }
  return rows;
}

function median(rows: Row[]): Row {
  return [...rows].sort((a, b) => a.rate - b.rate)[Math.floor(rows.length / 2)];
}

// --- main -------------------------------------------------------------------

async function main(): Promise<number> {
  const argv = yargs(hideBin(process.argv))
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' })
    .option('seconds', { type: 'number', default: 3, describe: 'seconds per runner (commits, direct)' })
    .option('rounds', { type: 'number', default: 3, describe: 'rounds of every runner; each row is its median round' })
    .option('direct-size', { type: 'number', default: 256, describe: 'MiB of the O_DIRECT file' })
    .option('append-size', { type: 'number', default: 512, describe: 'MiB each append runner writes' })
    .option('read-size', { type: 'number', default: 1024, describe: 'MiB of the file the scans read' })
    .option('dir', { type: 'string', describe: 'directory for the files (disk-backed; default /var/tmp, else $HOME)' })
    .option('only', { choices: PARTS, describe: 'measure one part only' })
    .strict()
    .parseSync();
  if (!(argv.seconds > 0)) throw new Error('--seconds must be > 0');
  if (!Number.isInteger(argv.rounds) || argv.rounds < 1) throw new Error('--rounds must be a whole number >= 1');
  for (const k of ['direct-size', 'append-size', 'read-size'] as const) {
    if (!Number.isInteger(argv[k]) || argv[k] < 1) throw new Error(`--${k} must be a whole number of MiB >= 1`);
  }
  const parts: Part[] = argv.only ? [argv.only] : PARTS;
  const fio = fioVersion();
  const base = pickDir(argv.dir);
  const log = (s: string): void => {
    if (process.stderr.isTTY) process.stderr.write(`${s}\n`);
  };

  const directBytes = argv['direct-size'] << 20;
  const scanBytes = argv['read-size'] << 20;
  const direct = parts.includes('direct') ? createFile(base, directBytes) : '';
  const scan = parts.includes('scan') ? createFile(base, scanBytes) : '';
  const dir = fs.mkdtempSync(path.join(base, 'aioring-bench-write-'));
  const cleanup = (): void => {
    for (const f of [direct, scan]) if (f) removeFile(f);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const files: Files = { dir, direct, directBytes, scan, scanBytes, appendBytes: argv['append-size'] << 20 };

  const rounds: Row[][] = [];
  try {
    for (let round = 0; round < argv.rounds; round++) {
      log(`round ${round + 1} of ${argv.rounds}`);
      rounds.push(await measureRound(files, argv.seconds, parts, fio !== undefined));
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    cleanup();
  }
  const results = rounds[0].map((_, i) => median(rounds.map((r) => r[i])));
  const named = (name: string): Row | undefined => results.find((r) => r.name === name);
  const ratio = (a: string, b: string): number | null => {
    const x = named(a);
    const y = named(b);
    return x && y ? +(x.rate / y.rate).toFixed(2) : null;
  };
  const ratios = [
    { label: 'commits/s: group commit vs fs.promises', value: ratio('aioring write + groupDatasync', 'fs.promises write + datasync'), target: 3 },
    { label: 'commits/s: groupWrite vs fs.promises', value: ratio('aioring groupWrite (write + group datasync)', 'fs.promises write + datasync'), target: 3 },
    {
      label: 'commits/s: group, uring, vs fs.promises',
      value: ratio('aioring write + groupDatasync, uring', 'fs.promises write + datasync'),
      target: 3,
    },
    {
      label: 'commits/s: group commit vs fio 16 threads',
      value: ratio('aioring write + groupDatasync', `fio psync write + fdatasync, ${WRITERS} threads`),
      target: null,
    },
    { label: 'commits/s: RWF_DSYNC vs fs.promises', value: ratio('aioring dsyncWrite (RWF_DSYNC)', 'fs.promises write + datasync'), target: null },
    { label: 'O_DIRECT write IOPS vs fio libaio', value: ratio('aioring 32 loops of await ctx.write', 'fio libaio randwrite direct=1'), target: 0.9 },
    { label: 'O_DIRECT write IOPS vs fs.promises', value: ratio('aioring 32 loops of await ctx.write', 'fs.promises 32 loops of await write'), target: null },
    { label: 'append MB/s vs fs.createWriteStream', value: ratio('aioring createWriteStream', 'fs.createWriteStream'), target: null },
    { label: 'cold scan MB/s vs fs.createReadStream', value: ratio('aioring createReadStream, cold', 'fs.createReadStream, cold'), target: null },
    {
      label: 'cold scan, inlineReads: false, vs fs',
      value: ratio('aioring, inlineReads: false createReadStream, cold', 'fs.createReadStream, cold'),
      target: null,
    },
    { label: 'hot scan MB/s vs fs.createReadStream', value: ratio('aioring createReadStream, hot', 'fs.createReadStream, hot'), target: null },
  ].filter((r) => r.value !== null);
  const machine = {
    ...machineFacts(fio),
    dir: { path: base, device: rootDevice(base) },
    seconds: argv.seconds,
    rounds: argv.rounds,
    writers: WRITERS,
    depth: DEPTH,
  };

  if (argv.json) {
    process.stdout.write(`${JSON.stringify({ machine, results, ratios })}\n`);
    return 0;
  }
  const width = Math.max(...results.map((r) => r.name.length)) + 2;
  const lines = [
    `machine: ${machine.cpus} CPUs, ${machine.model}, Linux ${machine.kernel}, Node ${machine.node}, ${fio ?? 'no fio'}`,
    `files in ${base} (${machine.dir.device}); ${argv.seconds} s per timed runner, median of ${argv.rounds} interleaved rounds`,
    '',
    `${'runner'.padEnd(width)}${'rate'.padStart(12)} ${'unit'.padEnd(10)}${'CPU µs/op'.padStart(10)}${'timer wait'.padStart(12)}  syncs/commit`,
  ];
  for (const r of results) {
    lines.push(
      `${r.name.padEnd(width)}${r.rate.toFixed(r.unit === 'MB/s' ? 1 : 0).padStart(12)} ${r.unit.padEnd(10)}${r.cpuUsPerOp.toFixed(2).padStart(10)}` +
        `${(r.timerWaitMs === null ? '-' : `${r.timerWaitMs.toFixed(1)} ms`).padStart(12)}  ${r.syncsPerCommit === undefined ? '' : r.syncsPerCommit.toFixed(3)}`,
    );
  }
  lines.push('', `${'ratio'.padEnd(42)}${'measured'.padStart(8)}  target`);
  for (const r of ratios) {
    const met = r.target === null ? '' : `>= ${r.target}x ${r.value! >= r.target ? 'met' : 'NOT met'}`;
    lines.push(`${r.label.padEnd(42)}${`${r.value!.toFixed(2)}x`.padStart(8)}  ${met}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

runBench('bench:write', main);
