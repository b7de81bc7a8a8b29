// The legacy ring with the kernel's semantics (fs/aio.c), over JavaScript
// memory. Same algorithm as native/core/legacy_ring.c.
//
// Ownership: the producer owns tail and keeps trusted copies of tail and nr;
// it reads head only for free space, clamped with % nr since userspace can
// write it. The consumer owns head: empty is a raw head == tail compare, then
// both are normalised with % nr, chunks copied, head written back normalised.
import { checkCount, invalid } from './errors';
import { EventBatch, IoEventInit, writeEvent } from './events';
import { AIO_RING_COMPAT_FEATURES, AIO_RING_INCOMPAT_FEATURES, AIO_RING_MAGIC } from './abi';
import { brokenField, HeaderRule, judgeRules, RuleOver, shortHeader } from './headerRules';
import { AioRing, IoEvent } from './layout';
import { memoryGone, RingMemoryLike, RingViewOptions, ringViews } from './ringMemoryView';

const HEAD = AioRing.head / 4;
const TAIL = AioRing.tail / 4;

/** One read of the header words the rules judge, and the mapping's size. */
interface LegacyWords {
  nr: number;
  head: number;
  tail: number;
  magic: number;
  compat_features: number;
  incompat_features: number;
  header_length: number;
  byteLength: number;
}

/** The words of a view holding at least a header; null for a shorter one. */
function legacyWords(u32: Uint32Array, byteLength: number): LegacyWords | null {
  if (byteLength < AioRing.size || u32.length < AioRing.size / 4) return null;
  return {
    nr: u32[AioRing.nr / 4],
    head: Atomics.load(u32, HEAD),
    tail: Atomics.load(u32, TAIL),
    magic: u32[AioRing.magic / 4],
    compat_features: u32[AioRing.compat_features / 4],
    incompat_features: u32[AioRing.incompat_features / 4],
    header_length: u32[AioRing.header_length / 4],
    byteLength,
  };
}

const fits = (w: LegacyWords): number => Math.floor((w.byteLength - AioRing.size) / IoEvent.size);

/** The rules of a legacy header, in the order native/core/legacy_ring.c checks them. */
const LEGACY_RULES: readonly RuleOver<LegacyWords>[] = [
  { field: 'magic', rule: `must be 0x${AIO_RING_MAGIC.toString(16)}`, holds: (w) => w.magic === AIO_RING_MAGIC },
  { field: 'incompat_features', rule: `must be ${AIO_RING_INCOMPAT_FEATURES}`, holds: (w) => w.incompat_features === AIO_RING_INCOMPAT_FEATURES },
  { field: 'compat_features', rule: `must be ${AIO_RING_COMPAT_FEATURES}`, holds: (w) => w.compat_features === AIO_RING_COMPAT_FEATURES },
  { field: 'header_length', rule: `must be ${AioRing.size}`, holds: (w) => w.header_length === AioRing.size },
  { field: 'nr', rule: (w) => `>= 2 and at most ${fits(w)} fit in ${w.byteLength} bytes`, holds: (w) => w.nr >= 2 && w.nr <= fits(w) },
  { field: 'head', rule: '< nr', holds: (w) => w.head < w.nr },
  { field: 'tail', rule: '< nr', holds: (w) => w.tail < w.nr },
];

/**
 * The field a legacy header gets wrong, or null when it is a valid ring for
 * a mapping of byteLength bytes. Never reads outside the view.
 */
export function validateLegacyHeader(u32: Uint32Array, byteLength: number): string | null {
  const r = checkLegacyHeader(u32, byteLength);
  return typeof r === 'string' ? r : null;
}

/** Every rule validateLegacyHeader holds a header to, with its verdict, in the order it checks them. */
export function legacyHeaderRules(u32: Uint32Array, byteLength: number): HeaderRule[] {
  const w = legacyWords(u32, byteLength);
  return w === null ? shortHeader(AioRing.size) : judgeRules(LEGACY_RULES, w);
}

/** The bad field, or the nr that was checked (bind with it: never re-read). */
function checkLegacyHeader(u32: Uint32Array, byteLength: number): string | number {
  const w = legacyWords(u32, byteLength);
  if (w === null) return 'size';
  return brokenField(LEGACY_RULES, w) ?? w.nr;
}

