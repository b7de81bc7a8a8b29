// Shared test plumbing: kernel AIO availability and temp files.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AioError } from '../src/errors';
import { features } from '../src/features';
import { kernelSetup } from '../src/kernel';
import { hugePageSize } from '../src/memory';

let kernelAio: { ok: boolean; reason: string } | undefined;

function probeKernelAio(): { ok: boolean; reason: string } {
  try {
    kernelSetup(1).destroy();
    return { ok: true, reason: '' };
  } catch (e) {
    if (e instanceof AioError) return { ok: false, reason: `io_setup failed with ${e.code}` };
    throw e;
  }
}

/**
 * describe() for tests that need the real kernel's AIO: skipped with a
 * printed reason where io_setup is unavailable, unless
 * AIORING_REQUIRE_KERNEL_AIO=1 (set by .ci/run), which makes them run and fail.
 */
export function describeKernel(name: string, fn: () => void): void {
  kernelAio ??= probeKernelAio();
  if (kernelAio.ok || process.env.AIORING_REQUIRE_KERNEL_AIO === '1') {
    describe(name, fn);
  } else {
    process.stdout.write(`skipping "${name}": ${kernelAio.reason}\n`);
    describe.skip(name, fn);
  }
}

/**
 * describe() for tests that need io_uring (the uring backend): skipped with
 * a printed reason where this build or process cannot set it up, unless
 * AIORING_REQUIRE_URING=1 (set by .ci/run), which makes them run and fail.
 */
export function describeUring(name: string, fn: () => void): void {
  const { uring, uringError } = features().backends;
  if (uring || process.env.AIORING_REQUIRE_URING === '1') {
    describe(name, fn);
  } else {
    process.stdout.write(`skipping "${name}": io_uring_setup failed with ${uringError}\n`);
    describe.skip(name, fn);
  }
}

const tempDirs: string[] = [];

/** Remove the directories tempDir made (in this test file): for afterAll. */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * A fresh temporary directory, removed by removeTempDirs or when the
 * process exits (one exit listener for them all).
 */
export function tempDir(base = os.tmpdir()): string {
  const dir = fs.mkdtempSync(path.join(base, 'aioring-test-'));
  if (tempDirs.push(dir) === 1) process.on('exit', removeTempDirs);
  return dir;
}

/** Byte i of block b of a test file: easy to check, different per block. */
export function patternByte(block: number, i: number): number {
  return (block * 31 + i * 7 + 1) & 0xff;
}

/** A file of blocks * blockSize bytes holding patternByte. */
export function patternFile(dir: string, blocks: number, blockSize = 4096): string {
  const file = path.join(dir, `pattern-${blocks}-${blockSize}`);
  const data = Buffer.alloc(blocks * blockSize);
  for (let b = 0; b < blocks; b++) for (let i = 0; i < blockSize; i++) data[b * blockSize + i] = patternByte(b, i);
  fs.writeFileSync(file, data);
  return file;
}

/** xorshift32: deterministic runs; print the seed on failure. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

export const TMPFS_MAGIC = 0x01021994;
export const HUGETLBFS_MAGIC = 0x958458f6;

/**
 * A fresh directory on tmpfs (/dev/shm) when there is one: the kernel
 * completes buffered reads of its files inside io_submit.
 */
export function tmpfsDir(): string {
  const shm = fs.existsSync('/dev/shm') && fs.statfsSync('/dev/shm').type === TMPFS_MAGIC;
  return tempDir(shm ? '/dev/shm' : os.tmpdir());
}

/** Block this thread for ms (the event loop too: only between steps of a script). */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Descriptors of this process whose link names what, e.g. 'anon_inode:[eventfd]'. */
/**
 * A count of the process's shared resources once it stops moving: the
 * shared pool's idle threads exit after a second, and a destroyed context's
 * descriptors close on a background thread, so a count taken at once can
 * still hold what an earlier test (or this one) left to wind down. Waits
 * until count() equals want (or, with none, is unchanged for 1.5 s), at
 * most 10 s, and returns it.
 */
