// 18 differential conformance: the drop-in libaio in its default mode is
// Debian's libaio. One C driver (test/fixtures/libaio_conformance.c, built
// here with cc and -laio) runs each case twice in this run, plainly and
// with the drop-in preloaded, and every line it prints must match: return
// values, errno, events, ring header fields, faults. The cases: every
// entry point with valid, NULL, unmapped, read-only and kernel-space
// pointers, negative, zero and huge counts, uninitialised, destroyed,
// foreign, forked and mremapped contexts, signals during waits, and the
// scenarios of issue 12 item 5 (RLIMIT_FSIZE, ENOSPC on a small loop-mounted
// filesystem, a 768 MB write and read, O_APPEND, a buffer mapping the file
// itself, preadv/pwritev to IOV_MAX + 1, eventfd, RWF_NOWAIT, IOCB_CMD_POLL,
// 100,000 writes then reads of one block, 2,000 contexts, io_destroy with
// O_DIRECT I/O in flight from 100 threads); then seeded random call
// sequences, shrunk to the shortest failing prefix on a mismatch.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { shimPath } from '../../src/shim';
import { describeKernel, directDir, tempDir } from '../helpers';

const SOURCE = path.join(__dirname, '..', 'fixtures', 'libaio_conformance.c');
const CASES = [
  'setup_valid',
  'setup_counts',
  'setup_pointers',
  'setup_ctx_not_zero',
  'queue_init_garbage',
  'queue_init_null',
  'submit_read_write',
  'buffered_then_getevents_at_once',
  'submit_counts',
  'submit_pointers',
  'getevents_bad_timeout',
  'submit_bad_iocbs',
  'ctx_kinds',
  'getevents_garbage_ctx',
  'getevents_destroyed',
  'getevents_kernel_space_ctx',
  'getevents_timeouts',
  'signals',
  'cancel',
  'fork',
  'mremap',
  'rlimit_fsize',
  'o_append',
  'mmap_of_file',
  'vectors',
  'eventfd',
  'rwf_nowait',
  'poll',
  'queue_run',
  'many_writes',
  'many_contexts',
  'big_transfer',
  'destroy_in_flight',
  'enospc',
];
const SEEDS = [1, 2, 3];
const STEPS = 1000;

function buildDriver(): string {
  const exe = path.join(tempDir(), 'libaio_conformance');
  execFileSync('cc', ['-O1', '-Wall', '-Wextra', '-Werror', SOURCE, '-o', exe, '-laio', '-lpthread']);
  return exe;
}

/** Debian's libaio, or the drop-in preloaded in its default mode. */
type Side = 'libaio' | 'drop-in';

function run(exe: string, dir: string, side: Side, args: string[], extra: NodeJS.ProcessEnv = {}): string[] {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.AIORING_RING;
  delete env.LD_PRELOAD;
  if (side === 'drop-in') env.LD_PRELOAD = shimPath;
  const r = spawnSync(exe, [dir, ...args], { env, encoding: 'utf8', timeout: 120000, killSignal: 'SIGKILL' });
  expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
  return r.stdout.trimEnd().split('\n');
}

/** A fresh 8 MiB ext4 filesystem, loop-mounted, for one run; null where this machine cannot. */
function smallFs(): { dir: string; remove: () => void } | null {
  const base = tempDir();
  const image = path.join(base, 'small.img');
  const dir = path.join(base, 'mnt');
  try {
    fs.mkdirSync(dir);
    fs.writeFileSync(image, '');
    fs.truncateSync(image, 8 << 20);
    execFileSync('mkfs.ext4', ['-q', '-F', '-E', 'nodiscard', image], { stdio: 'ignore' });
    execFileSync('mount', ['-o', 'loop', image, dir], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return { dir, remove: () => execFileSync('umount', [dir]) };
}

/** Whether this machine can loop-mount a filesystem image (root and loop devices). */
function canLoopMount(): boolean {
  const probe = smallFs();
  probe?.remove();
  return probe !== null;
}

describeKernel('18 differential conformance: the drop-in in its default mode is Debian\'s libaio', () => {
  let exe: string;
  let dir: string;

  beforeAll(() => {
    exe = buildDriver();
    dir = directDir();
  });

  test('the driver lists every case this tier compares', () => {
    expect(run(exe, dir, 'libaio', ['list'])).toEqual(CASES);
  });

  test.each(CASES.filter((c) => c !== 'enospc'))('%s: every line the same', (name) => {
    const libaio = run(exe, dir, 'libaio', ['case', name]);
    expect(libaio[libaio.length - 1]).toMatch(new RegExp(`^${name} end `));
    expect(run(exe, dir, 'drop-in', ['case', name])).toEqual(libaio);
  });

  // CI sets AIORING_REQUIRE_LOOP=1: there a machine that cannot loop-mount fails the case instead of skipping it
  const loop = canLoopMount() || process.env.AIORING_REQUIRE_LOOP === '1';
  if (!loop) process.stdout.write('skipping the ENOSPC case: no loop-mounted filesystem here (needs root and loop devices)\n');
  (loop ? test : test.skip)('enospc: a full filesystem (a fresh loop-mounted ext4 each side): every line the same', () => {
    const onFreshFs = (side: Side): string[] => {
      const small = smallFs();
      if (!small) throw new Error('no loop-mounted filesystem here (needs root, loop devices and mkfs.ext4)');
      try {
        return run(exe, dir, side, ['case', 'enospc'], { CONFORMANCE_SMALL_FS: small.dir });
      } finally {
        small.remove();
      }
    };
    const libaio = onFreshFs('libaio');
    expect(libaio).toContain('enospc then -28');
    expect(onFreshFs('drop-in')).toEqual(libaio);
  });

  test.each(SEEDS)(`random call sequence, seed %d, ${STEPS} steps: every line the same (shrunk on a mismatch)`, (seed) => {
    const sequence = (side: Side, steps: number): string[] => run(exe, dir, side, ['random', String(seed), String(steps)]);
    const same = (steps: number): boolean => JSON.stringify(sequence('libaio', steps)) === JSON.stringify(sequence('drop-in', steps));
    if (same(STEPS)) return;
    // the first k steps of a sequence do not depend on how many follow: find the shortest prefix that differs
    let good = 0;
    let bad = STEPS;
    while (bad - good > 1) {
      const mid = (good + bad) >> 1;
      if (same(mid)) good = mid;
      else bad = mid;
    }
    process.stdout.write(`seed ${seed}: the shortest failing sequence has ${bad} steps\n`);
    expect(sequence('drop-in', bad)).toEqual(sequence('libaio', bad));
  });
});
