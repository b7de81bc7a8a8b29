// `aioring convert IN OUT --to v2|legacy`: the same pending events, in the
// same order, in a ring of the other layout. IN is only ever read (a
// private copy); OUT is written to a temporary file in its directory,
// fsynced, then renamed over OUT, so a crash leaves the old OUT or the new
// one, never half of one.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AioRing,
  AIORING_V2_MAX_ENTRIES,
  EventBatch,
  FEAT_LEASES,
  FEAT_MULTI_CONSUMER,
  FEAT_MULTI_PRODUCER,
  IoEvent,
  LegacyRing,
  legacyRingBytes,
  V2Ring,
  v2RingBytes,
} from '../../src/index';
import { decodeRing, privateCopy, takeAll } from '../ring/ringReport';
import { asInputError, CommandFailure, EXIT_OK, InputError, printJson, printLines, readUserFile } from './support';

export interface ConvertOptions {
  input: string;
  output: string;
  to: 'v2' | 'legacy';
  /** v2 output: entries (a power of two) */
  entries?: number;
  /** legacy output: at least this nr (rounded up to fill whole pages, as the kernel does) */
  nr?: number;
  dryRun: boolean;
  force: boolean;
  json: boolean;
}

export interface ConvertPlan {
  input: string;
  output: string;
  from: 'legacy' | 'v2';
  to: 'legacy' | 'v2';
  pending: number;
  /** events the output ring holds at most: legacy nr - 1, v2 entries */
  capacity: number;
  /** legacy nr or v2 entries of the output */
  size: number;
  outputBytes: number;
  fits: boolean;
  written: boolean;
}

const PAGE = 4096;

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** The nr that fills the pages a ring of at least nr entries needs (CRIU: nr == (size - 32) / 32). */
function pageFilledNr(nr: number): number {
  return (legacyRingBytes(nr, PAGE) - AioRing.size) / IoEvent.size;
}

function outputSize(o: ConvertOptions, sourceCapacity: number): { size: number; capacity: number; bytes: number } {
  if (o.to === 'v2') {
    if (o.nr !== undefined) throw new InputError('EINVAL', 'convert', '--nr is for --to legacy; use --entries');
    const entries = o.entries ?? nextPowerOfTwo(Math.max(sourceCapacity, 1));
    if (!Number.isInteger(entries) || entries < 1 || entries > AIORING_V2_MAX_ENTRIES || (entries & (entries - 1)) !== 0) {
      throw new InputError('EINVAL', 'convert', `--entries ${entries}: a v2 ring has a power of two entries, up to 2^24`);
    }
    return { size: entries, capacity: entries, bytes: v2RingBytes(entries) };
  }
  if (o.entries !== undefined) throw new InputError('EINVAL', 'convert', '--entries is for --to v2; use --nr');
  const wanted = o.nr ?? sourceCapacity + 1;
  if (!Number.isInteger(wanted) || wanted < 2 || wanted > 0x1000_0000) throw new InputError('EINVAL', 'convert', `--nr ${wanted}: must be an integer >= 2`);
  const nr = pageFilledNr(wanted);
  return { size: nr, capacity: nr - 1, bytes: legacyRingBytes(nr, PAGE) };
}

