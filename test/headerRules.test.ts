// 06 header validators, their rules as data: what the CLI's header report
// shows is what the validators check, field for field.
import { AioRing, FEAT_MULTI_PRODUCER, V2Header } from '../src/layout';
import { legacyHeaderRules, validateLegacyHeader } from '../src/legacyRing';
import { v2HeaderRules, validateV2Header } from '../src/v2Ring';
import { leasedRing, legacyRing, v2Ring, withWord } from './ringHeaders';

const words = (b: Uint8Array): Uint32Array => new Uint32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);

describe('06 header validators: the rules as data', () => {
  test('a valid ring meets every rule; the leases and multi-producer rules apply only to rings that use them', () => {
    const legacy = legacyRing(8);
    expect(legacyHeaderRules(words(legacy), legacy.byteLength).filter((r) => !r.ok)).toEqual([]);
    for (const b of [v2Ring(8), v2Ring(8, FEAT_MULTI_PRODUCER), leasedRing(8, 2)]) expect(v2HeaderRules(words(b), b.byteLength).filter((r) => !r.ok)).toEqual([]);
    const wordsOf = (b: Uint8Array): string[] => v2HeaderRules(words(b), b.byteLength).flatMap((r) => r.words);
    expect(wordsOf(v2Ring(8))).not.toEqual(expect.arrayContaining(['claim']));
    expect(wordsOf(v2Ring(8))).not.toEqual(expect.arrayContaining(['prod_reserve']));
    expect(wordsOf(v2Ring(8, FEAT_MULTI_PRODUCER))).toEqual(expect.arrayContaining(['prod_reserve']));
    expect(wordsOf(leasedRing(8, 2))).toEqual(expect.arrayContaining(['claim', 'lease_offset', 'lease_count']));
  });

  test.each([
    ['legacy', AioRing.incompat_features, 1, 'incompat_features', 'must be 0'],
    ['legacy', AioRing.head, 8, 'head', '< nr'],
    ['v2', V2Header.mask, 15, 'mask', 'must be entries - 1'],
    ['v2', V2Header.legacy_head, 1, 'head', 'legacy_head == legacy_tail'],
  ] as const)('%s: the first rule broken is the validator\'s field (word at %i = %i: %s, %s)', (layout, offset, value, field, rule) => {
    const b = withWord(layout === 'legacy' ? legacyRing(8) : v2Ring(8), offset, value);
    const rules = layout === 'legacy' ? legacyHeaderRules(words(b), b.byteLength) : v2HeaderRules(words(b), b.byteLength);
    const validate = layout === 'legacy' ? validateLegacyHeader : validateV2Header;
    expect(rules.find((r) => !r.ok)).toMatchObject({ field, rule });
    expect(validate(words(b), b.byteLength)).toBe(field);
  });

  test('a view shorter than a header breaks one rule, size', () => {
    const b = legacyRing(8).subarray(0, 16);
    expect(legacyHeaderRules(words(b), b.byteLength)).toEqual([{ field: 'size', words: [], rule: 'at least a header: 32 bytes', ok: false }]);
    expect(v2HeaderRules(words(b), b.byteLength)).toEqual([{ field: 'size', words: [], rule: 'at least a header: 512 bytes', ok: false }]);
  });
});
