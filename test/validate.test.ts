// 06 header validators: a typed error naming the bad field, the C and the
// TypeScript validators agreeing on every header, nothing read out of bounds.
import * as fc from 'fast-check';
import { AioError } from '../src/errors';
import { AioRing, FEAT_ALL, FEAT_LEASES, V2Header } from '../src/layout';
import { LegacyRing, validateLegacyHeader } from '../src/legacyRing';
import { testAddon } from './native';
import { V2Ring, validateV2Header, v2RingBytes } from '../src/v2Ring';
import { leasedRing, legacyRing, tsField, v2Ring, withWord } from './ringHeaders';

describe('06 header validators', () => {
  test.each([
    ['magic', AioRing.magic, 0xa10a10a2],
    ['incompat_features', AioRing.incompat_features, 1],
    ['compat_features', AioRing.compat_features, 0],
    ['header_length', AioRing.header_length, 64],
    ['nr', AioRing.nr, 0],
    ['nr', AioRing.nr, 9],
    ['head', AioRing.head, 8],
    ['tail', AioRing.tail, 0xffffffff],
  ])('legacy: bad %s is named (word at %i = %i)', (field, offset, value) => {
    const bytes = withWord(legacyRing(8), offset, value);
    expect(tsField(validateLegacyHeader, bytes)).toBe(field);
    expect(testAddon.validateLegacy(bytes)).toBe(field);
    let e: unknown;
    try {
      new LegacyRing(bytes);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(AioError);
    expect(e).toMatchObject({ code: 'EINVAL', errno: -22, syscall: 'aioring', field });
  });

  test.each([
    ['magic', V2Header.magic, 0xa10a10a1],
    ['incompat_features', V2Header.incompat_features, 3],
    ['compat_features', V2Header.compat_features, 2],
    ['header_length', V2Header.header_length, 32],
    ['version', V2Header.version, 2],
    ['nr', V2Header.entries, 12],
    ['nr', V2Header.nr, 16],
    ['mask', V2Header.mask, 15],
    ['entries_offset', V2Header.entries_offset, 32],
    ['features', V2Header.features, FEAT_ALL + 1],
    ['size', V2Header.ring_bytes_lo, 1 << 20],
    ['head', V2Header.legacy_head, 1],
    ['tail', V2Header.tail, 9],
  ])('v2: bad %s is named (word at %i = %i)', (field, offset, value) => {
    const bytes = withWord(v2Ring(8), offset, value);
    expect(tsField(validateV2Header, bytes)).toBe(field);
    expect(testAddon.validateV2(bytes)).toBe(field);
    expect(() => new V2Ring(bytes)).toThrow(expect.objectContaining({ code: 'EINVAL', field }));
  });

  test.each([
    ['lease_count', V2Header.lease_count, 0],
    ['lease_count', V2Header.lease_count, 65],
    ['lease_count', V2Header.lease_offset, 512],
    ['size', V2Header.lease_count, 3],
    ['features', V2Header.features, FEAT_LEASES],
    ['claim', V2Header.claim, 1],
  ])('leased v2: bad %s is named (word at %i = %i)', (field, offset, value) => {
    const bytes = withWord(leasedRing(8, 2), offset, value);
    expect(tsField(validateV2Header, bytes)).toBe(field);
    expect(testAddon.validateV2(bytes)).toBe(field);
  });

  test('a ring without leases keeps the lease words zero', () => {
    const bytes = withWord(v2Ring(8), V2Header.lease_count, 1);
    expect([tsField(validateV2Header, bytes), testAddon.validateV2(bytes)]).toEqual(['lease_count', 'lease_count']);
    expect(() => V2Ring.format(new Uint8Array(v2RingBytes(8)), 8, { features: FEAT_LEASES })).toThrow(
      expect.objectContaining({ code: 'EINVAL', field: 'features' }),
    );
  });

  test('a mapping too short for the header, or for nr entries, is rejected by size or nr', () => {
    const legacy = legacyRing(8);
    for (let len = 0; len < legacy.length; len += 4) {
      const cut = legacy.subarray(0, len);
      const expected = len < 32 ? 'size' : 'nr';
      expect([len, tsField(validateLegacyHeader, cut), testAddon.validateLegacy(cut)]).toEqual([len, expected, expected]);
    }
    const v2 = v2Ring(8);
    for (let len = 0; len < v2.length; len += 8) {
      const cut = v2.subarray(0, len);
      expect([len, tsField(validateV2Header, cut), testAddon.validateV2(cut)]).toEqual([len, 'size', 'size']);
    }
  });

  test('property: random and mutated headers get the same verdict from C and TypeScript, and only typed errors', () => {
    const base = [legacyRing(8), legacyRing(127), v2Ring(8), v2Ring(64), leasedRing(8, 2), leasedRing(4, 4)];
    const mutated = fc
      .tuple(
        fc.constantFrom(...base),
        fc.array(fc.tuple(fc.nat(600), fc.nat(255)), { maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(127), fc.constantFrom(0, 1, 2, 7, 8, 9, 64, 127, 128, 0xa10a10a1, 0xa10a10a2, 0xffffffff)), {
          maxLength: 4,
        }),
        fc.nat(2700),
      )
      .map(([b, byteEdits, wordEdits, len]) => {
        const copy = new Uint8Array(b.length + 64);
        copy.set(b);
        for (const [at, v] of byteEdits) if (at < copy.length) copy[at] = v;
        const dv = new DataView(copy.buffer);
        for (const [word, v] of wordEdits) if (word * 4 + 4 <= copy.length) dv.setUint32(word * 4, v, true);
        return copy.subarray(0, Math.min(len - (len % 8), copy.length));
      });
    const random = fc.uint8Array({ maxLength: 700 }).map((a) => a.subarray(0, a.length - (a.length % 8)));
    fc.assert(
      fc.property(fc.oneof(mutated, random), (bytes) => {
        const aligned = new Uint8Array(bytes); // fresh buffer: 8-aligned
        expect(testAddon.validateLegacy(aligned)).toBe(tsField(validateLegacyHeader, aligned));
        expect(testAddon.validateV2(aligned)).toBe(tsField(validateV2Header, aligned));
        for (const attach of [() => new LegacyRing(aligned), () => new V2Ring(aligned)]) {
          try {
            attach();
          } catch (e) {
            expect(e).toBeInstanceOf(AioError);
          }
        }
      }),
      { numRuns: 20000 },
    );
  });

  test('bad arguments to the C bindings are typed errors, not crashes', () => {
    expect(() => new testAddon.NativeV2Ring(new Uint8Array(1024), 3)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => new testAddon.NativeLegacyRing(new Uint8Array(64), 100)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => new testAddon.NativeLegacyRing(new Uint8Array(new ArrayBuffer(72), 4))).toThrow(
      expect.objectContaining({ code: 'EINVAL', field: 'buffer' }),
    );
    expect(() => testAddon.validateV2('nope' as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const ring = new testAddon.NativeV2Ring(new Uint8Array(v2RingBytes(8)), 8);
    expect(() => ring.reap(-1)).toThrow(expect.objectContaining({ code: 'EINVAL', field: 'max' }));
    expect(() => ring.produce(Number.NaN, 0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});
