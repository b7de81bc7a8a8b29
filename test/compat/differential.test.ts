// compat differential: aioring's legacy contexts against the live kernel.
//  - nr: for a sweep of n from 1 to the largest io_setup accepts within
//    aio-max-nr, the ring setup(n) maps has the kernel's nr, size and header;
//  - head and tail: the scripted sequence of `14 legacy is the kernel`
//    (compat/scripted.ts) for more n, on both backends and on passthrough;
//  - EAGAIN: where submission stops. The kernel hands its nr - 1 requests
//    to CPUs in batches, so a submitter on one CPU stops (nr - 1) % req_batch
//    short of nr - 1; passthrough contexts (the kernel's ring) stop exactly
//    there too, and so do legacy contexts set up with SETUP_KERNEL_REQS,
//    which count as the kernel does. By default aioring's legacy contexts
//    count nr - 1 in one counter and stop at nr - 1. All keep io_setup's
//    promise of n, and reaping m lets exactly m more in on every side.
//
// Every kernel context is destroyed as soon as it has been looked at: each
// holds its n against the system-wide aio-nr, which other processes share.
import * as fs from 'node:fs';
import { AioContext, setup, SETUP_KERNEL_REQS, SETUP_KERNEL_RING, SetupOptions } from '../../src/context';
import { AioError } from '../../src/errors';
import { EventBatch } from '../../src/events';
import { IocbInit } from '../../src/iocb';
import { kernelSetup, KernelContext } from '../../src/kernel';
import { LegacyRing } from '../../src/legacyRing';
import { aioMaxNr, legacyNr, legacyRingBytes, possibleCpus } from '../../src/sizing';
import { describeKernel, patternFile, rng, sleepMs, tmpfsDir } from '../helpers';
import { BLOCK, BLOCKS, closeSides, expectSameRun, expectWholeRun, positions, runBoth, Sides } from './scripted';

/** The largest count io_setup takes once doubled (fs/aio.c: 0x10000000 / sizeof(struct io_event) / 2). */
const MAX_DOUBLED_N = 0x10000000 / 32 / 2;

function aioNrInUse(): number {
  return Number(fs.readFileSync('/proc/sys/fs/aio-nr', 'utf8'));
}

/**
 * io_setup(n), sharing the system-wide aio-nr budget with other processes:
 * an EAGAIN while they hold what n needs is waited out for up to 2 s; after
 * that n shrinks to what they left, the largest the kernel takes now.
 * Returns the context and the n it was made with; any other refusal is
 * thrown.
 */
function kernelSetupShared(n: number): { k: KernelContext; n: number } {
  const shrinkAfter = Date.now() + 2000;
  const giveUp = Date.now() + 30000;
  for (;;) {
    try {
      return { k: kernelSetup(n), n };
    } catch (e) {
      const free = aioMaxNr() - aioNrInUse();
      if (!(e instanceof AioError && e.code === 'EAGAIN' && n > free) || Date.now() > giveUp) throw e;
      if (Date.now() > shrinkAfter && free >= 1) n = free;
      else sleepMs(50);
    }
  }
}

/** n to sweep: every n to 20, powers of two and their neighbours, seeded samples, and the largest. */
function sweep(top: number): number[] {
  const ns = new Set<number>();
  for (let n = 1; n <= 20; n++) ns.add(n);
  for (let p = 32; p <= top; p *= 2) for (const n of [p - 1, p, p + 1]) ns.add(n);
  const next = rng(0xd1ff);
  for (let i = 0; i < 40; i++) ns.add(1 + Math.floor(Math.exp((next() / 2 ** 32) * Math.log(top))));
  ns.add(top - 1);
  ns.add(top);
  return [...ns].filter((n) => n >= 1 && n <= top).sort((a, b) => a - b);
}

/**
 * The kernel's request accounting (fs/aio.c get_reqs_available): nr - 1
 * requests, handed to CPUs in batches of req_batch = (nr - 1) / (4 * possible
 * CPUs). A submitter on one CPU takes batches while a whole one is left, so
 * (nr - 1) % req_batch stay behind in the shared counter.
 */
function kernelOneCpuLimit(nr: number, cpus: number): { limit: number; stranded: number } {
  const reqBatch = Math.max(1, Math.floor((nr - 1) / (4 * cpus)));
  const stranded = (nr - 1) % reqBatch;
  return { limit: nr - 1 - stranded, stranded };
}

