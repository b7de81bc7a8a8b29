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
//
// 18b: the same cases in the opt-in modes (AIORING_RING=legacy and v2,
// aioring's engine behind the context): the kernel's call contract holds
// there too, everything but the ring layout. A v2 ring's header is not the
// kernel's, so in v2 mode the lines the driver prints by reading the ring
// as the kernel's (its header fields, the mremap case's userspace reap:
// it checks neither magic nor incompat_features) are left out of the
// comparison, and nothing else. The random sequences run with
// CONFORMANCE_NORMALISE_ADDRESSES=1 on both sides: a destroyed context's
// id that names a live one only because the kernel mapped the newer ring
// at the same address (engine rings are mapped elsewhere) is used as an id
// nothing is at; only the address differs there.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeKernel, directDir, tempDir } from '../helpers';
import { Mode, Side, sideEnv } from './sides';

const SOURCE = path.join(__dirname, '..', 'fixtures', 'libaio_conformance.c');
const CASES = [
  'setup_valid',
  'setup_counts',
  'setup_past_aio_nr',
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
  'mremap_in_flight',
  'rlimit_fsize',
  'o_append',
  'mmap_of_file',
  'vectors',
  'eventfd',
  'rwf_nowait',
  'poll',
  'pipe_read_in_submit',
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

const MODES: Mode[] = ['legacy', 'v2'];

let built: { exe: string; dir: string } | undefined;

/** The driver, built once for both tiers, and a directory that takes O_DIRECT. */
function driver(): { exe: string; dir: string } {
  built ??= { exe: buildDriver(), dir: directDir() };
  return built;
}


/**
 * The lines that read a ring as the kernel's without checking its magic or
 * incompat_features (its header fields, and the mremap case's userspace
 * reap): not compared for a v2 ring.
 */
function comparable(lines: string[], side: Side): string[] {
  return side === 'v2' ? lines.filter((l) => !/ ring nr=| userspace_(ready|reap) /.test(l)) : lines;
}

function run(exe: string, dir: string, side: Side, args: string[], extra: NodeJS.ProcessEnv = {}): string[] {
  const env = { ...sideEnv(side), ...extra };
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

/** The enospc case on a fresh small filesystem of its own. */
function enospcOnFreshFs(exe: string, dir: string, side: Side): string[] {
  const small = smallFs();
  if (!small) throw new Error('no loop-mounted filesystem here (needs root, loop devices and mkfs.ext4)');
  try {
    return run(exe, dir, side, ['case', 'enospc'], { CONFORMANCE_SMALL_FS: small.dir });
  } finally {
    small.remove();
  }
}

/** Whether this machine can loop-mount a filesystem image (root and loop devices). */
function canLoopMount(): boolean {
  const probe = smallFs();
  probe?.remove();
  return probe !== null;
}

/**
 * A seeded random sequence of STEPS steps, the same on Debian's libaio and
 * on side; on a mismatch, shrunk to the shortest differing prefix (the
 * first k steps do not depend on how many follow) and that one compared.
 */
function sameSequences(exe: string, dir: string, side: Side, seed: number, extra: NodeJS.ProcessEnv = {}): void {
  const sequence = (s: Side, steps: number): string[] =>
    comparable(run(exe, dir, s, ['random', String(seed), String(steps)], extra), side);
  const same = (steps: number): boolean => JSON.stringify(sequence('libaio', steps)) === JSON.stringify(sequence(side, steps));
  const libaio = sequence('libaio', STEPS);
  const other = sequence(side, STEPS);
  if (JSON.stringify(libaio) === JSON.stringify(other)) return;
  let good = 0;
  let bad = STEPS;
  while (bad - good > 1) {
    const mid = (good + bad) >> 1;
    if (same(mid)) good = mid;
    else bad = mid;
  }
  process.stdout.write(`${side} seed ${seed}: the shortest failing sequence has ${bad} steps\n`);
  const shrunk = { libaio: sequence('libaio', bad), other: sequence(side, bad) };
  // a difference that did not come back while shrinking still fails, on the whole sequence
  if (JSON.stringify(shrunk.libaio) === JSON.stringify(shrunk.other)) expect(other).toEqual(libaio);
  else expect(shrunk.other).toEqual(shrunk.libaio);
}

describeKernel('18 differential conformance: the drop-in in its default mode is Debian\'s libaio', () => {
  let exe: string;
  let dir: string;
  beforeAll(() => ({ exe, dir } = driver()));

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
    const libaio = enospcOnFreshFs(exe, dir, 'libaio');
    expect(libaio).toContain('enospc then -28');
    expect(enospcOnFreshFs(exe, dir, 'drop-in')).toEqual(libaio);
  });

  test.each(SEEDS)(`random call sequence, seed %d, ${STEPS} steps: every line the same (shrunk on a mismatch)`, (seed) => {
    sameSequences(exe, dir, 'drop-in', seed);
  });
});

describeKernel('18b differential conformance: the opt-in modes keep the kernel\'s call contract', () => {
  let exe: string;
  let dir: string;
  beforeAll(() => ({ exe, dir } = driver()));

  describe.each(MODES)('AIORING_RING=%s', (mode) => {
    test.each(CASES.filter((c) => c !== 'enospc'))('%s: every line the same', (name) => {
      const libaio = run(exe, dir, 'libaio', ['case', name]);
      expect(libaio[libaio.length - 1]).toMatch(new RegExp(`^${name} end `));
      expect(comparable(run(exe, dir, mode, ['case', name]), mode)).toEqual(comparable(libaio, mode));
    });

    const loop = canLoopMount() || process.env.AIORING_REQUIRE_LOOP === '1';
    (loop ? test : test.skip)('enospc: a full filesystem (a fresh loop-mounted ext4 each side): every line the same', () => {
      const libaio = enospcOnFreshFs(exe, dir, 'libaio');
      expect(libaio).toContain('enospc then -28');
      expect(enospcOnFreshFs(exe, dir, mode)).toEqual(libaio);
    });

    // engine rings live at other addresses than the kernel's: a stale id that names a newer context is normalised
    test.each(SEEDS)(`random call sequence, seed %d, ${STEPS} steps, addresses normalised: every line the same (shrunk on a mismatch)`, (seed) => {
      sameSequences(exe, dir, mode, seed, { CONFORMANCE_NORMALISE_ADDRESSES: '1' });
    });
  });

  test('AIORING_ASYNC_BUFFERED=1 is negotiated: listed by aioring_features and recorded in a v2 ring header', () => {
    expect(run(exe, dir, 'v2', ['features'])).toEqual(['features aioring_features=1 async_buffered=1', 'features v2_setup_async_buffered=0']);
    expect(run(exe, dir, 'v2', ['features'], { AIORING_ASYNC_BUFFERED: '1' })).toEqual([
      'features aioring_features=1 async_buffered=1',
      'features v2_setup_async_buffered=1',
    ]);
  });
});
