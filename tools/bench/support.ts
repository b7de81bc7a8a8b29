// What the I/O benchmarks share: the scratch file on a disk-backed
// filesystem, fio runs, and the median of rounds.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

export const DEPTH = 32;
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

export interface Result {
  name: string;
  iops: number;
  cpuSecondsPerIo: number;
}

export interface Measured {
  ios: number;
  seconds: number;
  cpuSeconds: number;
}

export function toResult(name: string, m: Measured): Result {
  return { name, iops: Math.round(m.ios / m.seconds), cpuSecondsPerIo: m.cpuSeconds / m.ios };
}

/** The round with the median IOPS (its CPU figure comes with it). */
export function medianOf(runs: Result[]): Result {
  const sorted = [...runs].sort((a, b) => a.iops - b.iops);
  return sorted[Math.floor(sorted.length / 2)];
}

export function fioVersion(): string | undefined {
  const r = spawnSync('fio', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

interface FioJob {
  jobs: {
    job_runtime?: number;
    usr_cpu: number;
    sys_cpu: number;
    read: { iops: number; total_ios: number; runtime: number };
    write: { iops: number; total_ios: number; runtime: number };
    error: number;
  }[];
}

export interface FioRun {
  file: string;
  sizeBytes: number;
  seconds: number;
  engine: 'libaio' | 'io_uring' | 'psync';
  direct: boolean;
  /** drop the file's page cache before the job (fio's posix_fadvise DONTNEED) */
  cold?: boolean;
  /** extra fio options, e.g. --userspace_reap=1 */
  extra?: string[];
  /** environment for fio, e.g. LD_PRELOAD of the drop-in libaio */
  env?: NodeJS.ProcessEnv;
  /** default randread */
  rw?: 'randread' | 'randwrite';
}

/** One fio job of 4 KiB random reads (or writes); IOPS and CPU from its JSON. */
export function runFio({ file, sizeBytes, seconds, engine, direct, cold = false, extra = [], env = {}, rw = 'randread' }: FioRun): Measured {
  const args = [
    '--name=x',
    `--filename=${file}`,
    `--rw=${rw}`,
    `--bs=4k`,
    `--ioengine=${engine}`,
    `--direct=${direct ? 1 : 0}`,
    `--runtime=${Math.max(1, Math.round(seconds * 1000))}ms`,
    '--time_based',
    '--output-format=json',
    `--size=${sizeBytes}`,
    // fio drops the file's page cache before a job by default: keep it hot unless cold
    `--invalidate=${cold ? 1 : 0}`,
    ...extra,
  ];
  // psync is synchronous: one read at a time whatever the depth
  if (engine !== 'psync') args.splice(4, 0, `--iodepth=${DEPTH}`);
  const r = spawnSync('fio', args, { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`fio ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  // fio may print notes before the JSON
  const text = r.stdout.slice(r.stdout.indexOf('{'));
  const job = (JSON.parse(text) as FioJob).jobs[0];
  if (job.error) throw new Error(`fio job error ${job.error}`);
  const side = rw === 'randread' ? job.read : job.write;
  const runtimeSec = (job.job_runtime ?? side.runtime) / 1000;
  const ios = side.total_ios;
  return { ios, seconds: ios / side.iops, cpuSeconds: ((job.usr_cpu + job.sys_cpu) / 100) * runtimeSec };
}

/**
 * Watch the event loop while a runner runs: a 1 ms timer, re-armed each
 * time it fires; stop() gives the longest it waited past its 1 ms, in ms.
 */
export function timerWatch(): { stop(): number } {
  let longest = 0;
  let armed = performance.now();
  let timer: NodeJS.Timeout;
  const tick = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - armed - 1);
    armed = now;
    timer = setTimeout(tick, 1);
  };
  timer = setTimeout(tick, 1);
  return {
    stop(): number {
      clearTimeout(timer);
      return Math.max(longest, performance.now() - armed - 1);
    },
  };
}

export function isTmpfs(dir: string): boolean {
  const t = fs.statfsSync(dir).type;
  return t === TMPFS_MAGIC || t === RAMFS_MAGIC;
}

export function pickDir(requested: string | undefined): string {
  if (requested !== undefined) {
    if (isTmpfs(requested)) throw new Error(`${requested} is tmpfs: O_DIRECT needs a disk-backed filesystem`);
    return requested;
  }
  for (const d of ['/var/tmp', os.homedir(), process.cwd()]) {
    try {
      if (!isTmpfs(d)) return d;
    } catch {
      // not there: try the next
    }
  }
  throw new Error('no disk-backed directory found: pass --dir');
}

export function createFile(dir: string, sizeBytes: number): string {
  const sub = fs.mkdtempSync(path.join(dir, 'aioring-bench-io-'));
  const file = path.join(sub, 'data');
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((Math.imul(i, 2654435761) ^ 0x5bd1e995) >>> 0, i);
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    for (let off = 0; off < sizeBytes; off += chunk.length) {
      chunk.writeUInt32LE(off / chunk.length, 0);
      fs.writeSync(fd, chunk, 0, Math.min(chunk.length, sizeBytes - off), off);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/** Drop the file's pages from the page cache (GNU dd's posix_fadvise DONTNEED of the whole file). */
export function dropCache(file: string): void {
  const r = spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dd iflag=nocache failed (${r.status}): ${r.stderr}`);
}

/** Read the whole file once so the hot runners find it in the page cache. */
export function warmCache(file: string): void {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  try {
    let off = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, off);
      if (n === 0) break;
      off += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

export function removeFile(file: string): void {
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}

export function rootDevice(dir: string): string {
  try {
    return execFileSync('df', ['--output=source,fstype', dir], { encoding: 'utf8' }).trim().split('\n')[1]?.trim().replace(/\s+/, ' ') ?? '';
  } catch {
    return '';
  }
}


/** Run a benchmark's main: its exit code, or its error on one line of stderr and exit code 1. */
export function runBench(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${name}: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

/** The machine a figure was measured on: never a figure without it. */
export function machineFacts(fio: string | undefined): { cpus: number; model: string; kernel: string; node: string; fio: string | null } {
  return { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', kernel: os.release(), node: process.version, fio: fio ?? null };
}
