// 37 group commit: datasync/fsync calls queued while a sync runs share the
// next one, and each resolves only after a sync that began after its
// writes completed. The proof uses the engine's own record of the syncs it
// ran (ctx.syncStats(): CLOCK_MONOTONIC, the clock of process.hrtime), on
// the thread pool and on io_uring.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AIORING_RWF_GROUP } from '../src/abi';
import { AioContext, AioError, dsyncWrite, groupDatasync, groupFsync, groupWrite, IoEventResult, setup, SyncRecord } from '../src/index';
import { describeUring, removeTempDirs, tempDir } from './helpers';

const RWF_DSYNC = 2;

interface Commit {
  /** process.hrtime once the commit's write had resolved: at or after its completion */
  writesDone: bigint;
  /** once the commit's promise had resolved */
  resolved: bigint;
}

/** The sync that served a commit: one on fd that started after its writes and ended before it resolved. */
function servedBy(records: SyncRecord[], fd: number, c: Commit): SyncRecord | undefined {
  return records.find((r) => r.fd === fd && r.start > c.writesDone && r.end <= c.resolved);
}

describe('37 group commit', () => {
  const dir = tempDir();
  let ctx: AioContext;
  let n = 0;
  const open = (): number => fs.openSync(path.join(dir, `f${n++}`), 'w+');

  beforeEach(() => {
    ctx = setup(256);
  });
  afterEach(() => ctx.destroy());
  afterAll(removeTempDirs);

  test('16 calls made while a sync runs are served by one more fdatasync, and each after its writes', async () => {
    const fd = open();
    const rounds = 6;
    const commits: Commit[] = [];
    for (let round = 0; round < rounds; round++) {
      await Promise.all(Array.from({ length: 16 }, (_, w) => ctx.write(fd, Buffer.alloc(4096, w + round), (round * 16 + w) * 4096)));
      const writesDone = process.hrtime.bigint();
      // the first starts a sync at once; the 15 made while it runs wait for the next
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          await groupDatasync(ctx, fd);
          commits.push({ writesDone, resolved: process.hrtime.bigint() });
        }),
      );
    }
    const stats = ctx.syncStats();
    expect(stats.fdatasyncs).toBe(2 * rounds);
    expect(stats.fsyncs).toBe(0);
    expect(stats.records).toHaveLength(2 * rounds);
    for (const c of commits) expect(servedBy(stats.records, fd, c)).toBeDefined();
    fs.closeSync(fd);
  });

  test('16 writers, each write 4 KiB then datasync, 20 times: every commit proved, fewer syncs than calls', async () => {
    const fd = open();
    const commits: Commit[] = [];
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; i < 20; i++) {
        expect(await ctx.write(fd, Buffer.alloc(4096, w), (i * 16 + w) * 4096)).toBe(4096);
        const writesDone = process.hrtime.bigint();
        await groupDatasync(ctx, fd);
        commits.push({ writesDone, resolved: process.hrtime.bigint() });
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, w) => writer(w)));
    const stats = ctx.syncStats();
    expect(commits).toHaveLength(320);
    expect(stats.fdatasyncs).toBeLessThanOrEqual(256); // every record kept
    expect(stats.fdatasyncs).toBeLessThan(commits.length);
    expect(stats.records).toHaveLength(stats.fdatasyncs);
    for (const c of commits) expect(servedBy(stats.records, fd, c)).toBeDefined();
    const back = fs.readFileSync(path.join(dir, `f${n - 1}`));
    for (let i = 0; i < 20; i++) for (let w = 0; w < 16; w++) expect(back[(i * 16 + w) * 4096]).toBe(w);
    fs.closeSync(fd);
  });

  test('a write completed while a sync runs waits for the next sync', async () => {
    const fd = open();
    // dirty data, so that the first sync takes a while
    await ctx.write(fd, Buffer.alloc(32 << 20, 1), 0);
    const first = groupDatasync(ctx, fd);
    await ctx.write(fd, Buffer.alloc(4096, 2), 32 << 20);
    const writesDone = process.hrtime.bigint();
    await groupDatasync(ctx, fd);
    const c: Commit = { writesDone, resolved: process.hrtime.bigint() };
    await first;
    expect(servedBy(ctx.syncStats().records, fd, c)).toBeDefined();
    fs.closeSync(fd);
  });

  test('fsync: a group with an fsync call runs fsync, which serves the datasync calls too', async () => {
    const fd = open();
    await ctx.write(fd, Buffer.alloc(4096, 3), 0);
    const running = groupDatasync(ctx, fd);
    const queued = [groupDatasync(ctx, fd), groupFsync(ctx, fd), groupDatasync(ctx, fd)];
    await Promise.all([running, ...queued]);
    const stats = ctx.syncStats();
    expect([stats.fdatasyncs, stats.fsyncs]).toEqual([1, 1]);
    expect(stats.records.map((r) => r.op)).toEqual(['fdatasync', 'fsync']);
    fs.closeSync(fd);
  });

  test('files are committed apart: a sync on one file serves no call on another', async () => {
    const a = open();
    const b = open();
    await Promise.all([groupDatasync(ctx, a), groupDatasync(ctx, b), groupDatasync(ctx, a), groupDatasync(ctx, b)]);
    const fds = ctx.syncStats().records.map((r) => r.fd);
    expect(fds.filter((fd) => fd === a)).toHaveLength(2);
    expect(fds.filter((fd) => fd === b)).toHaveLength(2);
    fs.closeSync(a);
    fs.closeSync(b);
  });

  test('resolves undefined; each call settles exactly once, also after an error', async () => {
    const fd = open();
    const settled: string[] = [];
    const calls = Array.from({ length: 8 }, (_, i) =>
      groupDatasync(ctx, fd).then(
        (v) => settled.push(`${i} ok ${v}`),
        () => settled.push(`${i} error`),
      ),
    );
    await Promise.all(calls);
    expect(settled.sort()).toEqual(Array.from({ length: 8 }, (_, i) => `${i} ok undefined`).sort());
    fs.closeSync(fd);
  });

  test('a closed fd: every call of the group rejects with EBADF, as fs.fdatasync does', async () => {
    const fd = open();
    fs.closeSync(fd);
    const expected = await new Promise<NodeJS.ErrnoException | null>((resolve) => fs.fdatasync(fd, resolve));
    expect(expected?.code).toBe('EBADF');
    const results = await Promise.allSettled([groupDatasync(ctx, fd), groupDatasync(ctx, fd), groupFsync(ctx, fd)]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const e = (r as PromiseRejectedResult).reason as AioError;
      expect(e).toBeInstanceOf(AioError);
      expect([e.code, e.errno]).toEqual(['EBADF', -9]);
    }
    expect(((results[2] as PromiseRejectedResult).reason as AioError).syscall).toBe('fsync');
    // nothing of the failed group is left behind: the next calls on a good fd commit
    const again = open();
    await ctx.write(again, Buffer.from('x'), 0);
    await Promise.all([groupDatasync(ctx, again), groupDatasync(ctx, again)]);
    expect(ctx.syncStats().records.filter((r) => r.fd === again)).toHaveLength(2);
    fs.closeSync(again);
  });

  test('the fd closed while calls wait: the waiting group rejects EBADF, the running call settles once', async () => {
    const fd = open();
    await ctx.write(fd, Buffer.alloc(8 << 20, 1), 0);
    const running = groupDatasync(ctx, fd).then(
      () => 'ok',
      (e: AioError) => e.code,
    );
    const waiting = [groupDatasync(ctx, fd), groupDatasync(ctx, fd)];
    fs.closeSync(fd);
    expect(['ok', 'EBADF']).toContain(await running);
    for (const r of await Promise.allSettled(waiting)) expect(((r as PromiseRejectedResult).reason as AioError).code).toBe('EBADF');
  });

  test('bad arguments reject as node:fs does', async () => {
    await expect(groupDatasync(ctx, -1)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(groupDatasync(ctx, 'x' as unknown as number)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(groupFsync(ctx, 1.5)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  });

  test('dsyncWrite: RWF_DSYNC writes, durable without any fdatasync', async () => {
    const fd = open();
    expect(RWF_DSYNC).toBe(2);
    expect(await dsyncWrite(ctx, fd, Buffer.from('durable'), 3)).toBe(7);
    expect(await dsyncWrite(ctx, fd, [Buffer.from('ab'), Buffer.from('c')], 0)).toBe(3);
    expect(fs.readFileSync(path.join(dir, `f${n - 1}`), 'latin1')).toBe('abcdurable');
    expect(ctx.syncStats().fdatasyncs).toBe(0);
    fs.closeSync(fd);
    await expect(dsyncWrite(ctx, fd, Buffer.from('x'), 0)).rejects.toMatchObject({ code: 'EBADF' });
  });

  test('syncStats counts the syncs ctx.datasync and ctx.fsync run, one each', async () => {
    const fd = open();
    await ctx.datasync(fd);
    await ctx.fsync(fd);
    await ctx.datasync(fd);
    const stats = ctx.syncStats();
    expect([stats.fdatasyncs, stats.fsyncs]).toEqual([2, 1]);
    for (const r of stats.records) expect(r.end).toBeGreaterThanOrEqual(r.start);
    fs.closeSync(fd);
  });
});

/**
 * Grouped writes submitted raw, so that each event's res2 (when the engine
 * saw its write complete) is seen: one reaper hands each event to its
 * writer by data.
 */
class RawGroupWriter {
  private readonly waiting = new Map<number, (e: IoEventResult) => void>();
  private next = 1;
  private reaping = false;
  constructor(private readonly ctx: AioContext) {}

  write(fd: number, buffer: Buffer, position: number): Promise<IoEventResult> {
    const data = this.next++;
    const done = new Promise<IoEventResult>((resolve) => this.waiting.set(data, resolve));
    expect(this.ctx.submit([{ opcode: 'pwrite', fd, buffer, position, data, rwFlags: AIORING_RWF_GROUP }])).toBe(1);
    if (!this.reaping) void this.reap();
    return done;
  }

  private async reap(): Promise<void> {
    this.reaping = true;
    while (this.waiting.size > 0) {
      for (const e of await this.ctx.getEvents(1, 64)) {
        const resolve = this.waiting.get(Number(e.data))!;
        this.waiting.delete(Number(e.data));
        resolve(e);
      }
    }
    this.reaping = false;
  }
}

/** The sync that served a grouped write: started after the write completed (res2), ended before it was reaped. */
function servedWrite(records: SyncRecord[], fd: number, e: IoEventResult, reaped: bigint): SyncRecord | undefined {
  expect(Number.isSafeInteger(e.res2)).toBe(true);
  const written = BigInt(e.res2);
  return records.find((r) => r.fd === fd && r.start > written && r.end <= reaped);
}

describe('37 group commit in the engine: grouped requests, groupWrite', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });
  let n = 0;
  const file = (): string => path.join(dir, `g${n++}`);
  afterAll(removeTempDirs);

  test('16 writers, each a grouped 4 KiB write, 20 times: each served by a sync that started after the engine saw it written', async () => {
    const ctx = setup(256);
    const name = file();
    const fd = fs.openSync(name, 'w+');
    try {
      const raw = new RawGroupWriter(ctx);
      const served: [IoEventResult, bigint][] = [];
      const writer = async (w: number): Promise<void> => {
        for (let i = 0; i < 20; i++) {
          const e = await raw.write(fd, Buffer.alloc(4096, w + 1), (i * 16 + w) * 4096);
          served.push([e, process.hrtime.bigint()]);
        }
      };
      await Promise.all(Array.from({ length: 16 }, (_, w) => writer(w)));
      const stats = ctx.syncStats();
      expect(served).toHaveLength(320);
      expect(stats.fsyncs).toBe(0);
      expect(stats.fdatasyncs).toBeLessThan(served.length);
      expect(stats.records).toHaveLength(stats.fdatasyncs);
      for (const [e, reaped] of served) {
        expect(e.res).toBe(4096);
        expect(servedWrite(stats.records, fd, e, reaped)).toBeDefined();
      }
      const back = fs.readFileSync(name);
      for (let i = 0; i < 20; i++) for (let w = 0; w < 16; w++) expect(back[(i * 16 + w) * 4096]).toBe(w + 1);
    } finally {
      ctx.destroy();
      fs.closeSync(fd);
    }
  });

  test('a lone writer is never delayed: one fdatasync per commit, the commit delay not taken, groupWrite and write + groupDatasync', async () => {
    const ctx = setup(256);
    const name = file();
    const fd = fs.openSync(name, 'w+');
    try {
      const commits = 40;
      for (let i = 0; i < commits; i++) {
        const e = await groupWrite(ctx, fd, Buffer.alloc(4096, 1), i * 4096);
        expect(e).toBe(4096);
      }
      for (let i = 0; i < commits; i++) {
        await ctx.write(fd, Buffer.alloc(4096, 2), (commits + i) * 4096);
        await groupDatasync(ctx, fd);
      }
      const stats = ctx.syncStats();
      // each commit found no sync running and started its own: nobody else to wait for
      expect(stats.fdatasyncs).toBe(2 * commits);
      expect(stats.delays).toBe(0);
    } finally {
      ctx.destroy();
      fs.closeSync(fd);
    }
  });

  test('a writer left alone after 15 others stop is held at most twice, then syncs alone: one fdatasync per commit', async () => {
    const ctx = setup(256);
    const fd = fs.openSync(file(), 'w+');
    try {
      let others = 15;
      let alone: { fdatasyncs: number; delays: number } | undefined;
      const lone: number[] = [];
      const writer = async (w: number, commits: number): Promise<void> => {
        for (let i = 0; i < commits; i++) {
          await groupWrite(ctx, fd, Buffer.alloc(4096, w + 1), (i * 16 + w) * 4096);
          if (w === 0 && alone) lone.push(i);
        }
      };
      const first = writer(0, 60);
      await Promise.all(
        Array.from({ length: 15 }, async (_, k) => {
          await writer(k + 1, 20);
          if (--others === 0) alone = { ...ctx.syncStats() };
        }),
      );
      await first;
      const end = ctx.syncStats();
      expect(alone).toBeDefined();
      // the commits writer 0 made once alone: no one else to wait for after the group lets go
      expect(lone.length).toBeGreaterThan(10);
      expect(end.delays - alone!.delays).toBeLessThanOrEqual(2);
      expect(end.fdatasyncs - alone!.fdatasyncs).toBeGreaterThanOrEqual(lone.length - 1);
      expect(end.fdatasyncs - alone!.fdatasyncs).toBeLessThanOrEqual(lone.length + 1);
    } finally {
      ctx.destroy();
      fs.closeSync(fd);
    }
  });

  test('grouped writes made while a long sync runs are written after it and served by a later one', async () => {
    const ctx = setup(256);
    const fd = fs.openSync(file(), 'w+');
    try {
      const raw = new RawGroupWriter(ctx);
      await ctx.write(fd, Buffer.alloc(32 << 20, 1), 0);
      // its sync has 32 MiB to write back: the 16 below are submitted while it runs
      const first = raw.write(fd, Buffer.alloc(4096, 2), 32 << 20);
      await new Promise((r) => setTimeout(r, 1));
      const rest = Array.from({ length: 16 }, (_, w) => raw.write(fd, Buffer.alloc(4096, 3), (32 << 20) + (w + 1) * 4096).then((e) => [e, process.hrtime.bigint()] as const));
      const firstDone = await first;
      const reaped = process.hrtime.bigint();
      const all = await Promise.all(rest);
      const records = ctx.syncStats().records;
      expect(servedWrite(records, fd, firstDone, reaped)).toBeDefined();
      for (const [e, at] of all) {
        expect(e.res).toBe(4096);
        expect(servedWrite(records, fd, e, at)).toBeDefined();
      }
      expect(records.length).toBeLessThan(1 + all.length);
    } finally {
      ctx.destroy();
      fs.closeSync(fd);
    }
  });

  test('groupWrite resolves with the bytes written once a sync covers them; write errors and vectors as ctx.write', async () => {
    for (const options of [undefined, { backend: 'threadpool' as const, threads: 1 }]) {
      const ctx = setup(64, options);
      const name = file();
      const fd = fs.openSync(name, 'w+');
      try {
        expect(await groupWrite(ctx, fd, Buffer.from('durable'), 3)).toBe(7);
        expect(await groupWrite(ctx, fd, [Buffer.from('ab'), Buffer.from('c')], 0)).toBe(3);
        expect(fs.readFileSync(name, 'latin1')).toBe('abcdurable');
        const stats = ctx.syncStats();
        expect([stats.fdatasyncs, stats.fsyncs]).toEqual([2, 0]);
        const refused = await ctx.write(fd, Buffer.from('x'), -2).catch((e: AioError) => e.code);
        await expect(groupWrite(ctx, fd, Buffer.from('x'), -2)).rejects.toMatchObject({ code: refused });
        const ro = fs.openSync(name, 'r');
        await expect(groupWrite(ctx, ro, Buffer.from('x'), 0)).rejects.toMatchObject({ code: 'EBADF', syscall: 'write' });
        fs.closeSync(ro);
        expect(ctx.syncStats().fdatasyncs).toBe(2);
      } finally {
        ctx.destroy();
        fs.closeSync(fd);
      }
    }
  });

  test('the grouped flag is refused where the pool does not run it, and on other requests', async () => {
    const fd = fs.openSync(file(), 'w+');
    const contexts = [setup(16, { backend: 'kernel' }), setup(16)];
    try {
      const bad = (ctx: AioContext, cb: Parameters<AioContext['submit']>[0][0]): void => {
        expect(() => ctx.submit([cb])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      };
      bad(contexts[0], { opcode: 'fdsync', fd, rwFlags: AIORING_RWF_GROUP });
      bad(contexts[0], { opcode: 'pwrite', fd, buffer: Buffer.alloc(1), rwFlags: AIORING_RWF_GROUP });
      bad(contexts[1], { opcode: 'pread', fd, buffer: Buffer.alloc(1), rwFlags: AIORING_RWF_GROUP });
      bad(contexts[1], { opcode: 'fsync', fd, rwFlags: AIORING_RWF_GROUP | 2 });
      expect(contexts[1].inflight).toBe(0);
    } finally {
      for (const c of contexts) c.destroy();
      fs.closeSync(fd);
    }
  });

  test('destroy while grouped calls wait: each settles exactly once, written and synced or ECANCELED', async () => {
    const ctx = setup(256);
    const fd = fs.openSync(file(), 'w+');
    try {
      await ctx.write(fd, Buffer.alloc(32 << 20, 1), 0);
      const first = groupDatasync(ctx, fd);
      await new Promise((r) => setTimeout(r, 1));
      const settled: string[] = [];
      const calls = [
        first,
        ...Array.from({ length: 8 }, (_, w) => groupWrite(ctx, fd, Buffer.alloc(4096, 2), (32 << 20) + w * 4096)),
        ...Array.from({ length: 8 }, () => groupDatasync(ctx, fd)),
      ].map((p, i) =>
        p.then(
          () => settled.push(`${i} ok`),
          (e: AioError) => settled.push(`${i} ${e.code}`),
        ),
      );
      await new Promise((r) => setImmediate(r));
      ctx.destroy();
      await Promise.all(calls);
      expect(settled).toHaveLength(17);
      expect(new Set(settled.map((s) => s.split(' ')[0])).size).toBe(17);
      for (const s of settled) expect(s).toMatch(/ (ok|ECANCELED)$/);
      await ctx.closed;
    } finally {
      fs.closeSync(fd);
    }
  });
});

