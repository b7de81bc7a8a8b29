// Ring headers for the validator tests: well-formed rings of both layouts,
// word edits, the TypeScript verdict as a string, and a seeded generator of
// random and mutated headers (test/compat/badInput.test.ts).
import { AIO_RING_MAGIC, AioRing, AIORING_V2_MAGIC, AIORING_V2_MAX_ENTRIES, IoEvent, V2Header } from '../src/layout';
import { LegacyRing, validateLegacyHeader } from '../src/legacyRing';
import { testAddon } from './native';
import { V2Ring, v2RingBytes, v2RingBytesLeased } from '../src/v2Ring';

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

/**
 * An empty v2 ring of entries, exactly as long as it needs; with leases, a
 * leased ring (features then gain MULTI_CONSUMER and LEASES).
 */
export function v2Ring(entries: number, features = 0, leases = 0): Uint8Array {
  const bytes = new Uint8Array(leases ? v2RingBytesLeased(entries, leases) : v2RingBytes(entries));
  V2Ring.format(bytes, entries, { features: features & ~featLeases, leases });
  return bytes;
}

/** An empty leased v2 ring. */
export function leasedRing(entries: number, leases: number): Uint8Array {
  return v2Ring(entries, 0, leases);
}

/** A copy of bytes with the u32 at offset replaced. */
export function withWord(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  new DataView(copy.buffer).setUint32(offset, value >>> 0, true);
  return copy;
}

/** The feature bits the C core knows, from its own layout.h (so new bits are fuzzed as they come). */
export const featAll = testAddon.layout.AIORING_FEAT_ALL;
export const featMultiProducer = testAddon.layout.AIORING_FEAT_MULTI_PRODUCER;
export const featMultiConsumer = testAddon.layout.AIORING_FEAT_MULTI_CONSUMER;
export const featUserReap = testAddon.layout.AIORING_FEAT_USER_REAP;
export const featLeases = testAddon.layout.AIORING_FEAT_LEASES;

/** The event a generated ring holds in slot i: data i + 1, res i. */
export function slotData(slot: number): number {
  return slot + 1;
}

export interface HeaderCase {
  /** the ring's bytes; only the first len count */
  bytes: Uint8Array;
  /** the mapping length the validators are told */
  len: number;
  /** slots below this hold data slotData(slot) */
  known: number;
  /** which layout it was made from (random: neither) */
  from: 'legacy' | 'v2' | 'random';
}

const MAX_RING = 64 * 1024;
const LEGACY_SIZES = [2, 3, 4, 8, 63, 127, 128, 255];
const FIXED = [0, 1, 2, 3, 4, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff, AIO_RING_MAGIC, AIORING_V2_MAGIC, AioRing.size, V2Header.size, AIORING_V2_MAX_ENTRIES, AIORING_V2_MAX_ENTRIES * 2];

/**
 * Random and mutated ring headers from a seeded generator: well-formed
 * legacy and v2 rings (random indices, v2's often near the u32 wrap, random
 * feature subsets), two in three then changed by one to three mutations
 * (a word set to a boundary value, a bit flip, a byte, corrupt head / tail /
 * prod_reserve, a feature bit, a truncated or stretched length, the size
 * words), and one case in ten plain random bytes.
 */
export class HeaderFuzzer {
  private readonly scratch = new Uint8Array(MAX_RING);
  private readonly dv = new DataView(this.scratch.buffer);
  /** well-formed rings by geometry, formatted once */
  private readonly bases = new Map<string, Uint8Array>();
  private len = 0;
  private known = 0;

  constructor(private readonly next: () => number) {}

  private rnd(n: number): number {
    return n > 0 ? this.next() % n : 0;
  }

  private word(offset: number, v?: number): number {
    if (v !== undefined) this.dv.setUint32(offset, v >>> 0, true);
    return this.dv.getUint32(offset, true);
  }

  private boundary(n: number): number {
    switch (this.rnd(4)) {
      case 0:
        return FIXED[this.rnd(FIXED.length)];
      case 1:
        return (n + this.rnd(3) - 1) >>> 0;
      case 2:
        return (2 * n + this.rnd(3) - 1) >>> 0;
      default:
        return this.next();
    }
  }

  /** A ring with data in every slot, formatted once per geometry. */
  private base(key: string, make: () => Uint8Array, slots: number, at: number): Uint8Array {
    let ring = this.bases.get(key);
    if (ring === undefined) {
      ring = make();
      const dv = new DataView(ring.buffer);
      for (let i = 0; i < slots; i++) dv.setUint32(at + i * IoEvent.size + IoEvent.data, slotData(i), true);
      for (let i = 0; i < slots; i++) dv.setUint32(at + i * IoEvent.size + IoEvent.res, i, true);
      this.bases.set(key, ring);
    }
    return ring;
  }

  private makeLegacy(): { n: number; headerBytes: number } {
    const nr = this.rnd(4) ? LEGACY_SIZES[this.rnd(LEGACY_SIZES.length)] : 2 + this.rnd(254);
    const ring = this.base(`legacy ${nr}`, () => legacyRing(nr), nr, AioRing.io_events);
    this.scratch.set(ring);
    this.word(AioRing.head, this.rnd(nr));
    this.word(AioRing.tail, this.rnd(nr));
    this.len = this.rnd(2) ? ring.length : Math.ceil(ring.length / 4096) * 4096;
    this.scratch.fill(0, ring.length, this.len);
    this.known = nr;
    return { n: nr, headerBytes: AioRing.size };
  }

