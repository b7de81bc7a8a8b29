// 18 libaio's calls on the drop-in library answer as the kernel's do: the
// same result, check for check (test/fixtures/libaio_semantics.c): bad
// arguments, bad iocbs first and second, timeouts, EINTR, cancel, NULL,
// never-set-up and destroyed contexts; on io_uring too (AIORING_BACKEND=uring).
import { spawnSync } from 'node:child_process';
import { describeKernel, describeUring } from './helpers';
import { findFixture } from './native';

const fixture = findFixture('libaio_semantics');

function run(mode: 'kernel' | 'shim', ring: 'legacy' | 'v2' = 'legacy', env: NodeJS.ProcessEnv = {}): string[] {
  const r = spawnSync(fixture, [mode], { env: { ...process.env, AIORING_RING: ring, ...env }, encoding: 'utf8', timeout: 30000, killSignal: 'SIGKILL' });
  expect(r.status).toBe(0);
  // a fallback from io_uring, or anything else the library had to say
  expect(r.stderr).toBe('');
  return r.stdout.trim().split('\n');
}

describeKernel('18 libaio calls answer as the kernel does', () => {
  const kernel = run('kernel');

  test('the fixture checks everything it lists', () => {
    expect(kernel).toHaveLength(28);
    expect(kernel).toContain('getevents_interrupted -4');
    expect(kernel).toContain('submit_bad_fd_second 1');
  });

  test.each(['legacy', 'v2'] as const)('the drop-in library, %s ring: every check gives the kernel\'s result', (ring) => {
    expect(run('shim', ring)).toEqual(kernel);
  });
});

describeUring('18 libaio calls answer as the kernel does, on io_uring', () => {
  test.each(['legacy', 'v2'] as const)('the drop-in library on io_uring, %s ring: every check gives the kernel\'s result', (ring) => {
    expect(run('shim', ring, { AIORING_BACKEND: 'uring' })).toEqual(run('kernel'));
  });
});

describe('18 aioring.h: the explicit opt-in', () => {
  test('aioring_setup2 with AIORING_SETUP_V2, in its own or the caller\'s memory; an unknown flag is EINVAL; io_pgetevents; a head written past tail is EUCLEAN', () => {
    const r = spawnSync(findFixture('aioring_setup2'), [], { encoding: 'utf8', timeout: 30000, killSignal: 'SIGKILL' });
    expect(r.status).toBe(0);
    expect(Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(' ')))).toEqual({
      features_v2: '1',
      features_threads: '1',
      unknown_flag: '-22',
      setup2_v2: '0',
      v2_magic: '1',
      v2_incompat: '1',
      v2_round_trip: '1',
      v2_round_trip_pgetevents: '1',
      v2_head_past_tail: '-117',
      destroy: '0',
      setup2_caller_memory: '0',
      caller_memory_is_the_ring: '1',
      caller_memory_round_trip: '1',
      destroy_caller_memory: '0',
      caller_memory_too_small: '-22',
      setup2_legacy: '0',
      legacy_magic: '1',
      legacy_round_trip_pgetevents: '1',
      destroy_legacy: '0',
    });
  });
});
