// Shared test plumbing: kernel AIO availability and temp files.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AioError } from '../src/errors';
import { kernelSetup } from '../src/kernel';

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

/** A fresh temporary directory, removed when the process exits. */
export function tempDir(base = os.tmpdir()): string {
  const dir = fs.mkdtempSync(path.join(base, 'aioring-test-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
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
