// 30 contexts at the kernel's scale: 10,000 contexts in one process, through
// the Node API and through the drop-in libaio in its opt-in modes, each doing
// I/O, all destroyed. The threads are the process's, shared (not per
// context); each context holds its ring, control page and, once it has made
// an O_DIRECT request, the kernel's ring, and its io_uring once it made a
// request the pool would otherwise run (auto where io_uring works; 'uring'
// from setup); everything comes back. Counts, never times.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeKernel, describeUring, directDir, tempDir } from './helpers';
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
  uringRings: number;
  fds: number;
}

function dataFile(dir = tempDir()): string {
  const file = path.join(dir, 'blocks');
  fs.writeFileSync(file, Buffer.alloc(64 * BLOCK));
  return file;
}

describeKernel('30 contexts at the kernel\'s scale', () => {
  test.each([
    ['legacy', 'buffered', 0],
    ['v2', 'direct', N],
  ])('Node API, auto with AIORING_AUTO_URING=0, %s ring, %s I/O: 10,000 setup(1) contexts each write and read a block; shared threads, %i kernel contexts, 3 mappings each, all back after destroy', (ring, io, kernelContexts) => {
    const file = dataFile(io === 'direct' ? directDir() : tempDir());
    // auto's kernel AIO path (where io_uring works auto takes it instead: the io_uring block below)
    const out = execFileSync(process.execPath, ['--expose-gc', '-r', tsRequire, path.join(__dirname, 'workers', 'manyContexts.ts'), ring, String(N), file, io], {
      encoding: 'utf8',
      timeout: 240000,
      env: { ...process.env, AIORING_AUTO_URING: '0' },
    });
    const { good, start, during, after } = JSON.parse(out) as { good: number; start: Held; during: Held; after: Held };
    expect(good).toBe(N);
    // a kernel context only for a context that made an O_DIRECT request
    expect(during.kernelContexts - start.kernelContexts).toBe(kernelContexts);
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
    beforeAll(() => {
      exe = path.join(tempDir(), 'many_contexts');
      execFileSync('cc', ['-O1', '-Wall', '-Wextra', '-Werror', path.join(__dirname, 'fixtures', 'many_contexts.c'), '-o', exe, '-laio', '-lpthread']);
    });

    function run(n: number, file: string, io: string, env: Record<string, string>): { good: number; start: Held & { aio: number }; during: Held & { aio: number }; after: Held & { aio: number } } {
      const args = ['contexts', String(n), '1', file, ...(io === 'direct' ? ['direct'] : [])];
      const out = execFileSync(exe, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240000 });
      return JSON.parse(out);
    }

    /*
     * An opted-in drop-in context holds its wake eventfd, and once it has
     * made an O_DIRECT request the kernel's eventfd too (legacy): 10,000 of
     * those need an RLIMIT_NOFILE hard limit of 20,000 and a little; where it
     * is lower the largest count that fits runs. A v2 context (the direct
     * route) has its kernel context from io_setup on, as the kernel's, and
     * no eventfd of the kernel's.
     */
    function fitting(perContext: number): number {
      const limit = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
      return limit === 'unlimited' ? N : Math.min(N, Math.floor((Number(limit) - 100) / perContext));
    }

    test.each([
      ['legacy', 'buffered'],
      ['v2', 'buffered'],
      ['v2', 'direct'],
    ])('AIORING_RING=%s, %s I/O: io_setup(1) contexts each write and read a block; threads shared; a kernel context with O_DIRECT (v2: always, as the kernel\'s); threads and [aio] back after io_destroy, as with the kernel', (ring, io) => {
      const direct = io === 'direct';
      const kernelAtSetup = ring === 'v2';
      const n = direct && !kernelAtSetup ? fitting(2) : fitting(1);
      // 10,000 wherever a hard limit of 10,100 descriptors or more allows it (20,000 on CI)
      if (!direct) expect(n).toBe(N);
      const file = dataFile(direct ? directDir() : tempDir());
      const kernel = run(n, file, io, {});
      const shim = run(n, file, io, { LD_PRELOAD: shimPath, AIORING_RING: ring });
      for (const r of [kernel, shim]) {
        expect(r.good).toBe(n);
        expect(r.after.threads).toBe(r.start.threads);
        expect(r.after.aio).toBe(r.start.aio);
      }
      // the kernel's libaio: a kernel context for every io_setup; the drop-in: v2 too, legacy for those that made an O_DIRECT request
      expect(kernel.during.aio - kernel.start.aio).toBe(n);
      expect(shim.during.aio - shim.start.aio).toBe(direct || kernelAtSetup ? n : 0);
      expect(kernel.during.threads).toBe(kernel.start.threads);
      expect(shim.during.threads - shim.start.threads).toBeLessThanOrEqual(SHARED_THREADS);
      expect(shim.during.maps - shim.start.maps).toBeLessThanOrEqual((direct || kernelAtSetup ? 3 : 2) * n + 100);
      // what the C library keeps of the shared threads (arenas, cached stacks), not per context
      expect(shim.after.maps - shim.start.maps).toBeLessThan(100);
    }, 300000);
  });
});

describeUring('30 contexts at the kernel\'s scale, on io_uring', () => {
  test.each([
    ['uring', 'buffered'],
    ['uring', 'direct'],
    // auto makes its ring at the context's first request the pool would have run (here the write); its reads are served inline
    ['auto', 'buffered'],
  ])('Node API, backend %s, %s I/O: 10,000 setup(1) contexts each write and read a block; one io_uring descriptor each and no thread of their own; all back after destroy', (backend, io) => {
    const file = dataFile(io === 'direct' ? directDir() : tempDir());
    const out = execFileSync(process.execPath, ['--expose-gc', '-r', tsRequire, path.join(__dirname, 'workers', 'manyContexts.ts'), 'legacy', String(N), file, io, backend], {
      encoding: 'utf8',
      timeout: 240000,
      env: { ...process.env, AIORING_AUTO_URING: '' },
    });
    const { good, start, during, after } = JSON.parse(out) as { good: number; start: Held; during: Held; after: Held };
    expect(good).toBe(N);
    expect(during.uringRings - start.uringRings).toBe(N);
    // the ring's own descriptor and nothing else: 10,000 fit a hard RLIMIT_NOFILE of 20,000
    expect(during.fds - start.fds).toBeLessThanOrEqual(N + 100);
    expect(during.kernelContexts).toBe(start.kernelContexts);
    // the mover, not one reaper per context (io_uring's io-wq workers are the kernel's, not counted)
    expect(during.threads - start.threads).toBeLessThanOrEqual(SHARED_THREADS);
    expect(after.threads).toBe(start.threads);
    expect(after.uringRings).toBe(start.uringRings);
    expect(after.fds).toBe(start.fds);
    expect(after.maps - start.maps).toBeLessThan(N / 10);
  }, 300000);
});
