// 24 lifecycle: destroy never hangs and never blocks the event loop on
// io_destroy; dropped contexts are collected; a destroyed context holds no
// memory; the aio-nr a context charges is what io_setup charges for the
// same request. The scenarios run in child processes (./child), so a
// hang is a kill, not a stuck jest.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AioContext, alignedBuffer, legacyRingBytes, setup, SETUP_KERNEL_RING, SETUP_V2, SetupOptions } from '../../src/index';
import { addon } from '../../src/native';
import { testAddon } from '../native';
import { describeKernel, describeUring, directDir, patternFile, tempDir } from '../helpers';
import { child, childWithStderr } from './child';

const ECANCELED = 125;
// generous: each scenario ends in well under a second when nothing hangs
const HANG_MS = 30000;

function fifo(name = 'never-ready'): string {
  const p = path.join(tempDir(), name);
  execFileSync('mkfifo', [p]);
  return p;
}

function pollScenarios(configs: [string, number][]): void {
  test.each(configs)('row 3: destroy with a poll in flight on %s returns; the poll completes with %i', (config, res) => {
    const report = child('pollAtEnd', [config, 'destroy', fifo()], [], HANG_MS);
    expect(report).toEqual({ queued: 1, events: [{ data: 7, res }] });
  });

  test.each(configs)('row 3: the process exits by itself with a poll in flight on %s and no destroy', (config) => {
    expect(child('pollAtEnd', [config, 'exit', fifo()], [], HANG_MS)).toEqual({ queued: 1 });
  });
}

/** Row 3 for reads: the backends whose reads of a pipe run off the event loop. */
function readScenarios(configs: string[]): void {
  test.each(configs)('row 3: destroy with a promise read of a FIFO that never gets data in flight on %s returns at once; the read rejects ECANCELED', (config) => {
    const report = child('readAtEnd', [config, fifo('no-data')], [], HANG_MS);
    expect(report).toEqual({ settled: { rejected: 'ECANCELED' }, ticked: true });
  });
}

function dropScenarios(configs: string[]): void {
  test.each(configs)('a dropped %s context whose requests completed unreaped is collected; one with a poll running only after the poll ends; GC during completions', (config) => {
    const report = child('dropUnreaped', [config, patternFile(tempDir(), 16), fifo(), fifo('ready')], ['--expose-gc'], 120000);
    const { start, duringPoll, after, afterChurn } = report as Record<string, { threads: number; kernelContexts: number; aioNr: number }>;
    expect(report.queued).toEqual([4, 4, 1]);
    // the running poll holds its context (and the buffers its request would use); the completed ones do not
    expect(report.afterUnreaped).toEqual(['unreaped-1', 'unreaped-2']);
    // and what it holds: its threads, or (on the kernel's own ring, which has none) its kernel context
    expect(duringPoll.threads + duringPoll.kernelContexts).toBeGreaterThan(start.threads + start.kernelContexts);
    expect(report.afterPoll).toEqual(['running', 'unreaped-1', 'unreaped-2']);
    for (const now of [after, afterChurn]) {
      expect(now.threads).toBe(start.threads);
      expect(now.kernelContexts).toBe(start.kernelContexts);
    }
    expect(report.good).toBe(25);
  });
}

describe('28 lifecycle', () => {
  readScenarios(['threadpool']);
  // a FIFO refuses RWF_NOWAIT: the pool works on a non-blocking description of its own
  test('row 3: destroy with a pool write bigger than a FIFO\'s room in flight returns; the write is short, as io_uring\'s', () => {
    const report = child('streamAtEnd', ['threadpool', fifo('full'), 'write'], [], HANG_MS);
    // what a new pipe holds (16 pages of 4 KiB), never the whole 1 MiB, never a hang
    expect(report).toEqual({ settled: { resolved: 65536 } });
  });
  test('row 3: four pool reads racing for each byte of a FIFO: one gets it, the others stay cancellable and destroy ends them', () => {
    expect(child('streamAtEnd', ['threadpool', fifo('race'), 'race'], [], HANG_MS)).toEqual({ bytes: 40, cancelled: 120, other: [] });
  });
  pollScenarios([
    ['threadpool', -ECANCELED],
    ['v2', -ECANCELED],
  ]);

  dropScenarios(['auto', 'threadpool', 'v2']);

  test.each([
    ['aioring', 5],
    ['fs,AIO*', 5],
    ['', 0],
    ['aioringx', 0],
  ])('NODE_DEBUG=%p: each dropped context collected without destroy warns on stderr (%i of 5)', (debug, warnings) => {
    const { report, stderr } = childWithStderr('dropContexts', ['threadpool', '5', patternFile(tempDir(), 16)], ['--expose-gc'], 60000, { NODE_DEBUG: debug });
    expect(report.good).toBe(5);
    expect(report.collected).toBe(5);
    const lines = stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(warnings);
    for (const l of lines) expect(l).toMatch(/^AIORING \d+: a context was collected without destroy\(\); it was destroyed now$/);
  });

  test('the native memory a context holds is reported to V8 (AdjustExternalMemory) while it lives, and taken back by destroy', async () => {
    // process.memoryUsage().external counts ArrayBuffer backing stores, not what addons report: node-api's own count is read
    const reported = () => testAddon.reportedExternalMemory();
    const before = reported();
    const ctx = setup(16384, { backend: 'threadpool' });
    const during = reported();
    ctx.destroy();
    await ctx.closed;
    // at least its ring and its iocb slab (64 bytes an event)
    const held = legacyRingBytes(ctx.capacity + 1) + 64 * ctx.capacity;
    expect(during - before).toBeGreaterThanOrEqual(held);
    // V8 counts ArrayBuffers there too: the context's JavaScript ones stay until they are collected
    expect(during - reported()).toBeGreaterThanOrEqual(held);
  });

  // backend 'kernel': its io_destroy (an RCU grace period) is what closing waits for; auto has none without O_DIRECT
  test('row 12: 2,000 setup/destroy rounds, a turn between each: the 1 ms timer fires while contexts finish closing; nothing is left', () => {
    const report = child('setupLoop', ['turns', '2000', 'kernel'], [], 120000);
    const { start, after } = report as { start: { threads: number; kernelContexts: number }; after: { threads: number; kernelContexts: number } };
    expect(report.rounds).toBe(2000);
    // destroy returned before its context was closed, and the loop kept turning meanwhile
    expect(report.ticksWhileClosing).toBeGreaterThan(0);
    expect(after.threads).toBe(start.threads);
    expect(after.kernelContexts).toBe(start.kernelContexts);
  });

  test('row 12: a loop that never yields sets up and destroys 300 contexts of 16,384 events without holding their memory', () => {
    const report = child('setupLoop', ['noYield', '300', '16384']);
    // each context holds about 3 MiB while it lives (ring, request table, iocb slab): 300 of them held would be ~1 GB
    expect(report.rssGrowth).toBeLessThan(256 * 1024 * 1024);
  });
});

