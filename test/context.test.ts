// 11 contexts: setup, the opt-in flag, ring memory, capacity, waiting,
// promises, cancel and destroy.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AioContext, alignedBuffer, features, setup, SETUP_FLAGS, SETUP_KERNEL_REQS, SETUP_KERNEL_RING, SETUP_V2 } from '../src/context';
import { AioError } from '../src/errors';
import { EventBatch } from '../src/events';
import { IocbArray, IocbInit } from '../src/iocb';
import { AIORING_V2_MAGIC, FEAT_MULTI_CONSUMER, FEAT_MULTI_PRODUCER, FEAT_USER_REAP, V2Header } from '../src/layout';
import { LegacyRing } from '../src/legacyRing';
import { attachRingFile, createV2Ring } from '../src/memory';
import { legacyNr } from '../src/sizing';
import { V2Ring, v2RingBytes } from '../src/v2Ring';
import { describeKernel, directDir, tempDir } from './helpers';

const contexts: AioContext[] = [];
function ctxOf(n: number, options?: Parameters<typeof setup>[1]): AioContext {
  const c = setup(n, options);
  contexts.push(c);
  return c;
}
afterEach(() => {
  for (const c of contexts.splice(0)) c.destroy();
});

async function rejection(p: Promise<unknown>): Promise<AioError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AioError);
    return e as AioError;
  }
  throw new Error('expected a rejection');
}

function thrown(fn: () => unknown): AioError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AioError);
    return e as AioError;
  }
  throw new Error('expected a throw');
}

/**
 * A pipe whose read end never becomes readable until written; with
 * blocking, a read of it waits (its read end is opened O_RDWR, without
 * O_NONBLOCK, so opening it does not wait for a writer).
 */
