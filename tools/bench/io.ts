#!/usr/bin/env node
// npm run bench:io [-- --json] [--seconds S] [--size MiB] [--dir DIR] [--only hot|cold|direct]
//
// 4 KiB random reads at queue depth 32 on one file on the root filesystem,
// everything in one run:
//   - page-cache-hot file: aioring (several backends and ring layouts, uring
//     among them; the best counts) vs fs.promises FileHandle.read (32
//     concurrent loops) and fs.read (32 outstanding callback chains); fio
//     psync, libaio and io_uring with direct=0 as reference rows;
//   - cold buffered, on a file of its own (--cold-size, 2 GiB) read in a
//     random order that visits each block once, so a runner's own reads do
//     not warm what it reads next; its pages dropped (posix_fadvise
//     DONTNEED) before each runner: aioring uring vs fio --ioengine=io_uring
//     --direct=0, vs aioring's thread pool, vs fs.promises and fs.read;
//   - O_DIRECT on the same file: aioring vs fio --ioengine=libaio and
//     --ioengine=io_uring with --direct=1;
//   - the everyday path: 32 loops of `await handle.read(buf, 0, len, pos)`
//     on a handle from aioring's open() (the default context's, and where
//     io_uring works a uring context's, whose handle runs on a registered
//     file), vs fs.promises and fs.read. Each
//     Node runner of it also reports the longest wait of a 1 ms interval
//     timer while it ran.
// fs.promises and fs.read also run in a child process with UV_USE_IO_URING=1
// (Node's own io_uring, which libuv reads at start), as peer rows.
// Every runner reads the same precomputed random offsets (so RNG cost is not
// measured) and keeps 32 reads outstanding. CPU per I/O: process.cpuUsage()
// (user + system, every thread of this process, the pools included) for the
// Node runners; usr_cpu + sys_cpu of fio's job for fio.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { AioContext, alignedBuffer, BackendName, defaultContext, EventBatch, IocbArray, open, setup, features, SETUP_KERNEL_RING, SETUP_V2 } from '../../src/index';
import { spawnSync } from 'node:child_process';
import {
  createFile,
  DEPTH,
  dropCache,
  fioVersion,
  Measured,
  medianOf,
  pickDir,
  removeFile,
  Result,
  rootDevice,
  runFio,
  toResult,
  warmCache,
} from './support';

const BLOCK = 4096;
const OFFSETS = 1 << 20; // precomputed offsets, used round-robin (power of two)

interface Candidate {
  label: string;
  backend: BackendName;
  flags: number;
  /** false: every cached read on the submitting thread (a reference row) */
  readHelper?: boolean;
  /** auto only: false sets AIORING_AUTO_URING=0 for its setup (auto without io_uring) */
  autoUring?: boolean;
}

const AUTO_ROWS = (flags: number, layout: string): Candidate[] => [
  { label: `auto, ${layout} (io_uring)`, backend: 'auto', flags, autoUring: true },
  { label: `auto, ${layout}, AIORING_AUTO_URING=0`, backend: 'auto', flags, autoUring: false },
];

const HOT_CANDIDATES: Candidate[] = [
  { label: 'kernel, legacy', backend: 'kernel', flags: 0 },
  { label: 'kernel, v2', backend: 'kernel', flags: SETUP_V2 },
  { label: 'kernel ring passthrough', backend: 'kernel', flags: SETUP_KERNEL_RING },
  { label: 'threadpool, legacy', backend: 'threadpool', flags: 0 },
  { label: 'threadpool, v2', backend: 'threadpool', flags: SETUP_V2 },
  { label: 'threadpool, v2, no read helper', backend: 'threadpool', flags: SETUP_V2, readHelper: false },
  { label: 'uring, legacy', backend: 'uring', flags: 0 },
  { label: 'uring, v2', backend: 'uring', flags: SETUP_V2 },
  ...AUTO_ROWS(SETUP_V2, 'v2'),
];