describeKernel('24 lifecycle with kernel AIO', () => {
  pollScenarios([
    ['kernel', -ECANCELED],
    // the kernel's own ring: a poll io_cancel ended completes as the kernel completes it, with no events
    ['kernel-ring', 0],
  ]);
  dropScenarios(['kernel', 'kernel-ring']);

  // the engine context with kernel AIO from setup on (auto makes one only at its first O_DIRECT request: these buffered reads make none)
  test.each(['kernel', 'kernel-ring'])('row 11: 40 %s contexts dropped without destroy are collected, with their threads and kernel contexts', (config) => {
    const report = child('dropContexts', [config, '40', patternFile(tempDir(), 16)], ['--expose-gc'], 120000);
    const { start, during, after } = report as Record<string, { threads: number; kernelContexts: number; aioNr: number }>;
    expect(report.good).toBe(40);
    expect(during.kernelContexts - start.kernelContexts).toBe(40);
    expect(after.threads).toBe(start.threads);
    expect(after.kernelContexts).toBe(start.kernelContexts);
    // the ring kept past its context's collection was detached first: a typed
    // AioError (EINVAL, field buffer) from every call on it
    expect(report.keptRing).toBe('AioError');
  });

  /** The aio-nr a setup charges: the median of 5, as other processes share the count. */
  function charge(open: () => { destroy(): void; closed?: Promise<void> }): Promise<number> {
    const aioNr = (): number => Number(fs.readFileSync('/proc/sys/fs/aio-nr', 'utf8'));
    const run = async (left: number, seen: number[]): Promise<number[]> => {
      if (left === 0) return seen;
      const before = aioNr();
      const c = open();
      const charged = aioNr() - before;
      c.destroy();
      await c.closed;
      return run(left - 1, [...seen, charged]);
    };
    return run(5, []).then((seen) => seen.sort((a, b) => a - b)[2]);
  }

  test.each<[string, SetupOptions]>([
    ['kernel', { backend: 'kernel' }],
    ['kernel-ring', { flags: SETUP_KERNEL_RING }],
  ])('row 14: a %s setup(64) charges the aio-nr io_setup(64) charges on this machine', async (_, options) => {
    const kernel = await charge(() => new addon.KernelContext(64));
    expect(kernel).toBeGreaterThan(0);
    expect(await charge(() => setup(64, options))).toBe(kernel);
  });

  test.each<[string, SetupOptions]>([
    ['auto', {}],
    ['v2', { flags: SETUP_V2 }],
  ])('row 14: a %s setup(64) charges no aio-nr until its first O_DIRECT request, then what io_setup(64) charges', async (_, options) => {
    const file = path.join(directDir(), 'direct');
    fs.writeFileSync(file, Buffer.alloc(4096, 1));
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
    try {
      const kernel = await charge(() => new addon.KernelContext(64));
      expect(kernel).toBeGreaterThan(0);
      expect(await charge(() => setup(64, options))).toBe(0);
      const directRead = (): AioContext => {
        const c = setup(64, options);
        // io_setup runs inside the submit that routes the first O_DIRECT request
        c.submit([{ opcode: 'pread', fd, buffer: alignedBuffer(4096), position: 0 }]);
        return c;
      };
      expect(await charge(directRead)).toBe(kernel);
    } finally {
      fs.closeSync(fd);
    }
  });
});

describeUring('28 lifecycle with io_uring', () => {
  readScenarios(['uring', 'auto']);
});
