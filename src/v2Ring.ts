// The v2 ring over JavaScript memory. Same algorithms as
// native/core/v2_ring.c.
//
// Ownership: tail and prod_reserve belong to producers, head to consumers.
// A single producer (consumer) keeps its index privately and a cached copy
// of the other side's, refreshed only when the cache cannot satisfy the
// request (fewer free slots, or fewer ready events, than asked for).
// Several producers reserve with CAS on prod_reserve and publish tail in
// reservation order; several consumers copy, then CAS head forward. Indices
// are free-running u32, masked on use; tail - head > entries means the
// shared indices are corrupt (EUCLEAN).
import { constants } from 'node:os';
import { AioError, checkCount, EUCLEAN, invalid } from './errors';
import { EventBatch, IoEventInit, writeEvent } from './events';
import {
  AIO_RING_COMPAT_FEATURES,
  AIORING_CACHELINE,
  AIORING_CLAIM_RETRIES,
  AIORING_FEAT_ALL,
  AIORING_FEAT_LEASES,
  AIORING_FEAT_MULTI_CONSUMER,
  AIORING_FEAT_MULTI_PRODUCER,
  AIORING_INCOMPAT_V2,
  AIORING_V2_MAGIC,
  AIORING_V2_MAX_ENTRIES,
  AIORING_PUBLISH_SPINS,
  AIORING_PUBLISH_TIMEOUT_MS,
  AIORING_V2_MAX_LEASES,
  AIORING_V2_VERSION,
} from './abi';
import { brokenField, HeaderRule, judgeRules, RuleOver, shortHeader } from './headerRules';
import { IoEvent, V2Header, V2Lease } from './layout';
import { memoryGone, RingMemoryLike, RingViewOptions, ringViews } from './ringMemoryView';

const HEAD = V2Header.head / 4;
const TAIL = V2Header.tail / 4;
const RESERVE = V2Header.prod_reserve / 4;
const CLAIM = V2Header.claim / 4;
const PUBLISH_NAP_MS = 0.05;
const napCell = new Int32Array(new SharedArrayBuffer(4));
const ETIMEDOUT = constants.errno.ETIMEDOUT;

function isPowerOfTwo(x: number): boolean {
  return Number.isInteger(x) && x > 0 && (x & (x - 1)) === 0;
}

/** Bytes a v2 ring of entries needs: the header plus the entries. */
export function v2RingBytes(entries: number): number {
  return V2Header.size + entries * IoEvent.size;
}

/** Where a leased ring's lease table starts: after the entries, line-aligned. */
export function v2LeaseOffset(entries: number): number {
  return Math.ceil(v2RingBytes(entries) / AIORING_CACHELINE) * AIORING_CACHELINE;
}

/** Bytes a ring of entries with a table of leases needs (FEAT_LEASES). */
export function v2RingBytesLeased(entries: number, leases: number): number {
  return v2LeaseOffset(entries) + leases * V2Lease.size;
}

/** One read of the header words the rules judge, and the mapping's size. */
interface V2Words {
  magic: number;
  incompat_features: number;
  compat_features: number;
  header_length: number;
  version: number;
  entries: number;
  nr: number;
  mask: number;
  entries_offset: number;
  features: number;
  lease_count: number;
  lease_offset: number;
  setup_flags: number;
  ring_bytes: number;
  legacy_head: number;
  legacy_tail: number;
  head: number;
  tail: number;
  prod_reserve: number;
  claim: number;
  byteLength: number;
}

/** The words of a view holding at least a header; null for a shorter one. */
function v2Words(u32: Uint32Array, byteLength: number): V2Words | null {
  if (byteLength < V2Header.size || u32.length < V2Header.size / 4) return null;
  const w = (field: keyof typeof V2Header): number => u32[V2Header[field] / 4];
  return {
    magic: w('magic'),
    incompat_features: w('incompat_features'),
    compat_features: w('compat_features'),
    header_length: w('header_length'),
    version: w('version'),
    entries: w('entries'),
    nr: w('nr'),
    mask: w('mask'),
    entries_offset: w('entries_offset'),
    features: w('features'),
    lease_count: w('lease_count'),
    lease_offset: w('lease_offset'),
    setup_flags: w('setup_flags'),
    ring_bytes: w('ring_bytes_hi') * 0x1_0000_0000 + w('ring_bytes_lo'),
    legacy_head: w('legacy_head'),
    legacy_tail: w('legacy_tail'),
    head: Atomics.load(u32, HEAD),
    tail: Atomics.load(u32, TAIL),
    prod_reserve: Atomics.load(u32, RESERVE),
    claim: Atomics.load(u32, CLAIM),
    byteLength,
  };
}

