// 17 the reader zoo: ring readers modelled on libaio, fio, Seastar, SPDK,
// QEMU, xNVMe and CRIU (test/fixtures/ring_readers.c) against the kernel's
// own rings and the drop-in library's, legacy and v2.
import { spawnSync } from 'node:child_process';
import { describeKernel } from '../helpers';
import { findFixture } from '../native';

const readers = findFixture('ring_readers');
const COUNT = 200;

function run(reader: string, mode: 'kernel' | 'shim', ring: 'legacy' | 'v2'): { status: number | null; out: string } {
  const r = spawnSync(readers, [reader, mode, String(COUNT)], {
    env: { ...process.env, AIORING_RING: ring },
    encoding: 'utf8',
    timeout: 30000,
    killSignal: 'SIGKILL',
  });
  return { status: r.status, out: r.stdout.trim() };
}

// what each reader does with a v2 ring: refuse it (and fall back to
// io_getevents) when it checks the magic or incompat_features, or see an
// empty ring when it checks nothing; never misread it
const onV2: Record<string, string> = {
  libaio: 'getevents',
  fio: 'fallback',
  seastar: 'fallback',
  spdk: 'fallback',
  qemu: 'empty',
  xnvme: 'fallback',
  criu: 'fallback',
};
const onLegacy = (reader: string): string => (reader === 'libaio' ? 'getevents' : reader === 'criu' ? 'accepted' : 'ring');

describe('17 the reader zoo on the drop-in library', () => {
  test.each(Object.keys(onV2))('%s reads the legacy ring correctly', (reader) => {
    const r = run(reader, 'shim', 'legacy');
    const fromRing = reader === 'libaio' || reader === 'criu' ? 0 : COUNT;
    expect(r).toEqual({ status: 0, out: `path=${onLegacy(reader)} ring=${reader === 'libaio' ? COUNT : fromRing} total=${COUNT}` });
  });

  test.each(Object.entries(onV2))('%s on AIORING_RING=v2: %s, and still every event exactly once', (reader, expected) => {
    const r = run(reader, 'shim', 'v2');
    const fromRing = reader === 'libaio' ? COUNT : 0;
    expect(r).toEqual({ status: 0, out: `path=${expected} ring=${fromRing} total=${COUNT}` });
  });
});

describeKernel("17 the reader zoo on the kernel's own ring", () => {
  test.each(Object.keys(onV2))('%s reads it correctly', (reader) => {
    const r = run(reader, 'kernel', 'legacy');
    const fromRing = reader === 'criu' ? 0 : COUNT;
    expect(r).toEqual({ status: 0, out: `path=${onLegacy(reader)} ring=${fromRing} total=${COUNT}` });
  });
});
