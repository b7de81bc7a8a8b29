// Ring headers for the validator tests: well-formed rings of both layouts,
// word edits, and the TypeScript verdict as a string.
import { AioRing, IoEvent } from '../src/layout';
import { LegacyRing, validateLegacyHeader } from '../src/legacyRing';
import { V2Ring, v2RingBytes } from '../src/v2Ring';

/** The TypeScript validator's verdict on bytes: the bad field, or 'ok' (as the addon says it). */
export function tsField(validate: typeof validateLegacyHeader, bytes: Uint8Array): string {
  const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.byteLength / 4));
  return validate(u32, bytes.byteLength) ?? 'ok';
}

/** An empty legacy ring of nr entries, exactly as long as they need. */
export function legacyRing(nr: number): Uint8Array {
  const bytes = new Uint8Array(AioRing.size + nr * IoEvent.size);
  LegacyRing.format(bytes, nr);
  return bytes;
}

/** An empty v2 ring of entries, exactly as long as they need. */
export function v2Ring(entries: number, features = 0): Uint8Array {
  const bytes = new Uint8Array(v2RingBytes(entries));
  V2Ring.format(bytes, entries, { features });
  return bytes;
}

/** A copy of bytes with the u32 at offset replaced. */
export function withWord(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  new DataView(copy.buffer).setUint32(offset, value >>> 0, true);
  return copy;
}
