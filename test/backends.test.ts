// 15 backends: which one runs and why, the automatic fallback when
// io_setup (or io_uring_setup) fails, and threads that never outlive their context.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AioContext, alignedBuffer, setup, SETUP_V2 } from '../src/context';
import { addon } from '../src/native';
import { describeKernel, descriptorCount, describeUring, directDir, settledCount, tempDir } from './helpers';
import { findFixture } from './native';

const tsRequire = path.join(__dirname, 'workers', 'tsRequire.js');
const denyIoSetup = findFixture('deny_io_setup');

function threads(): number {
  return fs.readdirSync('/proc/self/task').length;
}


/** eventfds open in this process: a kernel AIO context has one. */
function eventfds(): number {
  return descriptorCount('anon_inode:[eventfd]');
}

/** The sizes of this process's kernel AIO rings ([aio] mappings), in bytes. */
function kernelRings(): number[] {
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('/[aio]'))
    .map((l) => {
      const [lo, hi] = l.split(' ')[0].split('-');
      return parseInt(hi, 16) - parseInt(lo, 16);
    })
    .sort((a, b) => a - b);
}

/** A file of 4 KiB blocks opened O_DIRECT, on a filesystem that takes it. */
function directFile(): number {
  const file = path.join(directDir(), 'direct');
  fs.writeFileSync(file, Buffer.alloc(16 * 4096, 5));
  return fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
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
  test.each(['ENOSYS', 'EPERM'])('io_setup failing with %s under a seccomp filter, auto without io_uring: auto falls back to the thread pool, kernel is refused', (errno) => {
    const file = path.join(directDir(), 'direct');
    fs.writeFileSync(file, Buffer.alloc(4096, 5));
    // auto without io_uring (where io_uring works auto would serve O_DIRECT through it: see below)
    const out = execFileSync(denyIoSetup, [errno, process.execPath, '-r', tsRequire, path.join(__dirname, 'workers', 'backendReport.ts'), file], {
      encoding: 'utf8',
      env: { ...process.env, AIORING_AUTO_URING: '0' },
    });
    const report = JSON.parse(out);
    // io_setup is not called at setup: auto makes its kernel context at the first O_DIRECT request
    expect(report.autoAtSetup).toMatchObject({ name: 'auto', kernel: false, threads: 4, reason: expect.stringMatching(/at the first one/) });
    // there io_setup failed: that request and every one after it went to the pool
    expect(report.directRead).toEqual({ bytes: 4096, fives: true });
    expect(report.auto).toEqual({
      name: 'threadpool',
      kernel: false,
      threads: 4,
      readHelper: os.availableParallelism() > 1,
      uring: false,
      reason: `io_setup failed with ${errno} at the first O_DIRECT request: a pool of 4 threads serves every request; io_uring not considered (AIORING_AUTO_URING=0)`,
    });
    expect(report.kernel).toEqual({ error: errno });
    expect(report.threadpool).toMatchObject({ name: 'threadpool', kernel: false });
  });

  test('threads and descriptors return to where they were after destroy', async () => {
    const threads0 = await settledCount(threads);
    const eventfds0 = await settledCount(eventfds);
    const ctxs = [setup(64), setup(64, { flags: SETUP_V2, backend: 'threadpool', threads: 3 }), setup(16, { backend: 'threadpool', threads: 1 })];
    // the threads are the process's, shared, and start as work comes: setup starts none
    expect(threads()).toBe(threads0);
    // and auto makes its kernel context (and that context's eventfd) only at the first O_DIRECT request
    expect(eventfds()).toBe(eventfds0);
    await useThenDestroy(ctxs);
    expect(await settledCount(threads, threads0)).toBe(threads0);
    expect(await settledCount(eventfds, eventfds0)).toBe(eventfds0);
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

// auto's kernel AIO path: where io_uring works auto takes it instead, so these run with AIORING_AUTO_URING=0
describeKernel('15 backends with kernel AIO', () => {
  let before: string | undefined;
  beforeAll(() => {
    before = process.env.AIORING_AUTO_URING;
    process.env.AIORING_AUTO_URING = '0';
  });
  afterAll(() => {
    if (before === undefined) delete process.env.AIORING_AUTO_URING;
    else process.env.AIORING_AUTO_URING = before;
  });

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

  test('auto makes its kernel AIO context at the first O_DIRECT request, io_setup(nrEvents) as asked: none before, one after, and ctx.backend says which', async () => {
    const rings0 = kernelRings();
    const eventfds0 = await settledCount(eventfds);
    const fd = directFile();
    const buffered = path.join(tempDir(), 'buffered');
    fs.writeFileSync(buffered, Buffer.alloc(4096, 3));
    const bfd = fs.openSync(buffered, 'r');
    const c = setup(64);
    try {
      expect(c.backend).toMatchObject({ name: 'auto', kernel: false, reason: expect.stringMatching(/^O_DIRECT reads and writes go to kernel AIO, its context made at the first one/) });
      // buffered I/O, fsync and noop never need one
      const small = Buffer.alloc(4096);
      expect(await c.read(bfd, small, 0)).toBe(4096);
      c.submit([{ opcode: 'noop', fd: 0 }]);
      await c.getEvents(1, 1, 5000);
      expect(kernelRings()).toEqual(rings0);
      expect(eventfds()).toBe(eventfds0);

      const buf = alignedBuffer(4096);
      expect(await c.read(fd, buf, 4096)).toBe(4096);
      expect(buf.every((b) => b === 5)).toBe(true);
      // one kernel ring, the size io_setup(64) maps, and its eventfd (with the mover's own)
      const k = new addon.KernelContext(64);
      const withReference = kernelRings();
      k.destroy();
      const ours = kernelRings();
      expect(ours.length).toBe(rings0.length + 1);
      expect(withReference.length).toBe(rings0.length + 2);
      expect([...ours, ...ours.filter((size) => !rings0.includes(size))].sort((a, b) => a - b)).toEqual(withReference);
      expect(eventfds()).toBe(eventfds0 + 2);
      expect(c.backend).toMatchObject({ name: 'auto', kernel: true, reason: expect.stringMatching(/^O_DIRECT reads and writes go to kernel AIO;/) });
      // a second O_DIRECT request uses the same context
      expect(await c.read(fd, buf, 0)).toBe(4096);
      expect(kernelRings()).toEqual(ours);
    } finally {
      c.destroy();
      await c.closed;
      fs.closeSync(fd);
      fs.closeSync(bfd);
    }
    expect(kernelRings()).toEqual(rings0);
    expect(eventfds()).toBe(eventfds0);
  });

  test('past aio-max-nr io_setup is EAGAIN: auto sends that O_DIRECT request and every one after it to the pool, and says so', async () => {
    const max = Number(fs.readFileSync('/proc/sys/fs/aio-max-nr', 'utf8'));
    // the engine asks io_setup for the caller's nrEvents: past aio-max-nr, io_setup always refuses
    const c = setup(max + 1, { backend: 'auto' });
    const fd = directFile();
    try {
      expect(c.capacity).toBeGreaterThan(max);
      expect(c.backend).toMatchObject({ name: 'auto', kernel: false });
      const buf = alignedBuffer(4096);
      expect(await c.read(fd, buf, 0)).toBe(4096);
      expect(buf.every((b) => b === 5)).toBe(true);
      expect(c.backend).toMatchObject({ name: 'threadpool', kernel: false, reason: expect.stringMatching(/^io_setup failed with EAGAIN at the first O_DIRECT request/) });
      expect(await c.read(fd, buf, 4096)).toBe(4096);
    } finally {
      c.destroy();
      fs.closeSync(fd);
    }
    expect(() => setup(max + 1, { backend: 'kernel' })).toThrow(expect.objectContaining({ code: 'EAGAIN', syscall: 'io_setup' }));
  });
});

describeUring('15 backends with io_uring', () => {
  test.each(['ENOSYS', 'EPERM'])(
    'io_uring_setup failing with %s under a seccomp filter: features() says so, uring is refused, auto keeps kernel AIO and the pool and says why',
    (errno) => {
      const file = path.join(directDir(), 'direct');
      fs.writeFileSync(file, Buffer.alloc(4096, 5));
      const out = execFileSync(denyIoSetup, ['--uring', errno, process.execPath, '-r', tsRequire, path.join(__dirname, 'workers', 'backendReport.ts'), file], {
        encoding: 'utf8',
      });
      const report = JSON.parse(out);
      expect(report.features).toMatchObject({ uring: false, uringError: errno });
      expect(report.uring).toEqual({ error: errno });
      const why = `; io_uring refused here (io_uring_setup: ${errno})`;
      expect(report.autoAtSetup).toMatchObject({ name: 'auto', uring: false, kernel: false });
      expect(report.autoAtSetup.reason).toMatch(/^O_DIRECT reads and writes go to kernel AIO, its context made at the first one/);
      expect(report.autoAtSetup.reason.endsWith(why)).toBe(true);
      // its O_DIRECT read went to kernel AIO, made for it
      expect(report.directRead).toEqual({ bytes: 4096, fives: true });
      expect(report.auto).toMatchObject({ name: 'auto', uring: false, kernel: true });
      expect(report.auto.reason.endsWith(why)).toBe(true);
      expect(report.threadpool).toMatchObject({ name: 'threadpool', uring: false });
    },
  );

  test.each(['ENOSYS', 'EPERM'])('io_setup failing with %s under a seccomp filter, io_uring allowed: auto sends O_DIRECT to io_uring, not the pool, and says so', (errno) => {
    const file = path.join(directDir(), 'direct');
    fs.writeFileSync(file, Buffer.alloc(4096, 5));
    const out = execFileSync(denyIoSetup, [errno, process.execPath, '-r', tsRequire, path.join(__dirname, 'workers', 'backendReport.ts'), file], {
      encoding: 'utf8',
      env: { ...process.env, AIORING_AUTO_URING: '' },
    });
    const report = JSON.parse(out);
    expect(report.autoAtSetup).toMatchObject({ name: 'auto', uring: true, kernel: false, reason: expect.stringMatching(/^io_uring works here/) });
    expect(report.directRead).toEqual({ bytes: 4096, fives: true });
    expect(report.auto).toMatchObject({ name: 'auto', uring: true, kernel: false, threads: 4 });
    expect(report.auto.reason).toMatch(new RegExp(`its ring made; fsync and fdsync go to the pool of 4 threads; io_setup failed with ${errno} at the first O_DIRECT request: O_DIRECT reads and writes go to io_uring$`));
    expect(report.kernel).toEqual({ error: errno });
  });

  test('threads and descriptors of uring contexts return to where they were after destroy', async () => {
    const threads0 = await settledCount(threads);
    const eventfds0 = await settledCount(eventfds);
    const rings0 = await settledCount(() => descriptorCount('anon_inode:[io_uring]'));
    const ctxs = [setup(64, { backend: 'uring' }), setup(64, { flags: SETUP_V2, backend: 'uring' })];
    // one descriptor each, the ring's own, in the process's one mover's epoll: one thread for all (and its own eventfd)
    expect(threads()).toBe(threads0 + 1);
    expect(descriptorCount('anon_inode:[io_uring]')).toBe(rings0 + 2);
    expect(eventfds()).toBe(eventfds0 + 1);
    await useThenDestroy(ctxs);
    expect(await settledCount(threads, threads0)).toBe(threads0);
    expect(await settledCount(eventfds, eventfds0)).toBe(eventfds0);
    expect(await settledCount(() => descriptorCount('anon_inode:[io_uring]'), rings0)).toBe(rings0);
  });
});