  private makeV2(): { n: number; headerBytes: number } {
    const entries = 1 << this.rnd(8);
    const features = this.next() & featAll;
    const leases = features & featLeases ? 1 + this.rnd(4) : 0;
    const ring = this.base(`v2 ${entries} ${features} ${leases}`, () => v2Ring(entries, features, leases), entries, V2Header.size);
    this.scratch.set(ring);
    const used = this.rnd(entries + 1);
    const head = this.rnd(2) ? this.next() : (-this.rnd(2 * entries + 1)) >>> 0;
    const tail = (head + used) >>> 0;
    this.word(V2Header.head, head);
    this.word(V2Header.tail, tail);
    this.word(V2Header.prod_reserve, tail + this.rnd(entries - used + 1));
    if (leases) this.word(V2Header.claim, head + this.rnd(used + 1));
    const frozen = this.rnd(4) ? 0 : this.next();
    this.word(V2Header.legacy_head, frozen);
    this.word(V2Header.legacy_tail, frozen);
    this.len = this.rnd(3) ? ring.length : ring.length + 8 * this.rnd(512);
    this.scratch.fill(0, ring.length, this.len);
    this.known = entries;
    return { n: entries, headerBytes: V2Header.size };
  }

  private corruptIndices(v2: boolean, n: number): void {
    if (!v2) {
      this.word(this.rnd(2) ? AioRing.head : AioRing.tail, this.rnd(2) ? n + this.rnd(3) : this.boundary(n));
      return;
    }
    const head = this.word(V2Header.head);
    const tail = this.word(V2Header.tail);
    switch (this.rnd(6)) {
      case 5:
        this.word(V2Header.claim, this.rnd(2) ? head - 1 : tail + 1 + this.rnd(3));
        break;
      case 0:
        this.word(V2Header.tail, head + n + 1 + this.rnd(3));
        break;
      case 1:
        this.word(V2Header.tail, head - 1 - this.rnd(3));
        break;
      case 2:
        this.word(V2Header.head, this.boundary(n));
        break;
      case 3:
        this.word(V2Header.prod_reserve, this.rnd(2) ? tail - 1 : head + n + 1);
        break;
      default:
        this.word(V2Header.legacy_tail, this.word(V2Header.legacy_head) + 1);
    }
  }

  private mutate(v2: boolean, n: number, headerBytes: number): void {
    const ringLen = this.len;
    switch (this.rnd(7)) {
      case 0:
        this.word(4 * this.rnd(headerBytes / 4), this.boundary(n));
        break;
      case 1:
        this.scratch[this.rnd(headerBytes)] ^= 1 << this.rnd(8);
        break;
      case 2:
        this.scratch[this.rnd(headerBytes)] = this.rnd(256);
        break;
      case 3:
        this.corruptIndices(v2, n);
        break;
      case 4: {
        const at = v2 ? V2Header.features : AioRing.incompat_features;
        this.word(at, this.word(at) ^ (1 << this.rnd(32)));
        break;
      }
      case 5: {
        const lengths = [this.rnd(headerBytes + 1), ringLen - 1 - this.rnd(64), ringLen - 32, ringLen + 1 + this.rnd(4096), this.rnd(MAX_RING)];
        this.len = Math.max(0, Math.min(MAX_RING, lengths[this.rnd(lengths.length)]));
        break;
      }
      default:
        if (v2) this.word(this.rnd(2) ? V2Header.ring_bytes_lo : V2Header.ring_bytes_hi, this.boundary(n));
        else this.word(AioRing.nr, this.boundary(n));
    }
  }

  private makeRandom(): void {
    this.len = this.rnd(4) ? this.rnd(1024) : this.rnd(MAX_RING);
    for (let i = 0; i + 4 <= this.len; i += 4) this.word(i, this.next());
    for (let i = this.len & ~3; i < this.len; i++) this.scratch[i] = this.rnd(256);
    if (this.len >= AioRing.size && this.rnd(2)) this.word(AioRing.magic, this.rnd(2) ? AIO_RING_MAGIC : AIORING_V2_MAGIC);
    this.known = 0;
  }

  /** The next case; its bytes are overwritten by the call after. */
  nextCase(): HeaderCase {
    const kind = this.rnd(10);
    if (kind === 0) {
      this.makeRandom();
      return { bytes: this.scratch, len: this.len, known: 0, from: 'random' };
    }
    const v2 = kind > 5;
    const { n, headerBytes } = v2 ? this.makeV2() : this.makeLegacy();
    const generated = this.len;
    for (let m = this.rnd(3) ? 1 + this.rnd(3) : 0; m > 0; m--) this.mutate(v2, n, headerBytes);
    if (this.len > generated) this.scratch.fill(0, generated, this.len);
    // a truncated ring keeps only the slots still wholly inside it
    const slotsIn = Math.max(0, Math.floor((this.len - headerBytes) / IoEvent.size));
    return { bytes: this.scratch, len: this.len, known: Math.min(this.known, slotsIn), from: v2 ? 'v2' : 'legacy' };
  }
}
