// 14 legacy is the kernel: for the same scripted sequence of submits and
// reaps, an aioring context in legacy mode shows the same ring as a real
// kernel context (io_setup) at every step: the same nr, head and tail, the
// same events in the same order, across several wraps. The script and its
// runner are in compat/scripted.ts, shared with the compatibility suite.
import * as fs from 'node:fs';
import { BLOCK, BLOCKS, closeSides, expectSameRun, expectWholeRun, positions, runBoth, Sides } from './compat/scripted';
import { describeKernel, patternFile, tmpfsDir, TMPFS_MAGIC } from './helpers';

describeKernel('14 legacy is the kernel', () => {
  let fd: number;
  let dir: string;
  const open: Sides = {};

  beforeAll(() => {
    dir = tmpfsDir();
    fd = fs.openSync(patternFile(dir, BLOCKS, BLOCK), 'r');
  });
  afterAll(() => fs.closeSync(fd));
  afterEach(() => closeSides(open));

  test('the file is on tmpfs, so the kernel completes the reads inside io_submit', () => {
    expect(fs.statfsSync(dir).type).toBe(TMPFS_MAGIC);
  });

  for (const n of [1, 4, 100, 128]) {
    for (const backend of ['threadpool', 'kernel'] as const) {
      // one pool thread runs requests in submission order, as the kernel does here
      test(`io_setup(${n}) vs setup(${n}, { backend: '${backend}' }): same nr, head, tail at every step, same events in the same order`, async () => {
        const r = await runBoth(fd, n, { backend, threads: backend === 'threadpool' ? 1 : 0 }, 0x1400 + n, open);
        expectSameRun(r);
      });
    }
  }

  test('with 4 pool threads completions may reorder, but nr, head and tail still match at every step', async () => {
    const r = await runBoth(fd, 100, { backend: 'threadpool', threads: 4 }, 0x14ff, open);
    expect(positions(r.aTrace)).toEqual(positions(r.kTrace));
    expectWholeRun(r);
  });
});