const leased = (w: V2Words): boolean => (w.features & AIORING_FEAT_LEASES) !== 0;
const used = (w: V2Words): number => (w.tail - w.head) >>> 0;
const wantBytes = (w: V2Words): number => (leased(w) ? v2RingBytesLeased(w.entries, w.lease_count) : v2RingBytes(w.entries));

/** The rules of a v2 header, in the order native/core/v2_ring.c checks them. */
const V2_RULES: readonly RuleOver<V2Words>[] = [
  { field: 'magic', rule: `must be 0x${AIORING_V2_MAGIC.toString(16)}`, holds: (w) => w.magic === AIORING_V2_MAGIC },
  { field: 'incompat_features', rule: `must be ${AIORING_INCOMPAT_V2}`, holds: (w) => w.incompat_features === AIORING_INCOMPAT_V2 },
  { field: 'compat_features', rule: `must be ${AIO_RING_COMPAT_FEATURES}`, holds: (w) => w.compat_features === AIO_RING_COMPAT_FEATURES },
  { field: 'header_length', rule: `must be ${V2Header.size}`, holds: (w) => w.header_length === V2Header.size },
  { field: 'version', rule: `must be ${AIORING_V2_VERSION}`, holds: (w) => w.version === AIORING_V2_VERSION },
  {
    field: 'nr',
    words: ['entries'],
    rule: `a power of two up to ${AIORING_V2_MAX_ENTRIES}`,
    holds: (w) => isPowerOfTwo(w.entries) && w.entries <= AIORING_V2_MAX_ENTRIES,
  },
  { field: 'nr', rule: 'must equal entries', holds: (w) => w.nr === w.entries },
  { field: 'mask', rule: 'must be entries - 1', holds: (w) => w.mask === w.entries - 1 },
  { field: 'entries_offset', rule: `must be ${V2Header.size}`, holds: (w) => w.entries_offset === V2Header.size },
  { field: 'features', rule: `no bits outside FEAT_ALL (0x${AIORING_FEAT_ALL.toString(16)})`, holds: (w) => (w.features & ~AIORING_FEAT_ALL) === 0 },
  {
    field: 'features',
    applies: leased,
    rule: `leases (${AIORING_FEAT_LEASES}) only with multi-consumer (${AIORING_FEAT_MULTI_CONSUMER})`,
    holds: (w) => (w.features & AIORING_FEAT_MULTI_CONSUMER) !== 0,
  },
  {
    field: 'lease_count',
    rule: (w) => (leased(w) ? `1 to ${AIORING_V2_MAX_LEASES} leases` : '0 without leases'),
    holds: (w) => (leased(w) ? w.lease_count >= 1 && w.lease_count <= AIORING_V2_MAX_LEASES : w.lease_count === 0),
  },
  {
    field: 'lease_count',
    words: ['lease_offset'],
    rule: (w) => (leased(w) ? `${v2LeaseOffset(w.entries)} (after the entries, line-aligned)` : '0 without leases'),
    holds: (w) => w.lease_offset === (leased(w) ? v2LeaseOffset(w.entries) : 0),
  },
  {
    field: 'size',
    words: ['ring_bytes'],
    rule: (w) =>
      `${wantBytes(w)} (header + entries * ${IoEvent.size}${leased(w) ? ` + ${w.lease_count} leases * ${V2Lease.size}` : ''}), within the ${w.byteLength} bytes`,
    holds: (w) => w.ring_bytes === wantBytes(w) && w.ring_bytes <= w.byteLength,
  },
  { field: 'head', words: ['legacy_head', 'legacy_tail'], rule: 'legacy_head == legacy_tail', holds: (w) => w.legacy_head === w.legacy_tail },
  { field: 'tail', words: ['tail', 'head'], rule: 'tail - head <= entries', holds: (w) => used(w) <= w.entries },
  {
    field: 'tail',
    words: ['prod_reserve'],
    applies: (w) => (w.features & AIORING_FEAT_MULTI_PRODUCER) !== 0,
    rule: 'tail <= prod_reserve <= head + entries',
    holds: (w) => ((w.prod_reserve - w.tail) >>> 0) <= w.entries - used(w),
  },
  { field: 'claim', applies: leased, rule: 'head <= claim <= tail', holds: (w) => ((w.claim - w.head) >>> 0) <= used(w) },
];

/**
 * The field a v2 header gets wrong, or null when it is a valid ring for a
 * mapping of byteLength bytes. Never reads outside the view.
 */
export function validateV2Header(u32: Uint32Array, byteLength: number): string | null {
  const r = checkV2Header(u32, byteLength);
  return typeof r === 'string' ? r : null;
}