const COLD_CANDIDATES: Candidate[] = [
  { label: 'uring, legacy', backend: 'uring', flags: 0 },
  { label: 'threadpool, legacy', backend: 'threadpool', flags: 0 },
  ...AUTO_ROWS(0, 'legacy'),
];

const DIRECT_CANDIDATES: Candidate[] = [
  { label: 'kernel, legacy', backend: 'kernel', flags: 0 },
  { label: 'kernel, v2', backend: 'kernel', flags: SETUP_V2 },
  { label: 'kernel ring passthrough', backend: 'kernel', flags: SETUP_KERNEL_RING },
  { label: 'uring, legacy', backend: 'uring', flags: 0 },
  { label: 'uring, v2', backend: 'uring', flags: SETUP_V2 },
  ...AUTO_ROWS(0, 'legacy'),
];

/** xorshift32 step */
function xorshift(x: number): number {
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

/**
 * Every block of a file of `blocks` blocks (a power of two) once, in a
 * reproducible random order: a cold runner that reads fewer than `blocks`
 * never reads a page its own earlier reads brought into the cache.
 */
function permutedOffsets(blocks: number, seed: number): Float64Array {
  const out = new Float64Array(blocks);
  for (let i = 0; i < blocks; i++) out[i] = i * BLOCK;
  let x = seed >>> 0 || 1;
  for (let i = blocks - 1; i > 0; i--) {
    x = xorshift(x);
    const j = x % (i + 1);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/** xorshift32: reproducible offsets without Math.random's cost in the loop */
function randomOffsets(blocks: number, seed: number): Float64Array {
  const out = new Float64Array(OFFSETS);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < OFFSETS; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = (x % blocks) * BLOCK;
  }
  return out;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// --- aioring --------------------------------------------------------------

/**
 * Queue depth 32 through the zero-allocation path: registered buffers, an
 * IocbArray, submitArray, reap into an EventBatch; getEvents only to wait
 * when nothing is ready. Each event's data is its buffer's index.
 */
async function runAioring(c: Candidate, fd: number, offsets: Float64Array, seconds: number): Promise<Measured> {
  const before = process.env.AIORING_AUTO_URING;
  if (c.autoUring === false) process.env.AIORING_AUTO_URING = '0';
  else delete process.env.AIORING_AUTO_URING;
  let ctx: ReturnType<typeof setup>;
  try {
    ctx = setup(2 * DEPTH, { backend: c.backend, flags: c.flags, readHelper: c.readHelper });
  } finally {
    if (before === undefined) delete process.env.AIORING_AUTO_URING;
    else process.env.AIORING_AUTO_URING = before;
  }
  try {
    const buffers: Buffer[] = [];
    for (let i = 0; i < DEPTH; i++) buffers.push(alignedBuffer(BLOCK));
    const first = ctx.registerBuffers(buffers);
    const arr = new IocbArray(DEPTH);
    const batch = new EventBatch(DEPTH);
    const free = new Int32Array(DEPTH);
    const entryBuf = new Int32Array(DEPTH);
    const busy = new Uint8Array(DEPTH);
    for (let i = 0; i < DEPTH; i++) free[i] = DEPTH - 1 - i;
    let nfree = DEPTH;
    let oi = 0;
    let submitted = 0;
    let completed = 0;
    let bad = 0;
    let badRes = 0;

    const complete = (data: number, res: number): void => {
      if (!Number.isInteger(data) || data < 0 || data >= DEPTH || busy[data] !== 1) {
        bad++;
        return;
      }
      if (res !== BLOCK) {
        badRes = res;
        bad++;
      }
      busy[data] = 0;
      free[nfree++] = data;
      completed++;
    };
    const fill = (): void => {
      let n = 0;
      while (nfree > 0) {
        const b = free[--nfree];
        entryBuf[n] = b;
        arr.setRead(n++, fd, first + b, 0, BLOCK, offsets[oi++ & (offsets.length - 1)], b);
      }
      if (n === 0) return;
      const q = ctx.submitArray(arr, n);
      for (let k = 0; k < q; k++) busy[entryBuf[k]] = 1;
      // the ring took fewer: those buffers stay free for the next round
      for (let k = q; k < n; k++) free[nfree++] = entryBuf[k];
      submitted += q;
    };

    const cpu0 = cpuSeconds();
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    let stopping = false;
    for (;;) {
      if (!stopping && performance.now() >= deadline) stopping = true;
      if (!stopping) fill();
      if (submitted === completed) break;
      const n = ctx.reap(batch);
      if (n > 0) {
        for (let i = 0; i < n; i++) complete(batch.data(i), batch.res(i));
        continue;
      }
      const events = await ctx.getEvents(1, DEPTH);
      for (const e of events) complete(Number(e.data), e.res);
    }
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds() - cpu0;
    // the engine publishes an event before it drops its in-flight count, so
    // the count can trail the last reap for a moment
    for (let i = 0; i < 1000 && ctx.inflight !== 0; i++) await new Promise((r) => setTimeout(r, 1));
    if (bad !== 0 || ctx.inflight !== 0 || nfree !== DEPTH) {
      throw new Error(
        `aioring (${c.label}): ${submitted} submitted, ${completed} completed, ${bad} bad events (last res ${badRes}), ` +
          `${ctx.inflight} still in flight`,
      );
    }
    return { ios: completed, seconds: elapsed, cpuSeconds: cpu };
  } finally {
    ctx.destroy();
  }
}

// --- Node's own fs ----------------------------------------------------------

interface ReadsInto {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** DEPTH loops of awaited handle.read(buf, 0, BLOCK, pos), as a Node user writes them. */
async function awaitLoops(name: string, fh: ReadsInto, offsets: Float64Array, seconds: number): Promise<Measured> {
  let oi = 0;
  let ios = 0;
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const loop = async (): Promise<void> => {
    const buf = Buffer.alloc(BLOCK);
    while (performance.now() < deadline) {
      const { bytesRead } = await fh.read(buf, 0, BLOCK, offsets[oi++ & (offsets.length - 1)]);
      if (bytesRead !== BLOCK) throw new Error(`${name} read ${bytesRead} bytes`);
      ios++;
    }
  };
  const loops: Promise<void>[] = [];
  for (let i = 0; i < DEPTH; i++) loops.push(loop());
  await Promise.all(loops);
  return { ios, seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSeconds() - cpu0 };
}

async function runFsPromises(file: string, offsets: Float64Array, seconds: number): Promise<Measured> {
  const fh = await fs.promises.open(file, 'r');
  try {
    return await awaitLoops('fs.promises', fh, offsets, seconds);
  } finally {
    await fh.close();
  }
}

function runFsRead(fd: number, offsets: Float64Array, seconds: number): Promise<Measured> {
  return new Promise((resolve, reject) => {
    let oi = 0;
    let ios = 0;
    let active = DEPTH;
    let failed = false;
    const cpu0 = cpuSeconds();
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    const chain = (): void => {
      const buf = Buffer.alloc(BLOCK);
      const done = (err: NodeJS.ErrnoException | null, bytesRead: number): void => {
        if (failed) return;
        if (err || bytesRead !== BLOCK) {
          failed = true;
          reject(err ?? new Error(`fs.read read ${bytesRead} bytes`));
          return;
        }
        ios++;
        if (performance.now() < deadline) fs.read(fd, buf, 0, BLOCK, offsets[oi++ & (offsets.length - 1)], done);
        else if (--active === 0) resolve({ ios, seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSeconds() - cpu0 });
      };
      fs.read(fd, buf, 0, BLOCK, offsets[oi++ & (offsets.length - 1)], done);
    };
    for (let i = 0; i < DEPTH; i++) chain();
  });
}

// --- the everyday path ----------------------------------------------------

/**
 * 32 loops of awaited FileHandle reads on a handle from aioring's open():
 * on the default context, or on the context given (the uring row's, whose
 * handle registers its file with io_uring).
 */
async function runEveryday(file: string, offsets: Float64Array, seconds: number, context?: AioContext): Promise<Measured> {
  const fh = await open(file, 'r', undefined, { context });
  try {
    return await awaitLoops('aioring FileHandle', fh, offsets, seconds);
  } finally {
    await fh.close();
  }
}

/**
 * The longest a 1 ms interval timer waited past its time while run ran:
 * what a Node program's timers and sockets see of the runner.
 */
async function withTimer<T>(run: () => Promise<T>): Promise<T & { timerMs: number }> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  try {
    const out = await run();
    longest = Math.max(longest, performance.now() - last);
    return { ...out, timerMs: longest };
  } finally {
    clearInterval(timer);
  }
}

// --- Node's own io_uring: the fs runners in a child with UV_USE_IO_URING=1 ---

type FsRunner = 'fs.promises' | 'fs.read';

interface PeerArgs {
  file: string;
  sizeMiB: number;
  seed: number;
  /** the cold part's file: its blocks each once (permutedOffsets) */
  cold?: boolean;
}

/** The cold part's own file, larger than what a runner reads, and its offsets. */
interface ColdFile {
  file: string;
  sizeBytes: number;
  offsets: Float64Array;
  peer: PeerArgs;
}

function runFsRunner(runner: FsRunner, file: string, offsets: Float64Array, seconds: number): Promise<Measured> {
  if (runner === 'fs.promises') return runFsPromises(file, offsets, seconds);
  const fd = fs.openSync(file, 'r');
  return runFsRead(fd, offsets, seconds).finally(() => fs.closeSync(fd));
}

/** One fs runner in a child process whose libuv uses io_uring (it reads UV_USE_IO_URING at start). */
function runUvUring(runner: FsRunner, peer: PeerArgs, seconds: number): Measured & { timerMs: number } {
  const args = [__filename, '--peer', runner, '--file', peer.file, '--size', String(peer.sizeMiB), '--seed', String(peer.seed), '--seconds', String(seconds), ...(peer.cold ? ['--cold'] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, UV_USE_IO_URING: '1' } });
  if (r.status !== 0) throw new Error(`${runner} with UV_USE_IO_URING=1 failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Measured & { timerMs: number };
}

// --- one round ------------------------------------------------------------------

type Part = 'hot' | 'cold' | 'direct' | 'everyday';

/** A row with the longest 1 ms timer wait of its runner (the everyday part's Node runners). */
type Row = Result & { timerMs?: number };

function timed(name: string, m: Measured & { timerMs: number }): Row {
  return { ...toResult(name, m), timerMs: m.timerMs };
}

const UV = ', UV_USE_IO_URING=1';
const FS_ROWS: [FsRunner, string][] = [
  ['fs.promises', 'fs.promises FileHandle.read'],
  ['fs.read', 'fs.read callbacks'],
];

/** The sum of two runs of one runner, as one longer run. */
function combined(a: Measured, b: Measured): Measured {
  return { ios: a.ios + b.ios, seconds: a.seconds + b.seconds, cpuSeconds: a.cpuSeconds + b.cpuSeconds };
}

/**
 * Every runner of the parts once, in a fixed order (the rounds are matched
 * by position). fio's O_DIRECT run brackets aioring's, once before and once
 * after, so a drift of the device during the round falls on both sides.
 */
async function measureRound(
  file: string,
  sizeBytes: number,
  offsets: Float64Array,
  seconds: number,
  withFio: boolean,
  parts: Part[],
  peer: PeerArgs,
  cold: ColdFile | null,
  log: (s: string) => void,
): Promise<Row[]> {
  const results: Row[] = [];
  if (parts.includes('everyday')) {
    warmCache(file);
    const fd = fs.openSync(file, 'r');
    try {
      // made before the timer runs: setup's io_setup and threads are not the read path
      defaultContext();
      log('everyday: aioring open() + await read...');
      results.push(timed('everyday: aioring FileHandle.read', await withTimer(() => runEveryday(file, offsets, seconds))));
      if (features().backends.uring) {
        const uring = setup(128, { backend: 'uring' });
        try {
          log('everyday: aioring open() on a uring context + await read...');
          results.push(timed('everyday: aioring FileHandle.read (uring)', await withTimer(() => runEveryday(file, offsets, seconds, uring))));
        } finally {
          uring.destroy();
        }
      }
      for (const [runner, name] of FS_ROWS) {
        log(`everyday: ${name}...`);
        results.push(timed(`everyday: ${name}`, await withTimer(() => runFsRunner(runner, file, offsets, seconds))));
        results.push(timed(`everyday: ${name}${UV}`, runUvUring(runner, peer, seconds)));
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  if (parts.includes('hot')) {
    // the O_DIRECT part of the last round left the cache alone for a while,
    // and a proactive reclaimer (DAMON here) may have paged some of it out
    warmCache(file);
    const fd = fs.openSync(file, 'r');
    try {
      for (const c of HOT_CANDIDATES) {
        log(`aioring hot (${c.label})...`);
        results.push(toResult(`aioring hot (${c.label})`, await runAioring(c, fd, offsets, seconds)));
      }
    } finally {
      fs.closeSync(fd);
    }
    for (const [runner, name] of FS_ROWS) {
      log(`${runner}...`);
      results.push(toResult(name, await runFsRunner(runner, file, offsets, seconds)));
      results.push(toResult(name + UV, runUvUring(runner, peer, seconds)));
    }
    if (withFio) {
      log('fio psync hot...');
      results.push(toResult('fio psync hot (depth 1)', runFio({ file, sizeBytes, seconds, engine: 'psync', direct: false })));
      for (const engine of ['libaio', 'io_uring'] as const) {
        log(`fio ${engine} hot...`);
        results.push(toResult(`fio ${engine} hot`, runFio({ file, sizeBytes, seconds, engine, direct: false })));
      }
    }
  }
  if (cold) {
    // every runner starts from a file with none of its pages cached, and
    // reads each block at most once (fio: its random map), so it stays cold
    const fd = fs.openSync(cold.file, 'r');
    try {
      for (const c of COLD_CANDIDATES) {
        log(`aioring cold (${c.label})...`);
        dropCache(cold.file);
        results.push(toResult(`aioring cold (${c.label})`, await runAioring(c, fd, cold.offsets, seconds)));
      }
    } finally {
      fs.closeSync(fd);
    }
    for (const [runner, name] of FS_ROWS) {
      log(`cold ${runner}...`);
      dropCache(cold.file);
      results.push(toResult(`cold ${name}`, await runFsRunner(runner, cold.file, cold.offsets, seconds)));
      dropCache(cold.file);
      results.push(toResult(`cold ${name}${UV}`, runUvUring(runner, cold.peer, seconds)));
    }
    if (withFio) {
      log('fio io_uring cold...');
      results.push(toResult('fio io_uring cold', runFio({ file: cold.file, sizeBytes: cold.sizeBytes, seconds, engine: 'io_uring', direct: false, cold: true })));
    }
  }
  if (!parts.includes('direct')) return results;
  const fioDirect = (engine: 'libaio' | 'io_uring'): Measured => {
    log(`fio ${engine} direct...`);
    return runFio({ file, sizeBytes, seconds: seconds / 2, engine, direct: true });
  };
  const before = withFio ? fioDirect('libaio') : undefined;
  const beforeUring = withFio ? fioDirect('io_uring') : undefined;
  const dfd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  try {
    for (const c of DIRECT_CANDIDATES) {
      log(`aioring direct (${c.label})...`);
      results.push(toResult(`aioring direct (${c.label})`, await runAioring(c, dfd, offsets, seconds)));
    }
  } finally {
    fs.closeSync(dfd);
  }
  if (before) results.push(toResult('fio libaio direct', combined(before, fioDirect('libaio'))));
  if (beforeUring) results.push(toResult('fio io_uring direct', combined(beforeUring, fioDirect('io_uring'))));
  return results;
}

// --- main ---------------------------------------------------------------------

async function main(): Promise<number> {
  const argv = yargs(hideBin(process.argv))
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' })
    .option('seconds', { type: 'number', default: 3, describe: 'seconds per runner' })
    .option('size', { type: 'number', default: 256, describe: 'test file size in MiB' })
    .option('cold-size', { type: 'number', default: 2048, describe: "the cold part's file in MiB (a power of two), more than a runner reads" })
    .option('dir', { type: 'string', describe: 'directory for the test file (disk-backed; default /var/tmp, else $HOME)' })
    .option('seed', { type: 'number', default: 1, describe: 'seed of the random offsets' })
    .option('rounds', { type: 'number', default: 3, describe: 'rounds of every runner; each row is its median round' })
    .option('only', {
      choices: ['hot', 'cold', 'direct', 'everyday'] as const,
      describe: 'measure only the page-cache-hot, the cold buffered, the O_DIRECT part or the everyday path',
    })
    .option('peer', { choices: ['fs.promises', 'fs.read'] as const, hidden: true, describe: 'internal: run one fs runner and print its figures' })
    .option('file', { type: 'string', hidden: true, describe: 'internal: the --peer runner\'s file' })
    .option('cold', { type: 'boolean', hidden: true, describe: "internal: the --peer runner reads the cold part's file" })
    .strict()
    .parseSync();
  if (argv.peer) {
    const blocks = (argv.size * 1048576) / BLOCK;
    const peerOffsets = argv.cold ? permutedOffsets(blocks, argv.seed) : randomOffsets(blocks, argv.seed);
    const m = await withTimer(() => runFsRunner(argv.peer!, String(argv.file), peerOffsets, argv.seconds));
    process.stdout.write(`${JSON.stringify(m)}\n`);
    return 0;
  }
  if (!(argv.seconds > 0)) throw new Error('--seconds must be > 0');
  if (!Number.isInteger(argv.rounds) || argv.rounds < 1) throw new Error('--rounds must be a whole number >= 1');
  if (!Number.isInteger(argv.size) || argv.size < 1) throw new Error('--size must be a whole number of MiB >= 1');
  const coldMiB = argv['cold-size'];
  if (!Number.isInteger(coldMiB) || coldMiB < 1 || (coldMiB & (coldMiB - 1)) !== 0) throw new Error('--cold-size must be a power of two MiB');

  const parts: Part[] = argv.only ? [argv.only] : ['hot', 'cold', 'direct', 'everyday'];
  const sizeBytes = argv.size << 20;
  const fio = fioVersion();
  const dir = pickDir(argv.dir);
  const offsets = randomOffsets(sizeBytes / BLOCK, argv.seed);
  // progress on a terminal only: the output stays the table (or the JSON)
  const log = (s: string): void => {
    if (process.stderr.isTTY) process.stderr.write(`${s}\n`);
  };

  const file = createFile(dir, sizeBytes);
  let cold: ColdFile | null = null;
  const cleanup = (): void => {
    removeFile(file);
    if (cold) removeFile(cold.file);
  };
  if (parts.includes('cold')) {
    const coldFile = createFile(dir, coldMiB * 1048576);
    cold = { file: coldFile, sizeBytes: coldMiB * 1048576, offsets: permutedOffsets((coldMiB * 1048576) / BLOCK, argv.seed), peer: { file: coldFile, sizeMiB: coldMiB, seed: argv.seed, cold: true } };
  }
  const onSignal = (): void => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  // every runner runs once per round, rounds interleaved, so a slow spell
  // of the machine does not land on one runner only; each row is the median
  const rounds: Row[][] = [];
  try {
    for (let round = 0; round < argv.rounds; round++) {
      log(`round ${round + 1} of ${argv.rounds}`);
      rounds.push(await measureRound(file, sizeBytes, offsets, argv.seconds, fio !== null, parts, { file, sizeMiB: argv.size, seed: argv.seed }, cold, log));
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    cleanup();
  }
  const results: Row[] = rounds[0].map((_, i) => medianOf(rounds.map((r) => r[i])));
  const named = (prefix: string): Result[] => results.filter((r) => r.name.startsWith(prefix));
  const row = (name: string): Result | undefined => results.find((r) => r.name === name);
  const hot = named('aioring hot');
  const direct = named('aioring direct');
  const fsPromises = row('fs.promises FileHandle.read');
  const fsRead = row('fs.read callbacks');
  const fioDirect = row('fio libaio direct');
  const fioUringDirect = row('fio io_uring direct');
  const uringDirect = row('aioring direct (uring, legacy)');
  const uringCold = row('aioring cold (uring, legacy)');
  const everyday = row('everyday: aioring FileHandle.read');
  const everydayRead = row('everyday: fs.read callbacks');

  const best = (rs: Result[]): Result | undefined => (rs.length ? rs.reduce((a, b) => (b.iops > a.iops ? b : a)) : undefined);
  const bestHot = best(hot);
  const bestDirect = best(direct);
  const ratio = (a: Result | undefined, b: Result | undefined): number | null => (a && b ? +(a.iops / b.iops).toFixed(2) : null);
  const ratios = {
    hotVsFsPromises: ratio(bestHot, fsPromises),
    hotVsFsRead: ratio(bestHot, fsRead),
    directVsFio: ratio(bestDirect, fioDirect),
    directCpuVsFio: bestDirect && fioDirect ? +(bestDirect.cpuSecondsPerIo / fioDirect.cpuSecondsPerIo).toFixed(2) : null,
    directUringVsFioUring: ratio(uringDirect, fioUringDirect),
    coldUringVsFioUring: ratio(uringCold, row('fio io_uring cold')),
    coldUringVsPool: ratio(uringCold, row('aioring cold (threadpool, legacy)')),
    coldUringVsFsPromises: ratio(uringCold, row('cold fs.promises FileHandle.read')),
    coldUringVsFsRead: ratio(uringCold, row('cold fs.read callbacks')),
    everydayVsFsPromises: ratio(everyday, row('everyday: fs.promises FileHandle.read')),
    everydayVsFsRead: ratio(everyday, everydayRead),
    everydayCpuVsFsRead: everyday && everydayRead ? +(everyday.cpuSecondsPerIo / everydayRead.cpuSecondsPerIo).toFixed(2) : null,
    everydayVsFsPromisesUring: ratio(everyday, row(`everyday: fs.promises FileHandle.read${UV}`)),
    everydayVsFsReadUring: ratio(everyday, row(`everyday: fs.read callbacks${UV}`)),
  };
  const machine = {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model ?? 'unknown',
    kernel: os.release(),
    node: process.version,
    fio: fio ?? null,
    file: { dir, device: rootDevice(dir), sizeMiB: argv.size, coldSizeMiB: parts.includes('cold') ? coldMiB : null },
    seconds: argv.seconds,
    rounds: argv.rounds,
    depth: DEPTH,
    blockSize: BLOCK,
  };
  const missingFio = 'fio is not installed (apt-get install -y fio): the fio rows and the O_DIRECT ratios were not measured';

  if (argv.json) {
    process.stdout.write(`${JSON.stringify({ machine, best: { hot: bestHot?.name ?? null, direct: bestDirect?.name ?? null }, results, ratios })}\n`);
    if (!fio) process.stderr.write(`${missingFio}\n`);
    return fio ? 0 : 1;
  }

  const width = Math.max(...results.map((r) => r.name.length)) + 2;
  const lines = [
    `machine: ${machine.cpus} CPUs, ${machine.model}, Linux ${machine.kernel}, Node ${machine.node}, ${fio ?? 'no fio'}`,
    `file: ${argv.size} MiB in ${dir} (${machine.file.device}); 4 KiB random reads, queue depth ${DEPTH}, ${argv.seconds} s per runner,` +
      ` median of ${argv.rounds} interleaved rounds${cold ? `; the cold part on a ${coldMiB} MiB file of its own, each block read at most once` : ''}`,
    '',
    `${'runner'.padEnd(width)}${'IOPS'.padStart(10)} ${'CPU µs/IO'.padStart(10)} ${'1 ms timer, longest wait'.padStart(26)}`,
  ];
  for (const r of results) {
    const mark = r === bestHot || r === bestDirect ? ' *' : '';
    const timer = r.timerMs === undefined ? '' : `${r.timerMs.toFixed(1)} ms`;
    lines.push(
      `${r.name.padEnd(width)}${r.iops.toLocaleString('en-US').padStart(10)} ${(r.cpuSecondsPerIo * 1e6).toFixed(2).padStart(10)} ${timer.padStart(26)}${mark}`,
    );
  }
  lines.push('(* the best aioring candidate, used in the ratios)', '');
  const line = (label: string, value: number | null, target: string, met: boolean | null): string =>
    `${label.padEnd(34)}${(value === null ? 'n/a' : value.toFixed(2) + 'x').padStart(8)}  ${target.padEnd(8)} ${
      met === null ? (value === null ? 'not measured' : '') : met ? 'met' : 'NOT met'
    }`;
  lines.push(`${'ratio'.padEnd(34)}${'measured'.padStart(8)}  target`);
  const atLeast = (v: number | null, target: number): boolean | null => (v === null ? null : v >= target);
  lines.push(line('hot IOPS vs fs.promises', ratios.hotVsFsPromises, '>= 5x', atLeast(ratios.hotVsFsPromises, 5)));
  lines.push(line('hot IOPS vs fs.read', ratios.hotVsFsRead, '>= 2.5x', atLeast(ratios.hotVsFsRead, 2.5)));
  lines.push(line('O_DIRECT IOPS vs fio libaio', ratios.directVsFio, '>= 0.9x', atLeast(ratios.directVsFio, 0.9)));
  lines.push(
    line(
      'O_DIRECT CPU/IO vs fio libaio',
      ratios.directCpuVsFio,
      '<= 1.5x',
      ratios.directCpuVsFio === null ? null : ratios.directCpuVsFio <= 1.5,
    ),
  );
  lines.push(line('O_DIRECT uring vs fio io_uring', ratios.directUringVsFioUring, '>= 0.95x', atLeast(ratios.directUringVsFioUring, 0.95)));
  lines.push(line('cold uring vs fio io_uring', ratios.coldUringVsFioUring, '>= 0.9x', atLeast(ratios.coldUringVsFioUring, 0.9)));
  lines.push(line('cold uring vs the thread pool', ratios.coldUringVsPool, 'peer', null));
  lines.push(line('cold uring vs fs.promises', ratios.coldUringVsFsPromises, 'peer', null));
  lines.push(line('cold uring vs fs.read', ratios.coldUringVsFsRead, 'peer', null));
  lines.push(line('everyday IOPS vs fs.promises', ratios.everydayVsFsPromises, '>= 4x', atLeast(ratios.everydayVsFsPromises, 4)));
  lines.push(line('everyday IOPS vs fs.read', ratios.everydayVsFsRead, '>= 2x', atLeast(ratios.everydayVsFsRead, 2)));
  lines.push(
    line('everyday CPU/IO vs fs.read', ratios.everydayCpuVsFsRead, '<= 1x', ratios.everydayCpuVsFsRead === null ? null : ratios.everydayCpuVsFsRead <= 1),
  );
  lines.push(line('everyday vs fs.promises, io_uring', ratios.everydayVsFsPromisesUring, 'peer', null));
  lines.push(line('everyday vs fs.read, io_uring', ratios.everydayVsFsReadUring, 'peer', null));
  process.stdout.write(`${lines.join('\n')}\n`);
  if (!fio) {
    process.stderr.write(`${missingFio}\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench:io: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
