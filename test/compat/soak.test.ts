// compat soak: 50,000,000 completions through one context (a v2 ring), in a
// child process of its own (test/workers/soak.ts), once per provider: auto
// where io_uring works (noops through io_uring, reads served inline), auto
// with AIORING_AUTO_URING=0 (noops run by the pool, reads served inline),
// and backend 'uring' (everything through io_uring; only where it works). Every completion arrives
// exactly once with its result; resident memory after the warm-up stays
// within 5%; descriptors and threads return to their starting counts after
// destroy. Resident memory is read after full collections (the child runs
// with --expose-gc), so it shows what is held, not the JavaScript heap's
// uncollected garbage, and less V8's young generation, which is empty then
// and which V8 resizes as it likes (see soak.ts). The figures are printed;
// the time is reported, never asserted.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { features } from '../../src/features';
import { compiledTree, describeKernel, patternFile, tmpfsDir } from '../helpers';

const TOTAL = 50_000_000;
const WARM_UP = 10_000_000;
const POOL_THREADS = 4;

/**
 * test/workers/soak.ts and what it imports as plain JavaScript: the soak's
 * process never loads the compiler, whose memory it would otherwise be
 * measuring.
 */
function compiledSoak(): string {
  const out = compiledTree([path.join('test', 'helpers.ts'), path.join('test', 'workers', 'soak.ts')]);
  return path.join(out, 'test', 'workers', 'soak.js');
}

interface Resident {
  rss: number;
  resident: number;
  held: number;
}

interface SoakReport {
  layout: string;
  backend: string;
  completed: number;
  duplicates: number;
  missing: number;
  badRes: number;
  refused: number;
  naps: number;
  seconds: number;
  warmUp: number;
  warmSeconds: number;
  /** kB: VmRSS; VmRSS less V8's young generation; RssAnon + RssShmem less it (see soak.ts) */
  residentKb: { start: Resident; warm: Resident; end: Resident; every5M: Resident[] };
  fds: [number, number, number];
  threads: [number, number, number];
}

const uringHere = features().backends.uring || process.env.AIORING_REQUIRE_URING === '1';
const PROVIDERS: [string, string, Record<string, string>, string][] = [
  ...(uringHere ? [['auto on io_uring', 'auto', {}, 'auto on io_uring'] as [string, string, Record<string, string>, string]] : []),
  ['auto with AIORING_AUTO_URING=0 (the pool)', 'auto', { AIORING_AUTO_URING: '0' }, 'auto'],
  ...(uringHere ? [["backend 'uring'", 'uring', {}, 'uring on io_uring'] as [string, string, Record<string, string>, string]] : []),
];

describeKernel('compat soak: 50,000,000 completions through one context', () => {
  test.each(PROVIDERS)(
    '%s: each completes exactly once; resident memory after the warm-up stays within 5%; descriptors and threads return to their counts after destroy',
    async (_name, backend, env, served) => {
      const file = patternFile(tmpfsDir(), 1);
      const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', compiledSoak(), String(TOTAL), file, String(WARM_UP), backend], {
        encoding: 'utf8',
        timeout: 20 * 60 * 1000,
        env: { ...process.env, AIORING_AUTO_URING: '', ...env },
      });
      const r = JSON.parse(stdout) as SoakReport;
      const m = r.residentKb;
      const growth = (m.end.resident - m.warm.resident) / m.warm.resident;
      const mb = (kb: number): string => (kb / 1024).toFixed(1);
      process.stdout.write(
        [
          `soak: ${r.completed.toLocaleString('en')} completions through one ${r.layout} context (${r.backend}) in ${r.seconds.toFixed(1)} s` +
            ` (${(r.completed / r.seconds / 1e6).toFixed(2)} M/s), ${r.naps} naps`,
          `  resident memory (MB, after full collections, less V8's young generation): before setup ${mb(m.start.resident)};` +
            ` after the warm-up (${r.warmUp.toLocaleString('en')}, ${r.warmSeconds.toFixed(1)} s) ${mb(m.warm.resident)};` +
            ` at the end ${mb(m.end.resident)}: ${(growth * 100).toFixed(2)}%`,
          `  every 5M: ${m.every5M.map((x) => mb(x.resident)).join(' ')}; of which anonymous and shared (heap, stacks, rings):` +
            ` ${mb(m.warm.held)} after the warm-up, ${mb(m.end.held)} at the end; VmRSS ${mb(m.warm.rss)} and ${mb(m.end.rss)}`,
          `  fds before/during/after: ${r.fds.join('/')}; threads before/during/after: ${r.threads.join('/')}`,
        ].join('\n') + '\n',
      );

      expect({ layout: r.layout, backend: r.backend, completed: r.completed, duplicates: r.duplicates, missing: r.missing, badRes: r.badRes, refused: r.refused }).toEqual({
        layout: 'v2',
        backend: served,
        completed: TOTAL,
        duplicates: 0,
        missing: 0,
        badRes: 0,
        refused: 0,
      });
      expect(Math.abs(growth)).toBeLessThanOrEqual(0.05);
      // the process's shared threads (pool, read helper, mover) served the
      // context while it lived, at most its 4 threads' worth of workers, and
      // every thread and descriptor went back
      expect(r.threads[1]).toBeGreaterThanOrEqual(r.threads[0]);
      expect(r.threads[1]).toBeLessThanOrEqual(r.threads[0] + POOL_THREADS + 2);
      expect(r.threads[2]).toBe(r.threads[0]);
      // an auto context makes a kernel context (and its eventfd) only at its first O_DIRECT request, and its io_uring at its first request not served inline
      expect(r.fds[1]).toBeGreaterThanOrEqual(r.fds[0]);
      expect(r.fds[2]).toBe(r.fds[0]);
    },
    25 * 60 * 1000,
  );
});