/** Every rule validateV2Header holds a header to, with its verdict, in the order it checks them. */
export function v2HeaderRules(u32: Uint32Array, byteLength: number): HeaderRule[] {
  const w = v2Words(u32, byteLength);
  return w === null ? shortHeader(V2Header.size) : judgeRules(V2_RULES, w);
}

/** The bad field, or the words that were checked (bind with them: never re-read). */
function checkV2Header(u32: Uint32Array, byteLength: number): string | V2Words {
  const w = v2Words(u32, byteLength);
  if (w === null) return 'size';
  return brokenField(V2_RULES, w) ?? w;
}

export interface V2FormatOptions extends RingViewOptions {
  /** agreed feature bits (FEAT_*) */
  features?: number;
  /** the setup flags the ring was made with */
  setupFlags?: number;
  /**
   * a lease table of this many leases (1-64) for consumers in several
   * processes; sets FEAT_MULTI_CONSUMER | FEAT_LEASES
   */
  leases?: number;
}

function publishTimedOut(start: number, timeoutMs: number): AioError {
  const why = 'a producer died between reserve and publish, or is stalled';
  return new AioError(ETIMEDOUT, 'aioring', `the reservations before ${start} were not published within ${timeoutMs} ms (${why})`, 'start');
}

function corrupt(): AioError {
  return new AioError(EUCLEAN, 'aioring', 'ring indices are corrupt: tail - head > entries', 'tail');
}

export class V2Ring {
  /** trusted copies taken when attaching */
  readonly entries: number;
  readonly mask: number;
  readonly features: number;
  readonly setupFlags: number;
  readonly byteLength: number;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  // single producer's private tail and cached head
  private tailLocal: number;
  private headCache: number;
  // single consumer's private head and cached tail
  private headLocal: number;
  private tailCache: number;
  /** first slot of the last mpReserve */
  reservedStart = 0;

  /** Format an empty ring of entries (a power of two), then attach. */
  static format(memory: RingMemoryLike, entries: number, options: V2FormatOptions = {}): V2Ring {
    const { u32, byteLength } = ringViews(memory, options);
    const leases = options.leases ?? 0;
    let features = options.features ?? 0;
    const setupFlags = options.setupFlags ?? 0;
    if (!isPowerOfTwo(entries) || entries > AIORING_V2_MAX_ENTRIES) {
      throw invalid('entries must be a power of two up to 2^24', 'entries');
    }
    if (!Number.isInteger(features) || (features & ~AIORING_FEAT_ALL) !== 0) {
      throw invalid('unknown feature bits', 'features');
    }
    if (!Number.isInteger(leases) || leases < 0 || leases > AIORING_V2_MAX_LEASES) {
      throw invalid(`leases must be 0 to ${AIORING_V2_MAX_LEASES}`, 'leases');
    }
    if ((features & AIORING_FEAT_LEASES) !== 0 && leases === 0) throw invalid('FEAT_LEASES needs options.leases', 'features');
    if (leases) features |= AIORING_FEAT_MULTI_CONSUMER | AIORING_FEAT_LEASES;
    const bytes = leases ? v2RingBytesLeased(entries, leases) : v2RingBytes(entries);
    if (bytes > byteLength) throw invalid('the ring does not fit the buffer', 'entries');
    if (!Number.isInteger(setupFlags) || setupFlags < 0 || setupFlags > 0xffff_ffff) {
      throw invalid('setupFlags must be a u32', 'setupFlags');
    }
    u32.fill(0, 0, V2Header.size / 4);
    const set = (field: keyof typeof V2Header, v: number): void => {
      u32[V2Header[field] / 4] = v;
    };
    set('id', 0xffff_ffff);
    set('nr', entries);
    set('magic', AIORING_V2_MAGIC);
    set('compat_features', AIO_RING_COMPAT_FEATURES);
    set('incompat_features', AIORING_INCOMPAT_V2);
    set('header_length', V2Header.size);
    set('version', AIORING_V2_VERSION);
    set('entries', entries);
    set('mask', entries - 1);
    set('features', features);
    set('setup_flags', setupFlags);
    set('entries_offset', V2Header.size);
    set('ring_bytes_lo', bytes >>> 0);
    set('ring_bytes_hi', Math.floor(bytes / 0x1_0000_0000));
    if (leases) {
      set('lease_offset', v2LeaseOffset(entries));
      set('lease_count', leases);
      u32.fill(0, v2LeaseOffset(entries) / 4, bytes / 4);
    }
    return new V2Ring(memory, options);
  }

