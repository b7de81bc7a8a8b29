// 40 the shared pool, used as a hostile program would: polls nobody
// completes, a thread limit, submission order with one thread. The drop-in
// runs the same C program as Debian's libaio (test/fixtures/pool_hostile.c)
// and must print what it prints; the Node API runs test/workers/poolHostile.ts
// in a fresh process (a fresh pool). Counts and results, never times: a wait
// that never ends is cut by the program's own alarm or timeout.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeKernel, tempDir } from './helpers';
import { shimPath } from '../src/index';

// engine_pool.h: AIOR_POOL_MAX_WORKERS
const POOL_MAX = 64;
const NOBODY = 65534;
const tsRequire = path.join(__dirname, 'workers', 'tsRequire.js');

interface Run {
  out: string;
  status: number | null;
  signal: string | null;
}

describeKernel('40 the shared pool, hostile', () => {
  let exe = '';
  let dir = '';
  beforeAll(() => {
    dir = tempDir();
    // the nproc case runs as another user when the tests run as root
    fs.chmodSync(dir, 0o777);
    exe = path.join(dir, 'pool_hostile');
    execFileSync('cc', ['-O1', '-Wall', '-Wextra', '-Werror', path.join(__dirname, 'fixtures', 'pool_hostile.c'), '-o', exe, '-laio']);
    fs.chmodSync(exe, 0o755);
  });

  function run(args: string[], env: Record<string, string>, asUser?: number): Run {
    const r = spawnSync(exe, args, {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 60000,
      ...(asUser === undefined ? {} : { uid: asUser, gid: asUser }),
    });
    return { out: r.stdout, status: r.status, signal: r.signal };
  }

  const modes = [
    ['legacy', { LD_PRELOAD: shimPath, AIORING_RING: 'legacy' }],
    ['v2', { LD_PRELOAD: shimPath, AIORING_RING: 'v2' }],
  ] as const;

  describe.each(modes)('the drop-in, AIORING_RING=%s, beside Debian\'s libaio', (_ring, env) => {
    test(`${POOL_MAX} polls nobody completes, one per context: another context's buffered write still completes in io_submit`, () => {
      const args = ['cross', String(POOL_MAX), path.join(dir, `cross-${_ring}`)];
      const kernel = run(args, {});
      expect(kernel).toEqual({ out: 'setup 0 submit 1 events 1 res 4096\n', status: 0, signal: null });
      expect(run(args, env)).toEqual(kernel);
    }, 120000);

    test('as many polls as a context\'s threads (4): its own buffered write still completes in io_submit', () => {
      const args = ['same', '4', path.join(dir, `same-${_ring}`)];
      const kernel = run(args, {});
      expect(kernel).toEqual({ out: 'setup 0 submit 1 events 1 res 4096\n', status: 0, signal: null });
      expect(run(args, env)).toEqual(kernel);
    }, 120000);

    test('RLIMIT_NPROC 1 (no thread can start): io_setup and a buffered write answer as the kernel\'s do', () => {
      const user = process.getuid?.() === 0 ? NOBODY : undefined;
      const args = ['nproc', path.join(dir, `nproc-${_ring}`)];
      const kernel = run(args, {}, user);
      expect(kernel).toEqual({ out: 'setup 0 submit 1 events 1 res 4096\n', status: 0, signal: null });
      expect(run(args, env, user)).toEqual(kernel);
    }, 120000);
  });

  describe('the Node API', () => {
    function node(mode: string, n: number): { events: number[]; res: number[]; readSawWrite?: boolean } {
      const sub = tempDir();
      const out = execFileSync(process.execPath, ['-r', tsRequire, path.join(__dirname, 'workers', 'poolHostile.ts'), mode, String(n), sub], {
        encoding: 'utf8',
        timeout: 60000,
      });
      return JSON.parse(out);
    }

    test(`${POOL_MAX} pending polls, one per context: a write on another context completes`, () => {
      expect(node('cross', POOL_MAX)).toEqual({ events: [1], res: [4096] });
    }, 120000);

    test('threads:1 with a pending poll: a later write on the context completes', () => {
      expect(node('same', 1)).toEqual({ events: [1], res: [4096] });
    }, 120000);

    test('threads:1 keeps submission order: a write then a read of the same cached block, the read sees the write', () => {
      expect(node('order', 0)).toEqual({ events: [1, 2], res: [4096, 4096], readSawWrite: true });
    }, 120000);
  });
});