/**
 * 16 writers, each 10 times a 4 KiB write then groupDatasync, on a context
 * of backend; finish syncs the file once in full (its fsync is the one
 * recorded). Every commit is proved by a recorded sync, there are fewer
 * syncs than commits, and the file holds every write.
 */
async function sixteenWritersProved(dir: string, backend: 'kernel' | 'uring', finish: (ctx: AioContext, fd: number) => Promise<unknown>): Promise<void> {
  const ctx = setup(256, { backend });
  const file = path.join(dir, backend);
  const fd = fs.openSync(file, 'w+');
  try {
    const commits: Commit[] = [];
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; i < 10; i++) {
        expect(await ctx.write(fd, Buffer.alloc(4096, w + 1), (i * 16 + w) * 4096)).toBe(4096);
        const writesDone = process.hrtime.bigint();
        await groupDatasync(ctx, fd);
        commits.push({ writesDone, resolved: process.hrtime.bigint() });
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, w) => writer(w)));
    await finish(ctx, fd);
    const stats = ctx.syncStats();
    expect(stats.fsyncs).toBe(1);
    expect(stats.fdatasyncs).toBeGreaterThan(1);
    expect(stats.fdatasyncs).toBeLessThan(commits.length);
    expect(stats.records).toHaveLength(stats.fsyncs + stats.fdatasyncs);
    for (const r of stats.records) {
      expect(r.fd).toBe(fd);
      expect(r.end).toBeGreaterThanOrEqual(r.start);
    }
    for (const c of commits) expect(servedBy(stats.records, fd, c)).toBeDefined();
    const back = fs.readFileSync(file);
    for (let i = 0; i < 10; i++) for (let w = 0; w < 16; w++) expect(back[(i * 16 + w) * 4096]).toBe(w + 1);
  } finally {
    ctx.destroy();
    fs.closeSync(fd);
  }
}