  /** Attach to a ring in memory; the header is validated first. */
  constructor(memory: RingMemoryLike, options?: RingViewOptions) {
    const { u8, u32, byteLength } = ringViews(memory, options);
    const w = checkV2Header(u32, byteLength);
    if (typeof w === 'string') throw invalid(`invalid v2 ring header: bad ${w}`, w);
    this.u8 = u8;
    this.u32 = u32;
    this.byteLength = byteLength;
    // the words validated, not a second read another writer may have changed since
    this.entries = w.entries;
    this.mask = this.entries - 1;
    this.features = w.features;
    this.setupFlags = w.setup_flags;
    this.tailLocal = this.tailCache = w.tail;
    this.headLocal = this.headCache = w.head;
  }

  /**
   * Each call's first check: a resizable buffer may have been shrunk under
   * the ring, or the buffer detached (EINVAL, field buffer).
   */
  private live(): void {
    if (this.u8.byteLength !== this.byteLength) throw memoryGone();
  }

  /** shared head: consumers' index */
  get head(): number {
    this.live();
    return Atomics.load(this.u32, HEAD);
  }
  /** shared tail: producers' published index */
  get tail(): number {
    this.live();
    return Atomics.load(this.u32, TAIL);
  }

  /** Single- and multi-producer (consumer) calls must not mix on one ring. */
  private mode(feature: number, wanted: boolean, call: string): void {
    if (((this.features & feature) !== 0) !== wanted) {
      const what = feature === AIORING_FEAT_MULTI_PRODUCER ? 'multi-producer' : 'multi-consumer';
      throw invalid(`${call} ${wanted ? 'needs' : 'cannot be used on'} a ring formatted ${what}`, 'features');
    }
  }

  /** Events published and not yet consumed. */
  count(): number {
    this.live();
    const head = Atomics.load(this.u32, HEAD);
    const used = (Atomics.load(this.u32, TAIL) - head) >>> 0;
    if (used > this.entries) throw corrupt();
    return used;
  }

  /** Single producer: free slots, up to want, from this.nextTail on. */
  reserve(want: number): number {
    this.live();
    checkCount(want, 'want');
    this.mode(AIORING_FEAT_MULTI_PRODUCER, false, 'reserve');
    let used = (this.tailLocal - this.headCache) >>> 0;
    if (used > this.entries || this.entries - used < want) {
      this.headCache = Atomics.load(this.u32, HEAD);
      used = (this.tailLocal - this.headCache) >>> 0;
      if (used > this.entries) throw corrupt();
    }
    return Math.min(this.entries - used, want);
  }

  /** The single producer's next free-running index. */
  get nextTail(): number {
    return this.tailLocal;
  }

  /** Fill the slot of free-running index (reserved beforehand). */
  write(index: number, ev: IoEventInit): void {
    this.live();
    writeEvent(this.u32, (V2Header.size + (index & this.mask) * IoEvent.size) / 4, ev);
  }

  /** Single producer: make n reserved, written slots visible. */
  publish(n: number): void {
    this.live();
    checkCount(n, 'n');
    this.tailLocal = (this.tailLocal + n) >>> 0;
    Atomics.store(this.u32, TAIL, this.tailLocal);
  }

  /** reserve + write + publish of one event; false when full. */
  produce(ev: IoEventInit): boolean {
    this.live();
    if (this.reserve(1) === 0) return false;
    this.write(this.tailLocal, ev);
    this.publish(1);
    return true;
  }

  /** Several producers: reserve up to want slots; the first is reservedStart. */
  mpReserve(want: number): number {
    this.live();
    checkCount(want, 'want');
    this.mode(AIORING_FEAT_MULTI_PRODUCER, true, 'mpReserve');
    let first = Atomics.load(this.u32, RESERVE);
    for (let stale = 0; ; ) {
      const used = (first - Atomics.load(this.u32, HEAD)) >>> 0;
      if (used > this.entries) {
        // first went stale while others produced and consumed: look again
        if (++stale === AIORING_CLAIM_RETRIES) throw corrupt();
        first = Atomics.load(this.u32, RESERVE);
        continue;
      }
      const n = Math.min(this.entries - used, want);
      if (n === 0) return 0;
      const seen = Atomics.compareExchange(this.u32, RESERVE, first, (first + n) >>> 0);
      if (seen === first) {
        this.reservedStart = first;
        return n;
      }
      first = seen;
    }
  }

