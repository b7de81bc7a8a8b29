// 30 contexts at the kernel's scale: 10,000 contexts in one process, through
// the Node API and through the drop-in libaio in its opt-in modes, each doing
// I/O, all destroyed. The threads are the process's, shared (not per
// context); each context holds its ring, control page and (with kernel AIO)
// the kernel's ring; everything comes back. Counts, never times.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeKernel, tempDir } from './helpers';
import { shimPath } from '../src/index';

const N = 10000;
const BLOCK = 4096;
// engine_pool.h: AIOR_POOL_MAX_WORKERS; plus the read helper and the mover
const SHARED_THREADS = 64 + 2;
const tsRequire = path.join(__dirname, 'workers', 'tsRequire.js');

interface Held {
  threads: number;
  maps: number;
  kernelContexts: number;
}

function dataFile(): string {
  const file = path.join(tempDir(), 'blocks');
  fs.writeFileSync(file, Buffer.alloc(64 * BLOCK));
  return file;
}

describeKernel('30 contexts at the kernel\'s scale', () => {
  test.each(['legacy', 'v2'])('Node API, %s ring: 10,000 setup(1) contexts each write and read a block; shared threads, 3 mappings each, all back after destroy', (ring) => {
    const out = execFileSync(process.execPath, ['-r', tsRequire, path.join(__dirname, 'workers', 'manyContexts.ts'), ring, String(N), dataFile()], {
      encoding: 'utf8',
      timeout: 240000,
    });
    const { good, start, during, after } = JSON.parse(out) as { good: number; start: Held; during: Held; after: Held };
    expect(good).toBe(N);
    expect(during.kernelContexts - start.kernelContexts).toBe(N);
    // before: 5 threads per context
    expect(during.threads - start.threads).toBeLessThanOrEqual(SHARED_THREADS);
    // the ring, the control page and the kernel's ring (anonymous neighbours may merge), and V8's heap growing
    expect(during.maps - start.maps).toBeLessThanOrEqual(3 * N + 1000);
    expect(after.threads).toBe(start.threads);
    expect(after.kernelContexts).toBe(start.kernelContexts);
    // V8's own heap grows while 10,000 contexts live; no context leaves a mapping behind
    expect(after.maps - start.maps).toBeLessThan(N / 10);
  }, 300000);

  describe('the drop-in libaio, opted in', () => {
    let exe = '';
    let file = '';
    beforeAll(() => {
      exe = path.join(tempDir(), 'many_contexts');
      execFileSync('cc', ['-O1', '-Wall', '-Wextra', '-Werror', path.join(__dirname, 'fixtures', 'many_contexts.c'), '-o', exe, '-laio', '-lpthread']);
      file = dataFile();
    });

    function run(n: number, env: Record<string, string>): { good: number; start: Held & { aio: number }; during: Held & { aio: number }; after: Held & { aio: number } } {
      const out = execFileSync(exe, ['contexts', String(n), '1', file], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240000 });
      return JSON.parse(out);
    }

    /*
     * An opted-in drop-in context holds two descriptors (its wake eventfd
     * and the kernel's eventfd): 10,000 need an RLIMIT_NOFILE hard limit of
     * 20,000 and a little; where it is lower the largest count that fits runs.
     */
    function fitting(): number {
      const limit = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
      return limit === 'unlimited' ? N : Math.min(N, Math.floor((Number(limit) - 100) / 2));
    }

    test.each(['legacy', 'v2'])('AIORING_RING=%s: io_setup(1) contexts each write and read a block; threads shared; threads and [aio] back after io_destroy, as with the kernel', (ring) => {
      const n = fitting();
      const kernel = run(n, {});
      const shim = run(n, { LD_PRELOAD: shimPath, AIORING_RING: ring });
      for (const r of [kernel, shim]) {
        expect(r.good).toBe(n);
        expect(r.during.aio - r.start.aio).toBe(n);
        expect(r.after.threads).toBe(r.start.threads);
        expect(r.after.aio).toBe(r.start.aio);
      }
      expect(kernel.during.threads).toBe(kernel.start.threads);
      expect(shim.during.threads - shim.start.threads).toBeLessThanOrEqual(SHARED_THREADS);
      expect(shim.during.maps - shim.start.maps).toBeLessThanOrEqual(3 * n + 100);
      // what the C library keeps of the shared threads (arenas, cached stacks), not per context
      expect(shim.after.maps - shim.start.maps).toBeLessThan(100);
    }, 300000);
  });
});
