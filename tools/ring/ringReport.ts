// Decode the bytes of a ring of either layout (a ring file, or a live
// process's ring read through /proc/PID/mem): every header field with a
// verdict, the pending events, and what each legacy reader would make of it.
// The library's validators give the overall verdict; the per-field notes
// say why in words. Works on a private copy: nothing here writes the source.
import {
  AIO_RING_COMPAT_FEATURES,
  AIO_RING_MAGIC,
  AioRing,
  AIORING_INCOMPAT_V2,
  AIORING_V2_MAGIC,
  AIORING_V2_MAX_ENTRIES,
  AIORING_V2_VERSION,
  EventBatch,
  FEAT_ALL,
  FEAT_LEASES,
  FEAT_MULTI_CONSUMER,
  IoEvent,
  LegacyRing,
  V2Header,
  v2LeaseOffset,
  V2Ring,
  v2RingBytes,
  v2RingBytesLeased,
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

function isPowerOfTwo(x: number): boolean {
  return x > 0 && (x & (x - 1)) === 0;
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

function legacyFields(b: Uint8Array): FieldVerdict[] {
  const w = (f: keyof typeof AioRing): number => u32At(b, AioRing[f]);
  const nr = w('nr');
  const fits = Math.floor((b.length - AioRing.size) / IoEvent.size);
  const f = (field: keyof typeof AioRing, ok: boolean, note: string): FieldVerdict => ({
    field,
    offset: AioRing[field],
    value: w(field),
    ok,
    note,
  });
  return [
    f('id', true, 'context id (the kernel writes ~0)'),
    f('nr', nr >= 2 && nr <= fits, `entries; >= 2 and at most ${fits} fit in ${b.length} bytes${nr === fits ? '' : ` (CRIU wants exactly ${fits})`}`),
    f('head', w('head') < nr, 'consumer index, < nr'),
    f('tail', w('tail') < nr, 'producer index, < nr'),
    f('magic', w('magic') === AIO_RING_MAGIC, `must be ${hex(AIO_RING_MAGIC)}`),
    f('compat_features', w('compat_features') === AIO_RING_COMPAT_FEATURES, 'must be 1'),
    f('incompat_features', w('incompat_features') === 0, 'must be 0'),
    f('header_length', w('header_length') === AioRing.size, 'must be 32'),
  ];
}

function v2Fields(b: Uint8Array): FieldVerdict[] {
  const w = (f: keyof typeof V2Header): number => u32At(b, V2Header[f]);
  const entries = w('entries');
  const ringBytes = w('ring_bytes_hi') * 0x1_0000_0000 + w('ring_bytes_lo');
  const f = (field: keyof typeof V2Header, ok: boolean, note: string): FieldVerdict => ({
    field,
    offset: V2Header[field],
    value: w(field),
    ok,
    note,
  });
  const okEntries = isPowerOfTwo(entries) && entries <= AIORING_V2_MAX_ENTRIES;
  const leased = (w('features') & FEAT_LEASES) !== 0;
  const leases = w('lease_count');
  return [
    f('id', true, 'context id'),
    f('nr', w('nr') === entries, 'legacy-shaped: equals entries'),
    f('legacy_head', w('legacy_head') === w('legacy_tail'), 'frozen equal to legacy_tail: unchecked legacy readers see an empty ring'),
    f('legacy_tail', w('legacy_head') === w('legacy_tail'), 'frozen equal to legacy_head'),
    f('magic', w('magic') === AIORING_V2_MAGIC, `must be ${hex(AIORING_V2_MAGIC)}: legacy readers that check it fall back`),
    f('compat_features', w('compat_features') === AIO_RING_COMPAT_FEATURES, 'must be 1'),
    f('incompat_features', w('incompat_features') === AIORING_INCOMPAT_V2, 'must be 1 (the v2 bit): readers that check it fall back'),
    f('header_length', w('header_length') === V2Header.size, `must be ${V2Header.size}`),
    f('version', w('version') === AIORING_V2_VERSION, `must be ${AIORING_V2_VERSION}`),
    f('entries', okEntries, 'a power of two up to 2^24'),
    f('mask', w('mask') === ((entries - 1) >>> 0), 'entries - 1'),
    f('features', (w('features') & ~FEAT_ALL) === 0, 'agreed FEAT_* bits (multi-producer 1, multi-consumer 2, user reap 4, leases 8)'),
    f('setup_flags', true, 'the setup flags the ring was made with'),
    f('entries_offset', w('entries_offset') === V2Header.size, `must be ${V2Header.size}`),
    {
      field: 'ring_bytes',
      offset: V2Header.ring_bytes_lo,
      value: ringBytes,
      ok: okEntries && ringBytes === (leased ? v2RingBytesLeased(entries, leases) : v2RingBytes(entries)) && ringBytes <= b.length,
      note: leased ? `header + entries * 32 + ${leases} leases * 64, within the ${b.length} bytes` : `header + entries * 32, within the ${b.length} bytes`,
    },
    f('lease_offset', leased ? w('lease_offset') === v2LeaseOffset(entries) : w('lease_offset') === 0, leased ? 'after the entries, line-aligned' : '0 without leases'),
    f('lease_count', leased ? leases >= 1 && leases <= 64 : leases === 0, leased ? 'consumers\' leases (1 to 64)' : '0 without leases'),
    f('tail', ((w('tail') - w('head')) >>> 0) <= entries, 'producers\' free-running index; tail - head <= entries'),
    f('prod_reserve', true, 'multi-producer reservations'),
    f('head', ((w('tail') - w('head')) >>> 0) <= entries, 'consumers\' free-running index'),
    ...(leased ? [f('claim', ((w('claim') - w('head')) >>> 0) <= ((w('tail') - w('head')) >>> 0), 'leases: claimed up to here; head <= claim <= tail')] : []),
    f('wait_flags', true, 'a waiter announced (bit 0)'),
    f('wakeups', true, 'times a producer rang a waiter'),
  ];
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
  const fields = layout === 'legacy' ? legacyFields(b) : v2Fields(b);
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