describeKernel('compat differential against the live kernel', () => {
  let fd: number;
  const open: Sides = {};
  const others: AioContext[] = [];

  beforeAll(() => {
    fd = fs.openSync(patternFile(tmpfsDir(), BLOCKS, BLOCK), 'r');
  });
  afterAll(() => fs.closeSync(fd));
  afterEach(() => {
    closeSides(open);
    for (const c of others.splice(0)) c.destroy();
  });

  test('nr: setup(n) maps a ring of the nr and size io_setup(n) maps (header validated on both), for n from 1 to the largest the kernel accepts', () => {
    const top = Math.min(aioMaxNr() - aioNrInUse(), MAX_DOUBLED_N);
    expect(top).toBeGreaterThan(1000);
    const ns = sweep(top);
    const t0 = Date.now();
    const mismatches: unknown[] = [];
    const taken: number[] = [];
    for (const wanted of ns) {
      const { k, n } = kernelSetupShared(wanted);
      open.k = k;
      taken.push(n);
      const kRing = new LegacyRing(k.ring);
      const want = { n, nr: kRing.nr, bytes: kRing.byteLength, head: kRing.head, tail: kRing.tail, capacity: kRing.nr - 1 };
      k.destroy();
      open.k = undefined;

      // attaching validated the header words (magic, compat, incompat, header_length) on both sides
      const a = (open.a = setup(n, { backend: 'threadpool', threads: 1 }));
      const aRing = a.ring as LegacyRing;
      const got = { n, nr: aRing.nr, bytes: aRing.byteLength, head: aRing.head, tail: aRing.tail, capacity: a.capacity };
      a.destroy();
      open.a = undefined;

      if (JSON.stringify(got) !== JSON.stringify(want) || legacyNr(n) !== want.nr || legacyRingBytes(want.nr) !== want.bytes) {
        mismatches.push({ want, got, legacyNr: legacyNr(n) });
      }
    }
    const largest = Math.max(...taken);
    process.stdout.write(
      `nr sweep: ${new Set(taken).size} values of n from 1 to ${largest} (aio-max-nr ${aioMaxNr()}, ${aioMaxNr() - top} held by others at the start), ${Date.now() - t0} ms\n`,
    );
    expect(mismatches).toEqual([]);
    expect(taken.length).toBe(ns.length);
  });

  // n on both sides of the kernel's page steps and of 4 * possible CPUs, and
  // a large ring; test 14 runs 1, 4, 100 and 128
  const providers: [string, SetupOptions][] = [
    ['threadpool', { backend: 'threadpool', threads: 1 }],
    ['kernel', { backend: 'kernel' }],
    ['kernel-ring', { flags: SETUP_KERNEL_RING }],
  ];
  for (const n of [2, 63, 64, 1000]) {
    for (const [name, options] of providers) {
      test(`head and tail: io_setup(${n}) vs setup(${n}) on ${name}, the same nr, head, tail and events after every step of the script`, async () => {
        const r = await runBoth(fd, n, options, 0xd100 + n, open);
        expectSameRun(r);
      });
    }
  }

  test('head and tail: 4 pool threads on a large ring (setup(5000)) match positions at every step', async () => {
    const r = await runBoth(fd, 5000, { backend: 'threadpool', threads: 4 }, 0xd1ff, open);
    expect(positions(r.aTrace)).toEqual(positions(r.kTrace));
    expectWholeRun(r);
  });

  /** nr + 5 reads of block 0 with cookies from base. */
  function reads(count: number, base: number): { bufs: Uint8Array[]; iocbs: IocbInit[] } {
    const bufs = Array.from({ length: count }, () => new Uint8Array(BLOCK));
    return { bufs, iocbs: bufs.map((buffer, i) => ({ opcode: 'pread', fd, buffer, position: 0, data: base + i })) };
  }

  /** One io_submit of count reads on a fresh kernel context: how many it took, and what its ring holds. */
  function kernelTakes(n: number, count: number): { took: number; ready: number } {
    const shared = kernelSetupShared(n);
    const k = (open.k = shared.k);
    expect(shared.n).toBe(n);
    const { bufs } = reads(count, 0);
    const took = k.submitReads(fd, bufs, bufs.map(() => 0), bufs.map((_, i) => i));
    const ready = new LegacyRing(k.ring).count();
    k.destroy();
    open.k = undefined;
    return { took, ready };
  }

  /** Submit until EAGAIN (in one call), then reap 10 and submit again: how many each time. */
  async function aioringTakes(n: number, options: SetupOptions, count: number): Promise<{ took: number; again: number; code: string }> {
    const c = setup(n, options);
    others.push(c);
    const took = c.submit(reads(count, 0).iocbs);
    let code = '';
    try {
      c.submit(reads(1, count).iocbs);
    } catch (e) {
      code = (e as AioError).code;
    }
    const deadline = Date.now() + 10000;
    while (c.inflight > 0 && Date.now() < deadline) sleepMs(1);
    const batch = new EventBatch(10);
    expect(c.reap(batch, 10)).toBe(10);
    const again = c.submit(reads(20, count + 1).iocbs);
    return { took, again, code };
  }

  test.each([1, 63, 1000, 10000])(
    'EAGAIN: io_setup(%i) stops (nr - 1) %% req_batch short of nr - 1 on one CPU, as do passthrough and SETUP_KERNEL_REQS contexts; other legacy contexts admit nr - 1; reaping m admits m more on every side',
    async (n) => {
      const nr = legacyNr(n);
      const cpus = possibleCpus();
      const model = kernelOneCpuLimit(nr, cpus);
      // The kernel's count depends on the CPUs the submitter ran on: on one
      // it is the model's, and a migration mid-call can only lower it. Take
      // the best of three fresh contexts.
      let kernel = { took: 0, ready: 0 };
      for (let i = 0; i < 3 && kernel.took !== model.limit; i++) {
        const r = kernelTakes(n, nr + 5);
        expect(r.took).toBeLessThanOrEqual(model.limit);
        expect(r.ready).toBe(r.took);
        if (r.took > kernel.took) kernel = r;
      }
      let passthrough = { took: 0, again: 0, code: '' };
      for (let i = 0; i < 3 && passthrough.took !== model.limit; i++) {
        const r = await aioringTakes(n, { flags: SETUP_KERNEL_RING }, nr + 5);
        if (r.took > passthrough.took) passthrough = r;
      }
      const threadpool = await aioringTakes(n, { backend: 'threadpool', threads: 1 }, nr + 5);
      const kernelBackend = await aioringTakes(n, { backend: 'kernel' }, nr + 5);
      // with SETUP_KERNEL_REQS a legacy context counts as the kernel does
      const counted: Record<string, { took: number; again: number; code: string }> = {};
      for (const [name, options] of [
        ['threadpool', { backend: 'threadpool', threads: 1 }],
        ['kernel', { backend: 'kernel' }],
      ] as [string, SetupOptions][]) {
        let best = { took: 0, again: 0, code: '' };
        for (let i = 0; i < 3 && best.took !== model.limit; i++) {
          const r = await aioringTakes(n, { ...options, flags: SETUP_KERNEL_REQS }, nr + 5);
          if (r.took > best.took) best = r;
        }
        counted[name] = best;
      }
      const row = {
        n,
        nr,
        cpus,
        reqBatch: Math.max(1, Math.floor((nr - 1) / (4 * cpus))),
        kernel: kernel.took,
        passthrough: passthrough.took,
        threadpool: threadpool.took,
        kernelBackend: kernelBackend.took,
        kernelReqsThreadpool: counted.threadpool.took,
        kernelReqsKernel: counted.kernel.took,
      };
      process.stdout.write(`EAGAIN point: ${JSON.stringify(row)}\n`);
      expect(counted.threadpool).toEqual({ took: model.limit, again: 10, code: 'EAGAIN' });
      expect(counted.kernel).toEqual({ took: model.limit, again: 10, code: 'EAGAIN' });

      expect(kernel.took).toBe(model.limit);
      expect(passthrough).toEqual({ took: model.limit, again: 10, code: 'EAGAIN' });
      // aioring's own legacy contexts account the kernel's nr - 1 in one counter: nothing stranded
      expect(threadpool).toEqual({ took: nr - 1, again: 10, code: 'EAGAIN' });
      expect(kernelBackend).toEqual({ took: nr - 1, again: 10, code: 'EAGAIN' });
      expect(threadpool.took - kernel.took).toBe(model.stranded);
      // both keep io_setup's promise: at least n requests in flight
      expect(Math.min(kernel.took, threadpool.took)).toBeGreaterThanOrEqual(n);
    },
  );
});
