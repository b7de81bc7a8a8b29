// Decode the bytes of a ring of either layout (a ring file, or a live
// process's ring read through /proc/PID/mem): every header field with a
// verdict, the pending events, and what each legacy reader would make of it.
// The library's validators give the overall verdict and the rules each
// word is held to; the report adds what each word is. Works on a private
// copy: nothing here writes the source.
import {
  AIO_RING_MAGIC,
  AioRing,
  AIORING_V2_MAGIC,
  EventBatch,
  FEAT_LEASES,
  FEAT_MULTI_CONSUMER,
  FEAT_MULTI_PRODUCER,
  FEAT_USER_REAP,
  HeaderRule,
  IoEvent,
  legacyHeaderRules,
  LegacyRing,
  V2Header,
  v2HeaderRules,
  V2Ring,
  validateLegacyHeader,
  validateV2Header,
} from '../../src/index';
import { hex, InputError } from '../cli/support';
import { legacyReaderViews, ReaderView } from './legacyReaders';

export interface FieldVerdict {
  field: string;
  offset: number;
  value: number;
  ok: boolean;
  note: string;
}

export interface EventRow {
  /** slot in the ring */
  slot: number;
  data: string;
  obj: string;
  res: string;
  res2: string;
}

export interface RingReport {
  layout: 'legacy' | 'v2';
  bytes: number;
  fields: FieldVerdict[];
  /** the library's verdict: null when valid, else the first bad field */
  invalidField: string | null;
  /** events ready for a consumer (null when the header is invalid) */
  pending: number | null;
  /** the pending events, head first (with { events: true }) */
  events?: EventRow[];
  readers: ReaderView[];
}

/** A private, 8-byte-aligned copy the ring classes can attach to. */
export function privateCopy(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(new ArrayBuffer(bytes.length));
  copy.set(bytes);
  return copy;
}

function u32At(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true);
}

/** Which layout the magic names; bad input when it names neither or the header is cut short. */
export function ringLayout(bytes: Uint8Array, what: string): 'legacy' | 'v2' {
  if (bytes.length < AioRing.size) {
    throw new InputError('EINVAL', 'read', `${what}: truncated: ${bytes.length} bytes, a ring header is ${AioRing.size}`);
  }
  const magic = u32At(bytes, AioRing.magic);
  if (magic === AIO_RING_MAGIC) return 'legacy';
  if (magic === AIORING_V2_MAGIC) {
    if (bytes.length < V2Header.size) {
      throw new InputError('EINVAL', 'read', `${what}: truncated v2 ring: ${bytes.length} bytes, its header is ${V2Header.size}`);
    }
    return 'v2';
  }
  throw new InputError(
    'EINVAL',
    'read',
    `${what}: not a ring: magic ${hex(magic)} is neither legacy ${hex(AIO_RING_MAGIC)} nor v2 ${hex(AIORING_V2_MAGIC)}`,
  );
}

/** What each legacy header word is, in header order; the rules come from the validator. */
const LEGACY_WORDS: [keyof typeof AioRing, string][] = [
  ['id', 'context id (the kernel writes ~0)'],
  ['nr', 'entries'],
  ['head', 'consumer index'],
  ['tail', 'producer index'],
  ['magic', ''],
  ['compat_features', ''],
  ['incompat_features', ''],
  ['header_length', ''],
];

type V2Word = keyof typeof V2Header | 'ring_bytes';

/** What each v2 header word is, in header order; the rules come from the validator. */
const V2_WORDS: [V2Word, string][] = [
  ['id', 'context id'],
  ['nr', 'legacy-shaped'],
  ['legacy_head', 'frozen, so unchecked legacy readers see an empty ring'],
  ['legacy_tail', 'frozen'],
  ['magic', 'the v2 magic (legacy readers that check it fall back)'],
  ['compat_features', ''],
  ['incompat_features', 'the v2 bit (readers that check it fall back)'],
  ['header_length', ''],
  ['version', ''],
  ['entries', ''],
  ['mask', ''],
  ['features', `agreed FEAT_* bits (multi-producer ${FEAT_MULTI_PRODUCER}, multi-consumer ${FEAT_MULTI_CONSUMER}, user reap ${FEAT_USER_REAP}, leases ${FEAT_LEASES})`],
  ['setup_flags', 'the setup flags the ring was made with'],
  ['entries_offset', ''],
  ['ring_bytes', 'the ring\'s size'],
  ['lease_offset', 'where the lease table starts'],
  ['lease_count', 'consumers\' leases'],
  ['tail', 'producers\' free-running index'],
  ['prod_reserve', 'multi-producer reservations'],
  ['head', 'consumers\' free-running index'],
  ['claim', 'claimed up to here (leases)'],
  ['wait_flags', 'a waiter announced (bit 0)'],
  ['wakeups', 'times a producer rang a waiter'],
];

/**
 * One verdict per header word: ok when it meets every rule the validator
 * holds it to, noted with what the word is and those rules. A word only
 * some rings use (claim, in leased ones) is shown when a rule judges it.
 */
function verdicts<W extends string>(words: [W, string][], rules: HeaderRule[], at: (word: W) => { offset: number; value: number }): FieldVerdict[] {
  const rows: FieldVerdict[] = [];
  for (const [word, about] of words) {
    const judged = rules.filter((r) => r.words.includes(word));
    if (word === 'claim' && judged.length === 0) continue;
    const rule = judged.map((r) => r.rule).join('; ');
    rows.push({ field: word, ...at(word), ok: judged.every((r) => r.ok), note: about && rule ? `${about}: ${rule}` : about || rule });
  }
  return rows;
}