function sameFile(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** The output ring's bytes, holding the events of batch in order. */
function build(o: ConvertOptions, size: number, bytes: number, batch: EventBatch, source: LegacyRing | V2Ring): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(bytes));
  const v = new DataView(batch.bytes.buffer);
  const event = (i: number): { data: bigint; obj: bigint; res: bigint; res2: bigint } => ({
    data: v.getBigUint64(i * IoEvent.size + IoEvent.data, true),
    obj: v.getBigUint64(i * IoEvent.size + IoEvent.obj, true),
    res: v.getBigUint64(i * IoEvent.size + IoEvent.res, true),
    res2: v.getBigUint64(i * IoEvent.size + IoEvent.res2, true),
  });
  if (o.to === 'legacy') {
    const ring = LegacyRing.format(out, size);
    for (let i = 0; i < batch.length; i++) if (!ring.produce(event(i))) throw new Error('output ring full');
    return out;
  }
  // a lease table describes consumer processes, not events: the output has none
  const leased = source instanceof V2Ring && (source.features & FEAT_LEASES) !== 0;
  const features = source instanceof V2Ring ? source.features & ~(leased ? FEAT_LEASES | FEAT_MULTI_CONSUMER : 0) : 0;
  const setupFlags = source instanceof V2Ring ? source.setupFlags : 0;
  const ring = V2Ring.format(out, size, { features, setupFlags });
  if (features & FEAT_MULTI_PRODUCER) {
    const n = ring.mpReserve(batch.length);
    for (let i = 0; i < n; i++) ring.write(ring.reservedStart + i, event(i));
    ring.mpPublish(ring.reservedStart, n);
  } else {
    for (let i = 0; i < batch.length; i++) if (!ring.produce(event(i))) throw new Error('output ring full');
  }
  return out;
}

/** Write bytes to a temporary file beside target, fsync, rename over target, fsync the directory. */
function writeAtomically(target: string, bytes: Uint8Array): void {
  const dir = path.dirname(path.resolve(target));
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'wx', 0o600);
  } catch (e) {
    return asInputError(e, dir);
  }
  try {
    try {
      fs.writeSync(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

export function convert(o: ConvertOptions): ConvertPlan {
  if (o.to !== 'v2' && o.to !== 'legacy') throw new InputError('EINVAL', 'convert', '--to is v2 or legacy');
  const input = readUserFile(o.input);
  const report = decodeRing(input, o.input);
  if (report.invalidField !== null) {
    throw new InputError('EINVAL', 'convert', `${o.input}: invalid ${report.layout} ring header (field ${report.invalidField}): not converted`);
  }
  if (sameFile(o.input, o.output)) throw new InputError('EINVAL', 'convert', 'OUT is IN: convert never modifies its input');
  if (!o.force && fs.existsSync(o.output)) throw new InputError('EEXIST', 'convert', `${o.output} exists (--force replaces it)`);
  const copy = privateCopy(input);
  const source = report.layout === 'legacy' ? new LegacyRing(copy) : new V2Ring(copy);
  const sourceCapacity = source instanceof LegacyRing ? source.nr - 1 : source.entries;
  const { size, capacity, bytes } = outputSize(o, sourceCapacity);
  const pending = report.pending ?? 0;
  const plan: ConvertPlan = {
    input: o.input,
    output: o.output,
    from: report.layout,
    to: o.to,
    pending,
    capacity,
    size,
    outputBytes: bytes,
    fits: pending <= capacity,
    written: false,
  };
  if (!plan.fits || o.dryRun) return plan;
  const batch = takeAll(source, copy);
  writeAtomically(o.output, build(o, size, bytes, batch, source));
  plan.written = true;
  return plan;
}

function describe(p: ConvertPlan, dryRun: boolean): string {
  const shape = p.to === 'legacy' ? `a legacy ring of nr ${p.size} (${p.capacity} events at most)` : `a v2 ring of ${p.size} entries`;
  if (!p.fits) return `refused: ${p.pending} pending events of ${p.input} do not fit ${shape}`;
  const what = `${p.from} ring ${p.input} with ${p.pending} pending events -> ${shape}, ${p.outputBytes} bytes, in ${p.output}`;
  return dryRun ? `would convert ${what}` : `converted ${what}`;
}

export function runConvert(o: ConvertOptions): number {
  const plan = convert(o);
  if (o.json) printJson(plan);
  if (!plan.fits) throw new CommandFailure(describe(plan, o.dryRun));
  if (!o.json) printLines([describe(plan, o.dryRun)]);
  return EXIT_OK;
}
