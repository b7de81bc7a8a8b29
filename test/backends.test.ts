// 15 backends: which one runs and why, the automatic fallback when
// io_setup (or io_uring_setup) fails, and threads that never outlive their context.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AioContext, setup, SETUP_V2 } from '../src/context';
import { describeKernel, describeUring, tempDir } from './helpers';
import { findFixture } from './native';

const tsRequire = path.join(__dirname, 'workers', 'tsRequire.js');
const denyIoSetup = findFixture('deny_io_setup');

function threads(): number {
  return fs.readdirSync('/proc/self/task').length;
}

/** eventfds open in this process: the kernel backend opens one per context. */
function eventfds(): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[eventfd]') n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

/** One noop through each context, then destroy it and wait until it is closed. */
async function useThenDestroy(ctxs: AioContext[]): Promise<void> {
  for (const c of ctxs) {
    c.submit([{ opcode: 'noop', fd: 0 }]);
    await c.getEvents(1, 1, 5000);
    c.destroy();
    // destroy returns first; the kernel context (or ring), threads and eventfd are gone once closed resolves
    await c.closed;
  }
}

describe('15 backends', () => {
  test.each(['ENOSYS', 'EPERM'])('io_setup failing with %s under a seccomp filter: auto falls back to the thread pool, kernel is refused', (errno) => {
    const out = execFileSync(denyIoSetup, [errno, process.execPath, '-r', tsRequire, path.join(__dirname, 'workers', 'backendReport.ts')], {
      encoding: 'utf8',
    });
    const report = JSON.parse(out);
    expect(report.auto).toEqual({
      name: 'threadpool',
      kernel: false,
      threads: 4,
      readHelper: os.availableParallelism() > 1,
      uring: false,
      reason: `io_setup failed with ${errno}: a pool of 4 threads serves every request`,
    });
    expect(report.kernel).toEqual({ error: errno });
    expect(report.threadpool).toMatchObject({ name: 'threadpool', kernel: false });
  });

  test('threads and descriptors return to where they were after destroy', async () => {
    const threads0 = threads();
    const eventfds0 = eventfds();
    const ctxs = [setup(64), setup(64, { flags: SETUP_V2, backend: 'threadpool', threads: 3 }), setup(16, { backend: 'threadpool', threads: 1 })];
    // the threads are the process's, shared: setup starts none but the mover (with the first kernel context)
    expect(threads()).toBeLessThan(threads0 + ctxs.length);
    // the kernel context's eventfd, and the process's mover's own (one for all contexts)
    expect(eventfds()).toBe(eventfds0 + (ctxs[0].backend.kernel ? 2 : 0));
    await useThenDestroy(ctxs);
    expect(threads()).toBe(threads0);
    expect(eventfds()).toBe(eventfds0);
  });

  test('a process that never destroys its contexts, with work in flight, still exits normally', () => {
    const fifo = path.join(tempDir(), 'fifo');
    execFileSync('mkfifo', [fifo]);
    const keepOpen = fs.openSync(fifo, fs.constants.O_RDWR);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['-r', tsRequire, path.join(__dirname, 'workers', 'exitWithoutDestroy.ts'), fifo], {
      encoding: 'utf8',
      timeout: 20000,
    });
    fs.closeSync(keepOpen);
    expect(r.stdout).toBe('started\n');
    expect(r.status).toBe(0);
    expect(r.signal).toBeNull();
    expect(Date.now() - t0).toBeLessThan(20000);
  });
});

describeKernel('15 backends with kernel AIO', () => {
  test('a process whose kernel contexts waited, then saw completions nobody waited for, still exits without destroy', () => {
    const file = path.join(tempDir(), 'data');
    fs.writeFileSync(file, Buffer.alloc(4096, 7));
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['-r', tsRequire, path.join(__dirname, 'workers', 'exitAfterWait.ts'), file], {
      encoding: 'utf8',
      timeout: 20000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1\n1\n1\n');
    expect(r.status).toBe(0);
    expect(r.signal).toBeNull();
    expect(Date.now() - t0).toBeLessThan(20000);
  });

  test('past aio-max-nr io_setup is EAGAIN: auto falls back to the pool and says so', () => {
    const max = Number(fs.readFileSync('/proc/sys/fs/aio-max-nr', 'utf8'));
    // the engine asks io_setup for the caller's nrEvents: past aio-max-nr, io_setup always refuses
    const c = setup(max + 1, { backend: 'auto' });
    try {
      expect(c.capacity).toBeGreaterThan(max);
      expect(c.backend).toMatchObject({ name: 'threadpool', kernel: false, reason: expect.stringMatching(/^io_setup failed with EAGAIN/) });
    } finally {
      c.destroy();
    }
    expect(() => setup(max + 1, { backend: 'kernel' })).toThrow(expect.objectContaining({ code: 'EAGAIN', syscall: 'io_setup' }));
  });
});

describeUring('15 backends with io_uring', () => {
  test.each(['ENOSYS', 'EPERM'])('io_uring_setup failing with %s under a seccomp filter: features() says so, uring is refused, auto keeps its choice', (errno) => {
    const out = execFileSync(denyIoSetup, ['--uring', errno, process.execPath, '-r', tsRequire, path.join(__dirname, 'workers', 'backendReport.ts')], {
      encoding: 'utf8',
    });
    const report = JSON.parse(out);
    expect(report.features).toMatchObject({ uring: false, uringError: errno });
    expect(report.uring).toEqual({ error: errno });
    expect(report.auto).toMatchObject({ name: 'auto', uring: false });
    expect(report.threadpool).toMatchObject({ name: 'threadpool', uring: false });
  });

  test('threads and descriptors of uring contexts return to where they were after destroy', async () => {
    const threads0 = threads();
    const eventfds0 = eventfds();
    const ctxs = [setup(64, { backend: 'uring' }), setup(64, { flags: SETUP_V2, backend: 'uring' })];
    // one reaper thread and one registered eventfd each
    expect(threads()).toBe(threads0 + 2);
    expect(eventfds()).toBe(eventfds0 + 2);
    await useThenDestroy(ctxs);
    expect(threads()).toBe(threads0);
    expect(eventfds()).toBe(eventfds0);
  });
});
