// 22 worker threads: contexts belong to the environment (main thread or
// worker) that made them. Each scenario runs in a child process (./child).
import { features } from '../../src/context';
import { describeKernel, patternFile, tempDir } from '../helpers';
import { child as run } from './child';

function child(script: string, ...args: string[]): Record<string, unknown> {
  return run(script, args);
}

function scenarios(configs: string[]): void {
  let file: string;

  beforeAll(() => {
    file = patternFile(tempDir(), 16);
  });

  test.each(configs)("row 1: a worker that only loads the library exits; the main thread's %s context reads on", (config) => {
    expect(child('workerExit', config, file)).toEqual({ before: 4, ready: 0, after: 16 });
  });

  test.each(configs)("a destroy on the main thread leaves a worker's %s context alone, and the worker's exit ends only its own", (config) => {
    const report = child('isolation', config, file);
    expect(report).toMatchObject({ steps: { ready: 8, done: 8 }, exitCode: 0, laterGood: 8 });
    // the worker left its context undestroyed: its exit joined those threads
    expect(report.threads).toBe(report.threads0);
  });

  test.each(configs)('after destroy the ring and wait buffers of a %s context are detached; a copy posted to a worker still reads', (config) => {
    const report = child('detach', config);
    const [ringBytes, waitBytes] = report.byteLengths as number[];
    expect(ringBytes).toBeGreaterThan(0);
    expect(waitBytes).toBeGreaterThan(0);
    // postMessage copies the ring (node does not transfer external buffers): ours stays attached until destroy
    expect(report.afterPost).toBe(ringBytes);
    expect(report.afterDestroy).toEqual([0, 0]);
    expect(report.viewAfterDestroy).toBe('TypeError');
    expect(report.countAfterDestroy).toBe('AioError');
    expect(report.copy).toEqual({ byteLength: ringBytes, words: report.words });
  });
}

describe('23 worker threads', () => {
  scenarios(['auto', 'threadpool', 'v2']);

  test('row 2: workers set up, use and destroy contexts at once for 2 s beside the main thread; threads, descriptors, kernel contexts and aio-nr come back', () => {
    const configs = ['auto', 'threadpool', 'v2', ...(features().backends.kernel ? ['kernel-ring'] : [])];
    const report = child('churn', patternFile(tempDir(), 16), '2000', '4', configs.join(','));
    const results = report.results as { rounds: number; reads: number; good: number }[];
    expect(results).toHaveLength(4);
    for (const r of results) {
      expect(r.rounds).toBeGreaterThan(configs.length);
      expect(r.good).toBe(r.reads);
    }
    expect(report.mainGood).toBe(report.mainReads);
    expect(report.threads).toBe(report.threads0);
    expect(report.fds).toBe(report.fds0);
    // every kernel context is gone, and the aio-nr they charged given back (the count is the
    // system's, and other test files' contexts come and go in it: at or below where it was)
    expect(report.kernelContexts).toBe(report.kernelContexts0);
    expect(report.aioNr).toBeLessThanOrEqual(report.aioNr0 as number);
  });
});

describeKernel('22 worker threads on the kernel ring (SETUP_KERNEL_RING)', () => {
  scenarios(['kernel-ring']);
});
