// 16 the drop-in libaio under fio: unmodified fio --ioengine=libaio with the
// shim preloaded, in its default mode (the kernel's contexts), on the
// engine's legacy ring (AIORING_RING=legacy) and on AIORING_RING=v2,
// verified with crc32c, beside the same jobs on the kernel's own libaio;
// and both rings on io_uring (AIORING_BACKEND=uring).
import { spawnSync } from 'node:child_process';
import { shimPath } from '../src/shim';
import { describeUring, directDir } from './helpers';
import { findFixture } from './native';

function haveFio(): boolean {
  return spawnSync('fio', ['--version']).status === 0;
}

const fioOk = haveFio();
if (!fioOk && process.env.AIORING_REQUIRE_FIO !== '1') process.stdout.write('skipping fio tests: fio is not installed\n');
const describeFio = fioOk || process.env.AIORING_REQUIRE_FIO === '1' ? describe : describe.skip;

interface FioResult {
  status: number | null;
  error: number;
  ios: number;
  stderr: string;
}

function runFio(
  dir: string,
  env: NodeJS.ProcessEnv,
  job: { bs: string; depth: number; direct: number; reap: number },
  name: string,
  prefix: string[] = [],
): FioResult {
  const args = [
    `--name=${name}`,
    `--directory=${dir}`,
    '--ioengine=libaio',
    '--rw=randrw',
    `--bs=${job.bs}`,
    `--iodepth=${job.depth}`,
    `--direct=${job.direct}`,
    `--userspace_reap=${job.reap}`,
    // userspace_reap applies only when polling for a minimum of 0 events
    ...(job.reap ? ['--iodepth_batch_complete_min=0'] : []),
    '--size=4m',
    '--verify=crc32c',
    '--do_verify=1',
    '--verify_fatal=1',
    // fio would otherwise leave a verify state file in its working directory
    '--verify_state_save=0',
    '--output-format=json',
  ];
  const command = prefix.length ? prefix[0] : 'fio';
  const r = spawnSync(command, prefix.length ? [...prefix.slice(1), 'fio', ...args] : args, { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL' });
  let error = -1;
  let ios = 0;
  try {
    const out = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    const j = out.jobs[0];
    error = j.error;
    ios = j.read.total_ios + j.write.total_ios;
  } catch {
    error = -1;
  }
  return { status: r.status, error, ios, stderr: r.stderr };
}

interface Job {
  bs: string;
  depth: number;
  direct: number;
  reap: number;
}
const jobs: Job[] = [];
for (const bs of ['4k', '64k']) for (const depth of [1, 8, 64]) for (const direct of [1, 0]) for (const reap of [0, 1]) jobs.push({ bs, depth, direct, reap });

describeFio('16 the drop-in libaio under fio', () => {
  const dir = directDir();
  const modes: [string, NodeJS.ProcessEnv][] = [
    ["the kernel's libaio (baseline)", {}],
    ["the shim, default (the kernel's contexts)", { LD_PRELOAD: shimPath }],
    ['the shim, legacy ring', { LD_PRELOAD: shimPath, AIORING_RING: 'legacy' }],
    ['the shim, AIORING_RING=v2', { LD_PRELOAD: shimPath, AIORING_RING: 'v2' }],
  ];
  describe.each(modes)('%s', (_mode, env) => {
    test.each(jobs.map((j) => [`bs=${j.bs} iodepth=${j.depth} direct=${j.direct} userspace_reap=${j.reap}`, j]))(
      'randrw %s: completes with zero verify errors',
      (label, job) => {
        const r = runFio(dir, env, job as (typeof jobs)[number], `j${String(label).replace(/[^a-z0-9]/gi, '')}`);
        expect({ status: r.status, error: r.error, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, error: 0, stderr: '' });
        expect(r.ios).toBeGreaterThan(0);
      },
    );
  });
});

describeUring('16 the drop-in libaio under fio, on io_uring', () => {
  const dir = directDir();
  const modes: [string, NodeJS.ProcessEnv][] = [
    ['legacy ring', { LD_PRELOAD: shimPath, AIORING_BACKEND: 'uring' }],
    ['AIORING_RING=v2', { LD_PRELOAD: shimPath, AIORING_BACKEND: 'uring', AIORING_RING: 'v2' }],
    ['legacy ring, AIORING_ASYNC_BUFFERED=1', { LD_PRELOAD: shimPath, AIORING_BACKEND: 'uring', AIORING_ASYNC_BUFFERED: '1' }],
  ];
  describeFio.each(modes)('%s', (_mode, env) => {
    test.each(jobs.map((j) => [`bs=${j.bs} iodepth=${j.depth} direct=${j.direct} userspace_reap=${j.reap}`, j]))(
      'randrw %s: completes with zero verify errors, on io_uring (no fallback said)',
      (label, job) => {
        const r = runFio(dir, env, job as (typeof jobs)[number], `u${String(label).replace(/[^a-z0-9]/gi, '')}`);
        expect({ status: r.status, error: r.error, stderr: r.stderr }).toEqual({ status: 0, error: 0, stderr: '' });
        expect(r.ios).toBeGreaterThan(0);
      },
    );
  });

  describeFio('where io_uring_setup is refused (seccomp)', () => {
    test('the program still runs, on the default backend, and says so once', () => {
      const job = { bs: '4k', depth: 8, direct: 0, reap: 0 };
      const r = runFio(dir, modes[0][1], job, 'urefused', [findFixture('deny_io_setup'), '--uring', 'EPERM']);
      expect({ status: r.status, error: r.error }).toEqual({ status: 0, error: 0 });
      expect(r.stderr).toBe('aioring: AIORING_BACKEND=uring: io_uring_setup failed (Operation not permitted); using auto\n');
    });
  });
});