  /**
   * Several producers: publish in reservation order, waiting for the
   * earlier reservations to be published, for at most timeoutMs: a
   * producer that died between reserve and publish would stall this one
   * for ever. Past it, an AioError ETIMEDOUT with nothing published (the
   * reservation stays; a slow producer and a dead one look alike, so the
   * publish may be tried again).
   */
  mpPublish(start: number, n: number, timeoutMs: number = AIORING_PUBLISH_TIMEOUT_MS): void {
    this.live();
    checkCount(start, 'start');
    checkCount(n, 'n');
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) throw invalid('timeoutMs must be a number >= 0', 'timeoutMs');
    let deadline = -1;
    for (let spins = 0; ; spins++) {
      const tail = Atomics.load(this.u32, TAIL);
      if (tail === start) break;
      // tail can only reach start from below: past it, the call is wrong
      if (((start - tail) >>> 0) > this.entries) throw invalid('publish out of reservation order', 'start');
      // otherwise an earlier reservation is still being written by a thread
      // that may be descheduled: after a while, sleep briefly to let it run,
      // and past the deadline (read only once sleeping) give up
      if (spins >= AIORING_PUBLISH_SPINS) {
        if (deadline < 0) deadline = performance.now() + timeoutMs;
        else if (performance.now() >= deadline) throw publishTimedOut(start, timeoutMs);
        Atomics.wait(napCell, 0, 0, PUBLISH_NAP_MS);
      }
    }
    Atomics.store(this.u32, TAIL, (start + n) >>> 0);
  }

  /** Single consumer: events ready from nextHead on, up to max. */
  peek(max: number): number {
    this.live();
    checkCount(max, 'max');
    this.mode(AIORING_FEAT_MULTI_CONSUMER, false, 'peek');
    let ready = (this.tailCache - this.headLocal) >>> 0;
    if (ready < max || ready > this.entries) {
      this.tailCache = Atomics.load(this.u32, TAIL);
      ready = (this.tailCache - this.headLocal) >>> 0;
      if (ready > this.entries) throw corrupt();
    }
    return Math.min(ready, max);
  }

  /** The single consumer's next free-running index. */
  get nextHead(): number {
    return this.headLocal;
  }

  /** Single consumer: hand n consumed slots back to the producer. */
  advance(n: number): void {
    this.live();
    checkCount(n, 'n');
    this.headLocal = (this.headLocal + n) >>> 0;
    Atomics.store(this.u32, HEAD, this.headLocal);
  }

  /** Single consumer: peek + copy into batch + advance. */
  reap(batch: EventBatch, max = batch.capacity): number {
    this.live();
    checkCount(max, 'max'); // as LegacyRing.reap and claimReap: checked before the batch clamps it
    const n = this.peek(Math.min(max, batch.capacity));
    if (n > 0) {
      this.copyOut(this.headLocal, n, batch);
      this.advance(n);
    }
    batch.length = n;
    return n;
  }

  /** Several consumers: copy up to max events, then CAS head past them. */
  claimReap(batch: EventBatch, max = batch.capacity): number {
    this.live();
    checkCount(max, 'max');
    this.mode(AIORING_FEAT_MULTI_CONSUMER, true, 'claimReap');
    if ((this.features & AIORING_FEAT_LEASES) !== 0) {
      throw invalid('a leased ring is reaped with the lease protocol (native/core/v2_lease.h), not claimReap', 'features');
    }
    max = Math.min(max, batch.capacity);
    let head = Atomics.load(this.u32, HEAD);
    batch.length = 0;
    // a failed CAS is another consumer's progress; only a head that stays
    // stale (more than entries ready) over and over means corruption
    for (let stale = 0; ; ) {
      const ready = (Atomics.load(this.u32, TAIL) - head) >>> 0;
      if (ready > this.entries) {
        if (++stale === AIORING_CLAIM_RETRIES) throw corrupt();
        head = Atomics.load(this.u32, HEAD);
        continue;
      }
      const n = Math.min(ready, max);
      if (n === 0) return 0;
      this.copyOut(head, n, batch);
      const seen = Atomics.compareExchange(this.u32, HEAD, head, (head + n) >>> 0);
      if (seen === head) {
        batch.length = n;
        return n;
      }
      head = seen;
    }
  }

  /** Copy n events from free-running index first, in at most two chunks. */
  private copyOut(first: number, n: number, batch: EventBatch): void {
    const at = first & this.mask;
    const chunk = Math.min(this.entries - at, n);
    const from = V2Header.size + at * IoEvent.size;
    batch.bytes.set(this.u8.subarray(from, from + chunk * IoEvent.size), 0);
    if (n > chunk) {
      batch.bytes.set(
        this.u8.subarray(V2Header.size, V2Header.size + (n - chunk) * IoEvent.size),
        chunk * IoEvent.size,
      );
    }
  }
}