describe('37 group commit on the kernel backend', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });
  afterAll(removeTempDirs);

  test("kernel AIO's syncs are recorded (queued to reaped), and every commit of 16 writers is proved by one", () =>
    sixteenWritersProved(dir, 'kernel', (ctx, fd) => ctx.fsync(fd)));
});

describeUring('37 group commit on the uring backend', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });
  afterAll(removeTempDirs);

  test('io_uring runs the syncs: each is recorded, and every commit of 16 writers is proved by one', () =>
    sixteenWritersProved(dir, 'uring', async (ctx, fd) => {
      await groupFsync(ctx, fd);
      await ctx.datasync(fd);
    }));
});

/**
 * 100 groupWrites and 100 groupDatasyncs on one file, then destroy in the
 * next turn: how the calls settled, by code (ok for resolved).
 */
async function settleAtDestroy(options: Parameters<typeof setup>[1], file: string): Promise<Record<string, number>> {
  const ctx = setup(64, options);
  const fd = fs.openSync(file, 'w+');
  const codes: Record<string, number> = {};
  const count = (p: Promise<unknown>): Promise<void> =>
    p.then(
      () => void (codes.ok = (codes.ok ?? 0) + 1),
      (e: AioError) => void (codes[String(e.code)] = (codes[String(e.code)] ?? 0) + 1),
    );
  const calls: Promise<void>[] = [];
  for (let i = 0; i < 100; i++) calls.push(count(groupWrite(ctx, fd, Buffer.alloc(4096, 1), i * 4096)));
  for (let i = 0; i < 100; i++) calls.push(count(groupDatasync(ctx, fd)));
  await new Promise((resolve) => setImmediate(resolve));
  ctx.destroy();
  await Promise.all(calls);
  fs.closeSync(fd);
  return codes;
}

