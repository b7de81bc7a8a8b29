// 02 sizing: legacyNr is the kernel's rule, checked against real io_setup.
import * as fs from 'node:fs';
import { AioError } from '../src/errors';
import { kernelSetup } from '../src/kernel';
import { LegacyRing } from '../src/legacyRing';
import { addon } from '../src/native';
import { legacyNr, legacyRingBytes, possibleCpus } from '../src/sizing';
import { describeKernel } from './helpers';

function expectAioError(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(AioError);
  expect((caught as AioError).code).toBe(code);
}

describe('02 sizing: legacyNr follows fs/aio.c', () => {
  test('io_setup(4) on 2 CPUs gives 127', () => {
    expect(legacyNr(4, { cpus: 2, pageSize: 4096, aioMaxNr: 65536 })).toBe(127);
  });

  test('4 KiB pages: nr = 128 * ceil((2 * max(n, 4C) + 3) / 128) - 1', () => {
    for (const cpus of [1, 2, 3, 8, 64]) {
      for (const n of [1, 2, 3, 4, 7, 8, 61, 62, 63, 64, 100, 127, 128, 129, 1000, 4096, 65536]) {
        const expected = 128 * Math.ceil((2 * Math.max(n, 4 * cpus) + 3) / 128) - 1;
        expect([cpus, n, legacyNr(n, { cpus, pageSize: 4096, aioMaxNr: 0 })]).toEqual([cpus, n, expected]);
      }
    }
  });

  test('any page size: whole pages of 32-byte events after the 32-byte header', () => {
    for (const pageSize of [4096, 16384, 65536]) {
      for (const n of [1, 4, 100, 5000]) {
        const nr = legacyNr(n, { cpus: 2, pageSize, aioMaxNr: 0 });
        const need = 2 * Math.max(n, 8) + 2;
        expect(nr).toBeGreaterThanOrEqual(need);
        expect((32 + nr * 32) % pageSize).toBe(0);
        expect(nr - need).toBeLessThan(pageSize / 32);
        expect(legacyRingBytes(nr, pageSize)).toBe(32 + nr * 32);
      }
    }
  });

  test('the C rule and the TypeScript rule agree', () => {
    for (const pageSize of [4096, 65536]) {
      for (const cpus of [1, 2, 48]) {
        for (let n = 1; n < 70000; n += 997) {
          expect(addon.legacyNr(n, cpus, pageSize, 0)).toBe(legacyNr(n, { cpus, pageSize, aioMaxNr: 0 }));
        }
      }
    }
  });

  test('limits: EINVAL for 0 or too large once doubled, EAGAIN past aio-max-nr', () => {
    const opts = { cpus: 2, pageSize: 4096, aioMaxNr: 65536 };
    expectAioError(() => legacyNr(0, opts), 'EINVAL');
    expectAioError(() => legacyNr(0x10000000 / 32 / 2 + 1, opts), 'EINVAL');
    expectAioError(() => legacyNr(65537, opts), 'EAGAIN');
    expect(legacyNr(65536, opts)).toBe(131199);
    // the kernel checks the size before aio-max-nr
    expectAioError(() => legacyNr(0x10000000 / 32 / 2, opts), 'EAGAIN');
    expectAioError(() => legacyNr(-1, opts), 'EINVAL');
    expectAioError(() => legacyNr(1.5, opts), 'EINVAL');
    const c = (n: number): number => addon.legacyNr(n, 2, 4096, 65536);
    expect([c(0), c(0x10000000 / 32 / 2 + 1), c(65537)]).toEqual([-22, -22, -11]);
  });

  test('possible CPUs are read from /sys/devices/system/cpu/possible', () => {
    const text = fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    expect(possibleCpus()).toBeGreaterThanOrEqual(1);
    expect(possibleCpus()).toBe(addon.systemInfo().possibleCpus);
    if (/^\d+-\d+$/.test(text)) {
      const [lo, hi] = text.split('-').map(Number);
      expect(possibleCpus()).toBe(hi - lo + 1);
    }
  });
});

describeKernel('02 sizing against the live kernel', () => {
  test.each([1, 4, 100, 128, 1000, 10000])('legacyNr(%i) equals the nr of the ring io_setup maps', (n) => {
    const ctx = kernelSetup(n);
    try {
      const ring = new LegacyRing(ctx.ring);
      expect(ring.nr).toBe(legacyNr(n));
      expect(ctx.ring.byteLength).toBe(legacyRingBytes(ring.nr));
    } finally {
      ctx.destroy();
    }
  });

  test('the kernel refuses what legacyNr refuses, with the same code', () => {
    const max = Number(fs.readFileSync('/proc/sys/fs/aio-max-nr', 'utf8'));
    for (const n of [0, 0x10000000 / 32 / 2 + 1, max + 1]) {
      let code = '';
      try {
        legacyNr(n);
      } catch (e) {
        code = (e as AioError).code;
      }
      expectAioError(() => kernelSetup(n).destroy(), code);
    }
  });
});