function pipe(blocking = false): { r: number; w: number } {
  const dir = tempDir();
  const fifo = path.join(dir, 'fifo');
  require('node:child_process').execFileSync('mkfifo', [fifo]);
  const rfd = fs.openSync(fifo, blocking ? fs.constants.O_RDWR : fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const wfd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  return { r: rfd, w: wfd };
}

describe('11 contexts', () => {
  test('legacy by default, with the kernel sizing; v2 only with SETUP_V2', () => {
    const legacy = ctxOf(4);
    expect(legacy.layout).toBe('legacy');
    expect(legacy.ring).toBeInstanceOf(LegacyRing);
    expect((legacy.ring as LegacyRing).nr).toBe(legacyNr(4));
    expect(legacy.capacity).toBe(legacyNr(4) - 1);
    const v2 = ctxOf(100, { flags: SETUP_V2 });
    expect(v2.layout).toBe('v2');
    expect(v2.ring).toBeInstanceOf(V2Ring);
    expect((v2.ring as V2Ring).entries).toBe(128);
    expect(v2.capacity).toBe(128);
  });

  test('an unknown flag bit is EINVAL; features() advertises what is supported', () => {
    for (const bad of [1 << 5, 1 << 31 >>> 0, SETUP_FLAGS + 1]) {
      expect(thrown(() => setup(4, { flags: bad }))).toMatchObject({ code: 'EINVAL', field: 'flags' });
    }
    expect(thrown(() => setup(0))).toMatchObject({ code: 'EINVAL' });
    expect(thrown(() => setup(4, { flags: SETUP_V2 | SETUP_KERNEL_RING }))).toMatchObject({ code: 'EINVAL' });
    const f = features();
    expect(f.flags).toEqual({ SETUP_V2, SETUP_KERNEL_RING, SETUP_KERNEL_REQS, all: SETUP_FLAGS });
    expect(f.layouts).toEqual(['legacy', 'v2']);
    expect(f.backends.threadpool).toBe(true);
    expect(typeof f.backends.kernel).toBe('boolean');
    expect(f.memory).toEqual(['anonymous', 'file', 'buffer']);
  });

  test('the ring header records what was agreed: setup flags and the user-reap feature (F6)', () => {
    const mem = new SharedArrayBuffer(v2RingBytes(64));
    const reaping = ctxOf(64, { flags: SETUP_V2, memory: mem });
    const u32 = new Uint32Array(mem);
    expect(u32[V2Header.magic / 4]).toBe(AIORING_V2_MAGIC);
    expect(u32[V2Header.setup_flags / 4] & SETUP_V2).toBe(SETUP_V2);
    expect((reaping.ring as V2Ring).features & FEAT_USER_REAP).toBe(FEAT_USER_REAP);
    const notReaping = ctxOf(64, { flags: SETUP_V2, userReap: false });
    expect((notReaping.ring as V2Ring).features & FEAT_USER_REAP).toBe(0);
  });

  test("ring memory: a file in /dev/shm (0600, O_EXCL), attached by a second context after validation, the caller's buffers (v2 only, checked)", async () => {
    const dir = tempDir('/dev/shm');
    const file = path.join(dir, 'ring');
    const a = ctxOf(32, { flags: SETUP_V2, memory: { path: file } });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(thrown(() => setup(32, { flags: SETUP_V2, memory: { path: file } }))).toMatchObject({ code: 'EEXIST' });
    expect(a.submit([{ opcode: 'noop', fd: 0, data: 5 }])).toBe(1);
    const got = await a.getEvents(1, 1, 5000);
    expect(got[0].data).toBe(5);
    a.destroy();
    contexts.splice(contexts.indexOf(a), 1);
    // the file holds a valid ring: a new context adopts it
    const b = ctxOf(32, { flags: SETUP_V2, memory: { path: file, attach: true } });
    expect(b.submit([{ opcode: 'noop', fd: 0, data: 6 }])).toBe(1);
    expect((await b.getEvents(1, 1, 5000))[0].data).toBe(6);
    // a legacy context cannot adopt a v2 ring, nor any context garbage
    expect(thrown(() => setup(32, { memory: { path: file, attach: true } }))).toMatchObject({ code: 'EINVAL' });
    fs.writeFileSync(path.join(dir, 'junk'), Buffer.alloc(8192, 1));
    expect(thrown(() => setup(32, { flags: SETUP_V2, memory: { path: path.join(dir, 'junk'), attach: true } }))).toMatchObject({
      code: 'EINVAL',
    });
    // caller buffers: v2 only, big enough, 64-byte aligned
    expect(thrown(() => setup(32, { memory: new ArrayBuffer(1 << 16) }))).toMatchObject({ code: 'EINVAL', field: 'memory' });
    expect(thrown(() => setup(32, { flags: SETUP_V2, memory: new ArrayBuffer(600) }))).toMatchObject({ code: 'EINVAL', field: 'memory' });
    const big = alignedBuffer(1 << 16);
    expect(thrown(() => setup(32, { flags: SETUP_V2, memory: big.subarray(4) }))).toMatchObject({ code: 'EINVAL', field: 'memory' });
    const own = ctxOf(32, { flags: SETUP_V2, memory: big });
    own.submit([{ opcode: 'noop', fd: 0, data: 9 }]);
    await own.getEvents(1, 1, 5000);
    expect(new V2Ring(big).head).toBe(1);
    // the engine writes into a caller's buffer from its threads: a transfer cannot take it away, nor a resize
    const ab = new ArrayBuffer(v2RingBytes(32));
    const kept = ctxOf(32, { flags: SETUP_V2, memory: ab });
    try {
      structuredClone(ab, { transfer: [ab] }); // Node 20 copies an untransferable buffer
    } catch (e) {
      expect(e).toMatchObject({ name: 'DataCloneError' }); // later Node refuses
    }
    expect(ab.byteLength).toBe(v2RingBytes(32));
    kept.submit([{ opcode: 'noop', fd: 0, data: 10 }]);
    expect((await kept.getEvents(1, 1, 5000)).map((e) => e.data)).toEqual([10]);
    const resizable = new (ArrayBuffer as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(v2RingBytes(32), { maxByteLength: 1 << 20 });
    expect(thrown(() => setup(32, { flags: SETUP_V2, memory: resizable }))).toMatchObject({ code: 'EINVAL', field: 'memory' });
  });

  test('a ring file made elsewhere (createV2Ring) is adopted with its events kept', async () => {
    const dir = tempDir('/dev/shm');
    const file = path.join(dir, 'made');
    const made = createV2Ring(64, { kind: 'file', path: file });
    made.ring.produce({ data: 77, res: 0 });
    made.mapping.release();
    const c = ctxOf(64, { flags: SETUP_V2, memory: { path: file, attach: true } });
    expect(c.capacity).toBe(64);
    c.submit([{ opcode: 'noop', fd: 0, data: 78 }]);
    const got = await c.getEvents(2, 2, 5000);
    expect(got.map((e) => e.data)).toEqual([77, 78]);
  });

  test('a multi-producer or multi-consumer ring file is not adopted (a context produces and reaps alone): EINVAL, the file left as it was', () => {
    // removed here rather than at exit: this file's tempDirs already reach the exit-listener limit
    const dir = fs.mkdtempSync(path.join('/dev/shm', 'aioring-test-'));
    try {
      for (const [name, feature] of [
        ['multi-producer', FEAT_MULTI_PRODUCER],
        ['multi-consumer', FEAT_MULTI_CONSUMER],
      ] as const) {
        const file = path.join(dir, name);
        createV2Ring(64, { kind: 'file', path: file }, { features: feature | FEAT_USER_REAP }).mapping.release();
        const before = fs.readFileSync(file);
        expect([name, thrown(() => setup(64, { flags: SETUP_V2, memory: { path: file, attach: true } })).code]).toEqual([name, 'EINVAL']);
        expect(fs.readFileSync(file)).toEqual(before);
        const again = attachRingFile(file);
        expect(again.ring).toBeInstanceOf(V2Ring);
        again.mapping.release();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each([
    ['legacy', 0],
    ['v2', SETUP_V2],
  ])('%s: a batch refused for a bad iocb takes no slot, however often', async (_name, flags) => {
    const c = ctxOf(8, { flags, backend: 'threadpool' });
    for (let i = 0; i < 3 * c.capacity; i++) {
      expect(thrown(() => c.submit([{ opcode: 'noop', fd: 0 }, { opcode: 'bogus' as 'noop', fd: 0 }]))).toMatchObject({ code: 'EINVAL' });
    }
    const all: IocbInit[] = Array.from({ length: c.capacity }, (_, i) => ({ opcode: 'noop', fd: 0, data: i }));
    expect(c.submit(all)).toBe(c.capacity);
    const events = await c.getEvents(c.capacity, c.capacity, 5000);
    expect(events.map((e) => Number(e.data)).sort((a, b) => a - b)).toEqual(all.map((_, i) => i));
  });

  test.each([
    ['legacy', 0, legacyNr(1) - 1],
    ['v2', SETUP_V2, 8],
  ])('%s: EAGAIN once in-flight plus unreaped reach the capacity', async (_name, flags, capacity) => {
    const c = ctxOf(flags ? 8 : 1, { flags, backend: 'threadpool' });
    expect(c.capacity).toBe(capacity);
    const p = pipe();
    // two noops complete and sit unreaped in the ring
    expect(c.submit([{ opcode: 'noop', fd: 0 }, { opcode: 'noop', fd: 0 }])).toBe(2);
    while (c.inflight > 0) await new Promise((r) => setTimeout(r, 1));
    // polls that never complete stay in flight; one more than fits is refused
    const polls: IocbInit[] = Array.from({ length: capacity - 1 }, (_, i) => ({ opcode: 'poll', fd: p.r, events: 1, data: i }));
    expect(c.submit(polls)).toBe(capacity - 2);
    expect(thrown(() => c.submit([{ opcode: 'noop', fd: 0 }]))).toMatchObject({ code: 'EAGAIN', syscall: 'io_submit' });
    const two = await c.getEvents(2, 2, 5000);
    expect(two).toHaveLength(2);
    expect(c.submit([{ opcode: 'poll', fd: p.r, events: 1 }])).toBe(1);
    c.destroy();
    fs.closeSync(p.r);
    fs.closeSync(p.w);
  });

  /**
   * Keep depth noops in flight, resubmitting what is reaped, until total
   * have completed: how many submits were refused (EAGAIN or short).
   */
  function refusedKeepingInFlight(c: AioContext, depth: number, total: number): number {
    const reqs = new IocbArray(depth);
    for (let i = 0; i < depth; i++) reqs.setPlain(i, 'noop', 0, i);
    const batch = new EventBatch(depth);
    let outstanding = 0;
    let completed = 0;
    let refused = 0;
    while (completed < total) {
      const room = depth - outstanding;
      if (room > 0) {
        let queued = 0;
        try {
          queued = c.submitArray(reqs, room);
        } catch (e) {
          if ((e as AioError).code !== 'EAGAIN') throw e;
        }
        if (queued < room) refused++;
        outstanding += queued;
      }
      const n = c.reap(batch);
      outstanding -= n;
      completed += n;
    }
    return refused;
  }

  test.each([
    ['legacy', 0],
    ['v2', SETUP_V2],
  ])('%s: what was reaped can be submitted again at once: no EAGAIN below the capacity while producers return slots', (_name, flags) => {
    const c = ctxOf(flags ? 128 : 1, { flags, backend: 'threadpool', threads: 4 });
    expect(refusedKeepingInFlight(c, c.capacity, 1_000_000)).toBe(0);
  });

  test("SETUP_KERNEL_REQS counts as the kernel does and keeps io_setup's promise: n in flight never refused, completions on the pool's CPUs", () => {
    expect(thrown(() => setup(4, { flags: SETUP_KERNEL_REQS | SETUP_KERNEL_RING }))).toMatchObject({ code: 'EINVAL' });
    for (const n of [1, 32, 200]) {
      const c = ctxOf(n, { flags: SETUP_KERNEL_REQS, backend: 'threadpool', threads: 4 });
      expect([n, refusedKeepingInFlight(c, n, 200_000)]).toEqual([n, 0]);
      // a v2 ring counted so takes what the kernel's ring of io_setup(n) takes
      const v2 = ctxOf(n, { flags: SETUP_KERNEL_REQS | SETUP_V2, backend: 'threadpool', threads: 4 });
      expect([n, v2.capacity, refusedKeepingInFlight(v2, n, 200_000)]).toEqual([n, c.capacity, 0]);
    }
  });

  test('getEvents waits without blocking the event loop, and the producer rings only for an announced waiter', async () => {
    const c = ctxOf(64, { backend: 'threadpool' });
    // no waiter: completions do not ring
    for (let i = 0; i < 20; i++) c.submit([{ opcode: 'noop', fd: 0 }]);
    while (c.inflight > 0) await new Promise((r) => setTimeout(r, 1));
    expect(c.wakeups).toBe(0);
    expect(await c.getEvents(20, 20, 1000)).toHaveLength(20);
    // a waiter: the event loop keeps turning while it waits, and is woken
    const p = pipe();
    c.submit([{ opcode: 'poll', fd: p.r, events: 1, data: 42 }]);
    const waiting = c.getEvents(1, 1);
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (++ticks === 5) {
          fs.writeSync(p.w, 'x');
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
    const [ev] = await waiting;
    expect(ticks).toBe(5);
    expect(ev.data).toBe(42);
    expect(ev.res & 1).toBe(1); // POLLIN
    expect(c.wakeups).toBeGreaterThan(0);
    fs.closeSync(p.r);
    fs.closeSync(p.w);
  });

  test('getEvents with events ready makes no native call', async () => {
    // one pool thread completes in submission order, so the events' order is known
    const c = ctxOf(64, { backend: 'threadpool', threads: 1 });
    c.submit(Array.from({ length: 10 }, (_, i) => ({ opcode: 'noop' as const, fd: 0, data: i })));
    while (c.inflight > 0) await new Promise((r) => setTimeout(r, 1));
    const internals = c as unknown as { native: Record<string, unknown> };
    const native = internals.native;
    const calls: string[] = [];
    internals.native = new Proxy(native, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v === 'function') {
          return (...args: unknown[]) => {
            calls.push(String(prop));
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        calls.push(String(prop));
        return v;
      },
    });
    const got = await c.getEvents(10, 10);
    const batch = new EventBatch(4);
    expect(c.reap(batch)).toBe(0);
    internals.native = native;
    expect(got.map((e) => e.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(calls).toEqual([]);
  });

  test('getEvents arguments follow io_getevents: min <= max, timeout 0 returns at once, a timeout returns what arrived', async () => {
    const c = ctxOf(8, { backend: 'threadpool' });
    expect(await rejection(c.getEvents(2, 1))).toMatchObject({ code: 'EINVAL' });
    expect(await rejection(c.getEvents(0, 0))).toMatchObject({ code: 'EINVAL' });
    expect(await rejection(c.getEvents(-1, 2))).toMatchObject({ code: 'EINVAL' });
    expect(await c.getEvents(1, 4, 0)).toEqual([]);
    c.submit([{ opcode: 'noop', fd: 0, data: 3 }]);
    const t0 = Date.now();
    const got = await c.getEvents(2, 4, 100);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(got.map((e) => e.data)).toEqual([3]);
  });

  test('data cookies come back exact: a number up to 2^53 - 1, a bigint past it, whether waited for or ready', async () => {
    const c = ctxOf(16, { backend: 'threadpool' });
    const cookies: (number | bigint)[] = [0, 1, 2 ** 32, 2 ** 53 - 1, 2n ** 53n, 2n ** 53n + 1n, 0xfedcba9876543210n, 2n ** 64n - 1n];
    const expected = cookies.map((d) => (typeof d === 'bigint' && d <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(d) : d));
    // a waiter announced before the events arrive (the wakeup's path), then events already in the ring
    for (const waitFirst of [true, false]) {
      const pending = waitFirst ? c.getEvents(cookies.length, cookies.length, 5000) : undefined;
      c.submit(cookies.map((data) => ({ opcode: 'noop' as const, fd: 0, data })));
      if (!waitFirst) while (c.inflight > 0) await new Promise((r) => setTimeout(r, 1));
      const got = await (pending ?? c.getEvents(cookies.length, cookies.length, 5000));
      const data = got.map((e) => e.data);
      // toEqual tells 5 from 5n: each cookie is back with its exact value and type
      expect([...data].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(expected);
    }
  });

  test('read, write and fsync resolve with the result and reject like node:fs errors', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'hello world');
    const fd = fs.openSync(file, 'r+');
    const c = ctxOf(16);
    expect(await c.write(fd, Buffer.from('HELLO'), 0)).toBe(5);
    expect(await c.fsync(fd)).toBe(0);
    const buf = Buffer.alloc(11);
    expect(await c.read(fd, buf, 0)).toBe(11);
    expect(buf.toString()).toBe('HELLO world');
    const dfd = fs.openSync(dir, 'r');
    expect(await rejection(c.read(dfd, Buffer.alloc(8), 0))).toMatchObject({ code: 'EISDIR', errno: -21, syscall: 'read' });
    fs.closeSync(dfd);
    fs.closeSync(fd);
    expect(await rejection(c.read(fd, buf, 0))).toMatchObject({ code: 'EBADF', syscall: 'read', message: 'EBADF: bad file descriptor, read' });
  });

  test('cancel: a queued request completes with ECANCELED; a running one is EAGAIN; an unknown one EINVAL', async () => {
    const c = ctxOf(32, { backend: 'threadpool', threads: 1 });
    const p = pipe(true);
    // a read of an empty pipe holds the only worker (a poll would not: polls wait in the poll service)
    const running: IocbInit = { opcode: 'pread', fd: p.r, buffer: Buffer.alloc(1), position: 0, data: 1 };
    const queued: IocbInit = { opcode: 'noop', fd: 0, data: 2 };
    expect(c.submit([running, queued])).toBe(2);
    while (c.inflight > 0 && (await new Promise((r) => setTimeout(r, 5))) === undefined) {
      if (c.inflight === 2) break;
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(thrown(() => c.cancel(running))).toMatchObject({ code: 'EAGAIN' });
    c.cancel(queued);
    const [ev] = await c.getEvents(1, 1, 5000);
    expect(ev).toMatchObject({ data: 2, res: -125, iocb: queued });
    expect(thrown(() => c.cancel(queued))).toMatchObject({ code: 'EINVAL' });
    expect(thrown(() => c.cancel({ opcode: 'noop', fd: 0 }))).toMatchObject({ code: 'EINVAL' });
    fs.writeSync(p.w, 'x');
    expect((await c.getEvents(1, 1, 5000))[0].data).toBe(1);
    fs.closeSync(p.r);
    fs.closeSync(p.w);
  });

  test('destroy cancels queued requests, settles waiters and promises; every later call is EINVAL', async () => {
    const c = setup(32, { backend: 'threadpool', threads: 1 });
    const p = pipe();
    const file = fs.openSync(path.join(tempDir(), 'f'), 'w+');
    c.submit([{ opcode: 'poll', fd: p.r, events: 1, data: 1 }]);
    // the poll holds no worker (it waits in the poll service): the fsync
    // either ran or is cancelled by destroy, and settles once either way
    const read = c.fsync(file).then(
      (n) => n,
      (e: AioError) => e.code,
    );
    const waiting = c.getEvents(5, 5);
    await new Promise((r) => setTimeout(r, 20));
    c.destroy();
    expect([0, 'ECANCELED']).toContain(await read);
    const got = await waiting;
    expect(got.map((e) => [e.data, e.res])).toEqual([[1, -125]]);
    expect(thrown(() => c.submit([{ opcode: 'noop', fd: 0 }]))).toMatchObject({ code: 'EINVAL', syscall: 'io_submit' });
    expect(await rejection(c.getEvents(0, 1))).toMatchObject({ code: 'EINVAL' });
    expect(await rejection(c.read(0, Buffer.alloc(1)))).toMatchObject({ code: 'EINVAL' });
    expect(thrown(() => c.reap(new EventBatch(1)))).toMatchObject({ code: 'EINVAL' });
    expect(thrown(() => c.inflight)).toMatchObject({ code: 'EINVAL' });
    c.destroy();
    fs.closeSync(p.r);
    fs.closeSync(p.w);
    fs.closeSync(file);
  });

  test('bad requests are typed errors: unknown opcode, missing buffer, bad fd, a buffer too small', () => {
    const c = ctxOf(8);
    expect(thrown(() => c.submit([{ opcode: 'bogus' as 'noop', fd: 0 }]))).toMatchObject({ code: 'EINVAL', field: 'opcode' });
    expect(thrown(() => c.submit([{ opcode: 'pread', fd: 0 }]))).toMatchObject({ code: 'EINVAL', field: 'buffer' });
    expect(thrown(() => c.submit([{ opcode: 'pread', fd: -1, buffer: Buffer.alloc(1) }]))).toMatchObject({ code: 'EINVAL', field: 'fd' });
    expect(thrown(() => c.submit([{ opcode: 'pread', fd: 1 << 20, buffer: Buffer.alloc(1) }]))).toMatchObject({ code: 'EBADF' });
    expect(thrown(() => c.submit('x' as unknown as IocbInit[]))).toMatchObject({ code: 'EINVAL' });
    expect(c.submit([])).toBe(0);
    // a first good iocb is queued, the bad second one is not: like io_submit
    expect(c.submit([{ opcode: 'noop', fd: 0 }, { opcode: 'pread', fd: 1 << 20, buffer: Buffer.alloc(1) }])).toBe(1);
  });
});

describeKernel('11 contexts with kernel AIO', () => {
  test('passthrough: the context ring is the kernel ring itself', async () => {
    const c = ctxOf(16, { flags: SETUP_KERNEL_RING });
    expect(c.backend.name).toBe('kernel-ring');
    expect((c.ring as LegacyRing).nr).toBe(legacyNr(16));
    const file = path.join(tempDir('/dev/shm'), 'f');
    fs.writeFileSync(file, Buffer.alloc(8192, 3));
    const fd = fs.openSync(file, 'r');
    const bufs = [Buffer.alloc(4096), Buffer.alloc(4096)];
    expect(c.submit(bufs.map((buffer, i) => ({ opcode: 'pread' as const, fd, buffer, position: i * 4096, data: 10 + i })))).toBe(2);
    const got = await c.getEvents(2, 2, 5000);
    expect(got.map((e) => [e.data, e.res])).toEqual([
      [10, 4096],
      [11, 4096],
    ]);
    expect(bufs[1][4095]).toBe(3);
    fs.closeSync(fd);
  });

  test.each([
    ['passthrough', SETUP_KERNEL_RING],
    ['legacy', 0],
    ['v2', SETUP_V2],
  ])('%s: after completions nobody waited for (the eventfd poll stops), the next wait is still woken', async (_name, flags) => {
    const dir = directDir();
    const file = path.join(dir, 'direct');
    const data = alignedBuffer(64 * 4096);
    for (let b = 0; b < 64; b++) data.fill(b, b * 4096, (b + 1) * 4096);
    fs.writeFileSync(file, data);
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
    const c = ctxOf(16, { backend: 'kernel', flags });
    try {
      const buf = alignedBuffer(4096);
      for (let round = 0; round < 20; round++) {
        // a waited-for read: the poll holds the loop, then is left running
        c.submit([{ opcode: 'pread', fd, buffer: buf, position: (round % 64) * 4096, data: round }]);
        const got = await c.getEvents(1, 1, 5000);
        expect(got.map((e) => [e.data, e.res])).toEqual([[round, 4096]]);
        expect(buf[0]).toBe(round % 64);
        // a read nobody waits for: its wakeup finds no waiter and stops the poll
        c.submit([{ opcode: 'pread', fd, buffer: buf, position: ((round + 1) % 64) * 4096, data: 100 + round }]);
        await new Promise((r) => setTimeout(r, 5));
        const late = await c.getEvents(1, 1, 5000);
        expect(late.map((e) => [e.data, e.res])).toEqual([[100 + round, 4096]]);
      }
    } finally {
      fs.closeSync(fd);
    }
  });

  test('backend reports what runs and why', () => {
    // auto makes its kernel AIO context at its first O_DIRECT request (test/backends.test.ts)
    expect(ctxOf(8).backend).toMatchObject({ name: 'auto', kernel: false, threads: 4 });
    expect(ctxOf(8, { backend: 'kernel' }).backend).toMatchObject({ name: 'kernel', kernel: true, threads: 0 });
    expect(ctxOf(8, { backend: 'threadpool', threads: 2 }).backend).toMatchObject({ name: 'threadpool', kernel: false, threads: 2 });
  });
});