// the calls made before destroy settle as done or ECANCELED, never as the EINVAL of a call made after it
function expectDoneOrCancelled(codes: Record<string, number>): void {
  expect(Object.keys(codes).filter((k) => k !== 'ok' && k !== 'ECANCELED')).toEqual([]);
  expect((codes.ok ?? 0) + (codes.ECANCELED ?? 0)).toBe(200);
}

describe('37 group commit at destroy, where JavaScript groups the syncs', () => {
  let n = 0;
  test.each<[string, Parameters<typeof setup>[1]]>([
    ['threadpool, 1 thread', { backend: 'threadpool', threads: 1 }],
    ['kernel', { backend: 'kernel' }],
  ])('%s: every call made before destroy resolves or rejects ECANCELED', async (_, options) => {
    expectDoneOrCancelled(await settleAtDestroy(options, path.join(tempDir(), `d${n++}`)));
  });
  test('a context that is not one is ERR_INVALID_ARG_TYPE, as a rejection, for every group call', async () => {
    for (const bad of [null, undefined, {}, 5]) {
      await expect(groupDatasync(bad as never, 1)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' });
      await expect(groupFsync(bad as never, 1)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      await expect(groupWrite(bad as never, 1, Buffer.alloc(1), 0)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      await expect(dsyncWrite(bad as never, 1, Buffer.alloc(1), 0)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    }
  });
  afterAll(removeTempDirs);
});

describeUring('37 group commit at destroy on the uring backend', () => {
  test('every call made before destroy resolves or rejects ECANCELED', async () => {
    expectDoneOrCancelled(await settleAtDestroy({ backend: 'uring' }, path.join(tempDir(), 'u')));
  });
  afterAll(removeTempDirs);
});