export class LegacyRing {
  /** entries in the ring: the trusted copy taken when attaching */
  readonly nr: number;
  readonly byteLength: number;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  /** the producer's trusted tail */
  private tailLocal: number;

  /** Write an empty kernel-shaped header for nr entries, then attach. */
  static format(memory: RingMemoryLike, nr: number, options?: RingViewOptions): LegacyRing {
    const { u32, byteLength } = ringViews(memory, options);
    if (!Number.isInteger(nr) || nr < 2 || AioRing.size + nr * IoEvent.size > byteLength) {
      throw invalid('nr must be >= 2 and fit the buffer', 'nr');
    }
    u32[AioRing.id / 4] = 0xffff_ffff;
    u32[AioRing.nr / 4] = nr;
    u32[AioRing.magic / 4] = AIO_RING_MAGIC;
    u32[AioRing.compat_features / 4] = AIO_RING_COMPAT_FEATURES;
    u32[AioRing.incompat_features / 4] = AIO_RING_INCOMPAT_FEATURES;
    u32[AioRing.header_length / 4] = AioRing.size;
    Atomics.store(u32, HEAD, 0);
    Atomics.store(u32, TAIL, 0);
    return new LegacyRing(memory, options);
  }

  /** Attach to a ring already in memory (the kernel's, or one formatted here). */
  constructor(memory: RingMemoryLike, options?: RingViewOptions) {
    const { u8, u32, byteLength } = ringViews(memory, options);
    const nr = checkLegacyHeader(u32, byteLength);
    if (typeof nr === 'string') throw invalid(`invalid legacy ring header: bad ${nr}`, nr);
    this.u8 = u8;
    this.u32 = u32;
    this.byteLength = byteLength;
    this.nr = nr;
    this.tailLocal = Atomics.load(u32, TAIL) % this.nr;
  }

  /**
   * Each call's first check: a resizable buffer may have been shrunk under
   * the ring, or the buffer detached (EINVAL, field buffer).
   */
  private live(): void {
    if (this.u8.byteLength !== this.byteLength) throw memoryGone();
  }

  /** raw shared head (consumer-owned) */
  get head(): number {
    this.live();
    return Atomics.load(this.u32, HEAD);
  }
  /** raw shared tail (producer-owned) */
  get tail(): number {
    this.live();
    return Atomics.load(this.u32, TAIL);
  }

  /** Free slots as the producer sees them; one slot always stays empty. */
  space(): number {
    this.live();
    // Clamp head since userland can write to it.
    const head = Atomics.load(this.u32, HEAD) % this.nr;
    return (head + this.nr - this.tailLocal - 1) % this.nr;
  }

  /** aio_complete: write the event at tail, then publish tail. False when full. */
  produce(ev: IoEventInit): boolean {
    this.live();
    if (this.space() === 0) return false;
    const tail = this.tailLocal;
    writeEvent(this.u32, (AioRing.io_events + tail * IoEvent.size) / 4, ev);
    this.tailLocal = tail + 1 === this.nr ? 0 : tail + 1;
    Atomics.store(this.u32, TAIL, this.tailLocal);
    return true;
  }

  /** Events ready for the consumer. */
  count(): number {
    this.live();
    let head = Atomics.load(this.u32, HEAD);
    let tail = Atomics.load(this.u32, TAIL);
    if (head === tail) return 0;
    head %= this.nr;
    tail %= this.nr;
    return (tail + this.nr - head) % this.nr;
  }

  /** aio_read_events_ring: copy up to max events into batch, write head back. */
  reap(batch: EventBatch, max = batch.capacity): number {
    this.live();
    checkCount(max, 'max');
    const nr = this.nr;
    let head = Atomics.load(this.u32, HEAD);
    let tail = Atomics.load(this.u32, TAIL);
    let got = 0;
    batch.length = 0;
    if (head === tail) return 0;
    head %= nr;
    tail %= nr;
    max = Math.min(max, batch.capacity);
    while (got < max && head !== tail) {
      const avail = Math.min((head <= tail ? tail : nr) - head, max - got);
      const from = AioRing.io_events + head * IoEvent.size;
      batch.bytes.set(this.u8.subarray(from, from + avail * IoEvent.size), got * IoEvent.size);
      got += avail;
      head = (head + avail) % nr;
    }
    Atomics.store(this.u32, HEAD, head);
    batch.length = got;
    return got;
  }
}