function legacyFields(b: Uint8Array, rules: HeaderRule[]): FieldVerdict[] {
  return verdicts(LEGACY_WORDS, rules, (word) => ({ offset: AioRing[word], value: u32At(b, AioRing[word]) }));
}

function v2Fields(b: Uint8Array, rules: HeaderRule[]): FieldVerdict[] {
  return verdicts(V2_WORDS, rules, (word) =>
    word === 'ring_bytes' ? { offset: V2Header.ring_bytes_lo, value: claimedBytes('v2', b) } : { offset: V2Header[word], value: u32At(b, V2Header[word]) },
  );
}

/**
 * Reap every pending event of a ring over a private copy (memory), in ring
 * order. A leased ring's consumers use the lease protocol, so its events
 * are read in place from head on.
 */
export function takeAll(ring: LegacyRing | V2Ring, memory: Uint8Array): EventBatch {
  const batch = new EventBatch(Math.max(1, ring.count()));
  if (ring instanceof LegacyRing) {
    ring.reap(batch);
  } else if (ring.features & FEAT_LEASES) {
    const n = ring.count();
    for (let i = 0; i < n; i++) {
      const at = V2Header.size + (((ring.head + i) & ring.mask) >>> 0) * IoEvent.size;
      batch.bytes.set(memory.subarray(at, at + IoEvent.size), i * IoEvent.size);
    }
    batch.length = n;
  } else if (ring.features & FEAT_MULTI_CONSUMER) {
    ring.claimReap(batch);
  } else {
    ring.reap(batch);
  }
  return batch;
}

function eventRows(ring: LegacyRing | V2Ring, memory: Uint8Array, firstSlot: number, slots: number): EventRow[] {
  const batch = takeAll(ring, memory);
  const v = new DataView(batch.bytes.buffer);
  const rows: EventRow[] = [];
  for (let i = 0; i < batch.length; i++) {
    const at = i * IoEvent.size;
    rows.push({
      slot: (firstSlot + i) % slots,
      data: v.getBigUint64(at + IoEvent.data, true).toString(),
      obj: v.getBigUint64(at + IoEvent.obj, true).toString(),
      res: v.getBigInt64(at + IoEvent.res, true).toString(),
      res2: v.getBigInt64(at + IoEvent.res2, true).toString(),
    });
  }
  return rows;
}

/** The size a header claims; past the bytes we have, the ring is truncated. */
function claimedBytes(layout: 'legacy' | 'v2', b: Uint8Array): number {
  if (layout === 'legacy') return AioRing.size + u32At(b, AioRing.nr) * IoEvent.size;
  return u32At(b, V2Header.ring_bytes_hi) * 0x1_0000_0000 + u32At(b, V2Header.ring_bytes_lo);
}

/**
 * Decode bytes (the whole ring, as large as its mapping or file). Throws
 * InputError when the bytes are no ring or are cut short of what the
 * header says.
 */
export function decodeRing(source: Uint8Array, what: string, options: { events?: boolean } = {}): RingReport {
  const b = privateCopy(source);
  const layout = ringLayout(b, what);
  const claimed = claimedBytes(layout, b);
  if (claimed > b.length) {
    throw new InputError('EINVAL', 'read', `${what}: truncated: ${b.length} bytes, its header describes ${claimed}`);
  }
  const u32 = new Uint32Array(b.buffer, 0, Math.floor(b.length / 4));
  const rules = layout === 'legacy' ? legacyHeaderRules(u32, b.length) : v2HeaderRules(u32, b.length);
  const fields = layout === 'legacy' ? legacyFields(b, rules) : v2Fields(b, rules);
  const invalidField = layout === 'legacy' ? validateLegacyHeader(u32, b.length) : validateV2Header(u32, b.length);
  const readers = legacyReaderViews(b.subarray(0, AioRing.size), b.length);
  if (invalidField !== null) return { layout, bytes: b.length, fields, invalidField, pending: null, readers };
  const report: RingReport = { layout, bytes: b.length, fields, invalidField, pending: 0, readers };
  if (layout === 'legacy') {
    const ring = new LegacyRing(b);
    report.pending = ring.count();
    if (options.events) report.events = eventRows(ring, b, ring.head % ring.nr, ring.nr);
  } else {
    const ring = new V2Ring(b);
    report.pending = ring.count();
    if (options.events) report.events = eventRows(ring, b, ring.head & ring.mask, ring.entries);
  }
  return report;
}

/** Human lines for a report: the fields, the pending count, the readers. */
export function formatRing(r: RingReport, showEvents: boolean): string[] {
  const lines = [`layout ${r.layout}, ${r.bytes} bytes: ${r.invalidField === null ? 'valid' : `INVALID (field ${r.invalidField})`}`, ''];
  for (const f of r.fields) {
    const value = f.field === 'magic' ? hex(f.value) : String(f.value);
    lines.push(`  ${f.field.padEnd(18)} ${value.padStart(10)}  ${f.ok ? 'ok ' : 'BAD'}  ${f.note}`);
  }
  lines.push('', `pending events      ${r.pending === null ? 'not counted: the header is invalid' : r.pending}`);
  if (showEvents && r.events) {
    lines.push('', '  slot  data  obj  res  res2');
    for (const e of r.events) lines.push(`  ${e.slot}  ${e.data}  ${e.obj}  ${e.res}  ${e.res2}`);
  }
  lines.push('', 'legacy readers:');
  for (const v of r.readers) {
    lines.push(`  ${v.reader.padEnd(20)} ${(v.outcome + (v.events ? ` ${v.events}` : '')).padEnd(14)} checks ${v.checks}`);
  }
  return lines;
}