export async function settledCount(count: () => number, want?: number): Promise<number> {
  const end = Date.now() + 10_000;
  let last = count();
  let since = Date.now();
  while (Date.now() < end) {
    if (want !== undefined ? last === want : Date.now() - since >= 1500) return last;
    await new Promise((r) => setTimeout(r, 50));
    const now = count();
    if (now !== last) since = Date.now();
    last = now;
  }
  return last;
}

export function descriptorCount(what: string): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === what) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

/** Threads of this process (/proc/self/task). */
export function threadCount(): number {
  return fs.readdirSync('/proc/self/task').length;
}

/**
 * This process's threads, io_uring's io-wq workers (iou-wrk-*) aside: those
 * are the kernel's, shared by every ring the thread that submitted uses,
 * and leave on their own after a few idle seconds.
 */
export function ownThreadCount(): number {
  return fs.readdirSync('/proc/self/task').filter((t) => {
    try {
      return !fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').startsWith('iou-wrk-');
    } catch {
      return false;
    }
  }).length;
}

/** Open descriptors of this process (/proc/self/fd), not counting the one readdir opens. */
export function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** Where hugetlbfs is mounted, or null. */
export function hugetlbfsMount(): string | null {
  const line = fs
    .readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[2] === 'hugetlbfs');
  return line ? line[1] : null;
}

function hugePagesFree(): number {
  return Number(/HugePages_Free:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
}

/**
 * Huge page tests run where the system has them, and must run when .ci/run
 * set them up (AIORING_REQUIRE_HUGETLB=1); otherwise they are skipped with
 * the reason printed.
 */
export function hugeAvailable(what: string): boolean {
  const ok = hugePageSize() > 0 && hugePagesFree() >= 2 && hugetlbfsMount() !== null;
  if (!ok && process.env.AIORING_REQUIRE_HUGETLB !== '1') {
    process.stdout.write(`skipping ${what}: no free huge pages or no hugetlbfs mount\n`);
  }
  return ok || process.env.AIORING_REQUIRE_HUGETLB === '1';
}

/** A fresh directory on a filesystem that takes O_DIRECT (not tmpfs). */
export function directDir(): string {
  for (const base of ['/var/tmp', os.tmpdir(), path.join(__dirname, '..')]) {
    try {
      if (fs.statfsSync(base).type === TMPFS_MAGIC) continue;
      const dir = tempDir(base);
      const probe = path.join(dir, 'probe');
      fs.writeFileSync(probe, '');
      fs.closeSync(fs.openSync(probe, fs.constants.O_RDONLY | fs.constants.O_DIRECT));
      fs.rmSync(probe);
      return dir;
    } catch {
      // try the next one
    }
  }
  throw new Error('no filesystem here takes O_DIRECT');
}

/**
 * src/ and the given sources (paths from the repository's root) as plain
 * JavaScript in a tree of their own, the built addon linked beside them: a
 * child process that runs them never loads the compiler (its memory, its
 * seconds per thread). Returns the tree's root.
 */
export function compiledTree(sources: string[]): string {
  // required here, not at the top: the trees hold this file too, and must not load the compiler
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { transpile } = require('./workers/transpile.js') as { transpile: (source: string, fileName: string) => string };
  const root = path.join(__dirname, '..');
  const out = tempDir();
  const all = [
    ...fs
      .readdirSync(path.join(root, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join('src', f)),
    ...sources,
  ];
  for (const source of all) {
    const js = path.join(out, source.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(js), { recursive: true });
    fs.writeFileSync(js, transpile(fs.readFileSync(path.join(root, source), 'utf8'), source));
  }
  fs.mkdirSync(path.join(out, 'build'));
  fs.symlinkSync(path.join(root, 'build', 'Release'), path.join(out, 'build', 'Release'));
  return out;
}
