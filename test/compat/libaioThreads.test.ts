// 18c threads on one context, and a program that writes its ring, found by
// a hostile review: the same C program (test/fixtures/libaio_threads.c)
// against Debian's libaio and against the drop-in in every mode, every line
// compared. Before the fix: submitters sharing one context slept forever in
// io_submit (a wakeup drained by another waiter; an event written over
// while its submitter slept), io_destroy freed a context another thread
// was waiting on (a hang, then SIGSEGV), and a tail the program wrote was
// read as an index into the ring (SIGSEGV).
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describeKernel, tempDir } from '../helpers';
import { shimPath } from '../../src/index';

interface Run {
  lines: string[];
  status: number | null;
  signal: string | null;
}

describeKernel('18c threads on one context, and a written ring, beside Debian\'s libaio', () => {
  let exe = '';
  let dir = '';
  beforeAll(() => {
    dir = tempDir();
    exe = path.join(dir, 'libaio_threads');
    execFileSync('cc', ['-O1', '-Wall', '-Wextra', '-Werror', path.join(__dirname, '..', 'fixtures', 'libaio_threads.c'), '-o', exe, '-laio', '-lpthread']);
  });

  function run(args: string[], env: Record<string, string>, sorted = false): Run {
    const r = spawnSync(exe, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 90000 });
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    return { lines: sorted ? lines.sort() : lines, status: r.status, signal: r.signal };
  }

  const modes = [
    ['default', { LD_PRELOAD: shimPath }],
    ['legacy', { LD_PRELOAD: shimPath, AIORING_RING: 'legacy' }],
    ['v2', { LD_PRELOAD: shimPath, AIORING_RING: 'v2' }],
    ['legacy on io_uring', { LD_PRELOAD: shimPath, AIORING_RING: 'legacy', AIORING_BACKEND: 'uring' }],
    ['v2 on io_uring', { LD_PRELOAD: shimPath, AIORING_RING: 'v2', AIORING_BACKEND: 'uring' }],
  ] as const;

  describe.each(modes)('%s', (mode, env) => {
    test.each([
      [1, 1],
      [2, 1],
      [4, 2],
    ])('%i threads submitting buffered reads, %i more reaping: every iocb once, with its data', (submitters, reapers) => {
      const args = ['threads', String(submitters), String(reapers), '20000', path.join(dir, `threads-${mode}-${submitters}-${reapers}`)];
      const kernel = run(args, {});
      expect(kernel).toEqual({ lines: ['setup 0', 'completed ' + submitters * 20000 + ' wrong 0 twice 0 missing 0', 'destroy 0'], status: 0, signal: null });
      expect(run(args, env)).toEqual(kernel);
    }, 120000);

    test.each([0, 5000])('io_destroy while another thread waits in io_getevents (timeout %i ms, 0: none): it returns, the waiter gets EINVAL', (ms) => {
      const args = ['destroy', String(ms), path.join(dir, `destroy-${mode}`)];
      const kernel = run(args, {}, true);
      expect(kernel).toEqual({ lines: ['destroy 0', 'setup 0', 'waiter got -22'], status: 0, signal: null });
      expect(run(args, env, true)).toEqual(kernel);
    }, 120000);

    test.each(['0x5a5a5a5a', '0xffffffff', '7'])('the program writes %s into the ring\'s tail: three reads still complete, each with its data', (value) => {
      const args = ['tail', value, path.join(dir, `tail-${mode}`)];
      const kernel = run(args, {});
      expect(kernel.status).toBe(0);
      expect(kernel.lines.filter((l) => l.startsWith('read'))).toEqual([0, 1, 2].map((i) => `read ${i}: submit 1 events 1 res 512 data ${i + 1}`));
      expect(run(args, env)).toEqual(kernel);
    }, 120000);
  });
});
