// `aioring conformance [--provider kernel|legacy|v2|all]`: the ring
// contracts checked against real providers:
//   kernel  the running kernel's own ring (io_setup through kernelSetup)
//   legacy  an aioring context with the legacy ring (setup(n))
//   v2      an aioring context with the v2 ring (setup(n, SETUP_V2)), and
//           the V2Ring itself for what a context cannot reach (2^32 wrap)
// Every check compares what the provider did with what the contract says,
// so a provider that breaks it fails the check; any failure exits 1.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AIO_RING_COMPAT_FEATURES,
  AIO_RING_INCOMPAT_FEATURES,
  AIO_RING_MAGIC,
  AioContext,
  AioRing,
  AIORING_INCOMPAT_V2,
  AIORING_V2_MAGIC,
  EventBatch,
  KernelContext,
  kernelSetup,
  legacyNr,
  LegacyRing,
  mapRingFile,
  RingMapping,
  setup,
  SETUP_V2,
  V2Header,
  V2Ring,
  v2RingBytes,
  validateLegacyHeader,
  validateV2Header,
} from '../../src/index';
import { legacyReaderViews } from '../ring/legacyReaders';
import { EXIT_FINDINGS, EXIT_OK, printJson, printLines, table } from './support';

export type ProviderName = 'kernel' | 'legacy' | 'v2';
export const PROVIDERS: ProviderName[] = ['kernel', 'legacy', 'v2'];

export interface CheckResult {
  provider: ProviderName;
  check: string;
  pass: boolean;
  detail: string;
}

const BLOCK = 512;
const BLOCKS = 64;
const SIZES = [1, 4, 128, 1000];

/** A ring under test: its live bytes, and reads that complete into it. */
interface Subject {
  bytes: Uint8Array;
  /** queue reads with these cookies; returns how many were taken */
  submit(cookies: number[]): number;
  /** wait until the ring shows n events (the provider may complete asynchronously) */
  settle(n: number): Promise<void>;
  /** the provider's own reap, straight from the ring's memory */
  reap(batch: EventBatch): number;
  destroy(): void;
}

function u32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true);
}

function pass(provider: ProviderName, check: string, ok: boolean, detail: string): CheckResult {
  return { provider, check, pass: ok, detail };
}

class Scratch {
  readonly dir: string;
  readonly fd: number;
  private n = 0;
  constructor() {
    const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
    this.dir = fs.mkdtempSync(path.join(base, 'aioring-conformance-'));
    const file = path.join(this.dir, 'data');
    const data = Buffer.alloc(BLOCKS * BLOCK);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 1) & 0xff;
    fs.writeFileSync(file, data);
    this.fd = fs.openSync(file, 'r');
  }
  ringFile(): string {
    return path.join(this.dir, `ring-${this.n++}`);
  }
  close(): void {
    fs.closeSync(this.fd);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 5000 && !ok(); i++) await sleep(1);
}

function kernelSubject(n: number, scratch: Scratch): Subject & { ctx: KernelContext } {
  const ctx = kernelSetup(n);
  const bytes = new Uint8Array(ctx.ring);
  const ring = new LegacyRing(ctx.ring);
  return {
    ctx,
    bytes,
    submit(cookies) {
      const bufs = cookies.map(() => new Uint8Array(BLOCK));
      try {
        return ctx.submitReads(scratch.fd, bufs, cookies.map((c) => (c % BLOCKS) * BLOCK), cookies);
      } catch (e) {
        if ((e as { code?: string }).code === 'EAGAIN') return 0;
        throw e;
      }
    },
    settle: (k) => until(() => ring.count() >= k),
    reap: (batch) => ring.reap(batch),
    destroy: () => ctx.destroy(),
  };
}

function contextSubject(n: number, flags: number, scratch: Scratch): Subject & { ctx: AioContext; mapping: RingMapping } {
  const file = scratch.ringFile();
  const ctx = setup(n, { flags, memory: { path: file }, backend: 'threadpool', threads: 2 });
  const mapping = mapRingFile(file);
  const bytes = new Uint8Array(mapping.buffer);
  return {
    ctx,
    mapping,
    bytes,
    submit(cookies) {
      const iocbs = cookies.map((c) => ({ opcode: 'pread' as const, fd: scratch.fd, buffer: Buffer.alloc(BLOCK), position: (c % BLOCKS) * BLOCK, data: c }));
      try {
        return ctx.submit(iocbs);
      } catch (e) {
        if ((e as { code?: string }).code === 'EAGAIN') return 0;
        throw e;
      }
    },
    settle: (k) => until(() => ctx.ring.count() >= k && ctx.inflight === 0),
    reap: (batch) => ctx.reap(batch),
    destroy() {
      mapping.release();
      ctx.destroy();
    },
  };
}

function open(provider: ProviderName, n: number, scratch: Scratch): Subject {
  if (provider === 'kernel') return kernelSubject(n, scratch);
  return contextSubject(n, provider === 'v2' ? SETUP_V2 : 0, scratch);
}

function checkLayout(provider: ProviderName, s: Subject): CheckResult {
  const b = s.bytes;
  const words = new Uint32Array(b.buffer, b.byteOffset, Math.floor(b.byteLength / 4));
  if (provider === 'v2') {
    const bad = validateV2Header(words, b.byteLength);
    const ok =
      bad === null &&
      u32(b, AioRing.magic) === AIORING_V2_MAGIC &&
      (u32(b, AioRing.incompat_features) & AIORING_INCOMPAT_V2) !== 0 &&
      u32(b, V2Header.legacy_head) === u32(b, V2Header.legacy_tail) &&
      u32(b, AioRing.header_length) === V2Header.size;
    return pass(provider, 'layout and magic', ok, ok ? `magic 0x${AIORING_V2_MAGIC.toString(16)}, incompat bit ${Math.log2(AIORING_INCOMPAT_V2)}, legacy head == tail, header ${V2Header.size}` : `header rejected (${bad ?? 'words'})`);
  }
  const bad = validateLegacyHeader(words, b.byteLength);
  const ok =
    bad === null &&
    u32(b, AioRing.magic) === AIO_RING_MAGIC &&
    u32(b, AioRing.compat_features) === 1 &&
    u32(b, AioRing.incompat_features) === 0 &&
    u32(b, AioRing.header_length) === AioRing.size;
  return pass(provider, 'layout and magic', ok, ok ? `magic 0x${AIO_RING_MAGIC.toString(16)}, compat ${AIO_RING_COMPAT_FEATURES}, incompat ${AIO_RING_INCOMPAT_FEATURES}, header_length ${AioRing.size}` : `header rejected (${bad ?? 'words'})`);
}

function checkSizing(provider: ProviderName, scratch: Scratch): CheckResult {
  const seen: string[] = [];
  let ok = true;
  for (const n of SIZES) {
    const s = open(provider, n, scratch);
    try {
      if (provider === 'v2') {
        const entries = u32(s.bytes, V2Header.entries);
        const capacity = (s as ReturnType<typeof contextSubject>).ctx.capacity;
        const good = entries >= n && (entries & (entries - 1)) === 0 && capacity === entries;
        ok &&= good;
        seen.push(`${n}->${entries}${good ? '' : ` (capacity ${capacity})`}`);
      } else {
        const nr = u32(s.bytes, AioRing.nr);
        const good = nr === legacyNr(n);
        ok &&= good;
        seen.push(`${n}->${nr}${good ? '' : ` (rule ${legacyNr(n)})`}`);
      }
    } finally {
      s.destroy();
    }
  }
  const rule = provider === 'v2' ? 'entries a power of two >= n, all usable' : 'nr as io_setup(n) maps it';
  return pass(provider, 'sizing', ok, `${rule}: ${seen.join(', ')}`);
}

/** Fill the ring without reaping: legacy keeps one slot empty, v2 none. */
async function checkFull(provider: ProviderName, scratch: Scratch): Promise<CheckResult> {
  const s = open(provider, 4, scratch);
  try {
    const size = provider === 'v2' ? u32(s.bytes, V2Header.entries) : u32(s.bytes, AioRing.nr);
    const want = size + 8;
    let taken = 0;
    for (let c = 0; c < want; ) {
      const k = s.submit(Array.from({ length: Math.min(32, want - c) }, (_, i) => c + i));
      if (k === 0) break;
      taken += k;
      c += k;
    }
    await s.settle(taken);
    const count = provider === 'v2' ? (u32(s.bytes, V2Header.tail) - u32(s.bytes, V2Header.head)) >>> 0 : new LegacyRing(s.bytes).count();
    // the kernel keeps part of nr - 1 in per-CPU batches, so one submitter may get a little less
    const expected = provider === 'v2' ? size : size - 1;
    const ok = provider === 'kernel' ? taken <= expected && taken < want && count === taken : taken === expected && count === expected;
    const rule =
      provider === 'v2'
        ? `full at tail - head == entries (${size})`
        : `one slot stays empty: nr ${size} holds at most ${size - 1}${provider === 'kernel' ? ' (the kernel caches some per CPU)' : ''}`;
    return pass(provider, 'capacity (empty-slot rule)', ok, `${rule}; took ${taken}, ring shows ${count}`);
  } finally {
    s.destroy();
  }
}

/**
 * Several times round the ring, reaping from its memory between rounds:
 * indices wrap as the layout says, and every cookie arrives once, in order.
 */
async function checkWrapAndReap(provider: ProviderName, scratch: Scratch): Promise<CheckResult[]> {
  const s = open(provider, 1, scratch);
  try {
    const size = provider === 'v2' ? u32(s.bytes, V2Header.entries) : u32(s.bytes, AioRing.nr);
    const round = Math.max(1, Math.floor((size - 1) * 0.75));
    const total = 3 * size + 5;
    const got: number[] = [];
    let wrapped = false;
    let indicesOk = true;
    let lastTail = 0;
    const batch = new EventBatch(size);
    const tailOf = (): number => u32(s.bytes, provider === 'v2' ? V2Header.tail : AioRing.tail);
    const headOf = (): number => u32(s.bytes, provider === 'v2' ? V2Header.head : AioRing.head);
    for (let next = 0; next < total; ) {
      const k = s.submit(Array.from({ length: Math.min(round, total - next) }, (_, i) => next + i));
      if (k === 0) break;
      next += k;
      await s.settle(k);
      s.reap(batch);
      for (let i = 0; i < batch.length; i++) if (batch.res(i) === BLOCK) got.push(batch.data(i));
      const tail = tailOf();
      if (provider === 'v2') indicesOk &&= tail === next && headOf() === tail;
      else {
        indicesOk &&= tail < size && headOf() === tail;
        wrapped ||= tail < lastTail;
      }
      lastTail = tail;
    }
    // each cookie exactly once; the kernel's buffered reads also keep submission order
    const sorted = [...got].sort((a, b) => a - b);
    const once = got.length === total && sorted.every((c, i) => c === i);
    const inOrder = got.every((c, i) => c === i);
    const reapOk = once && (provider !== 'kernel' || inOrder);
    const wrapDetail =
      provider === 'v2'
        ? `tail free-running: ${lastTail} after ${total} events on ${size} entries`
        : `head and tail stay < nr ${size} and wrap to 0 (${wrapped ? 'wrapped' : 'never wrapped'})`;
    const results = [
      pass(provider, 'wrap', indicesOk && (provider === 'v2' || wrapped), wrapDetail),
      pass(provider, 'reap from ring memory', reapOk, `${got.length} of ${total} cookies, each once: ${once ? 'yes' : 'no'}; in submission order: ${inOrder ? 'yes' : 'no'}`),
    ];
    if (provider === 'v2') results.push(checkU32Wrap());
    return results;
  } finally {
    s.destroy();
  }
}

/** v2 indices are free-running u32: a ring crossing 2^32 keeps every event in order. */
function checkU32Wrap(): CheckResult {
  const entries = 8;
  const mem = new Uint8Array(new ArrayBuffer(v2RingBytes(entries)));
  V2Ring.format(mem, entries);
  const start = 0xffff_fff0;
  const view = new DataView(mem.buffer);
  view.setUint32(V2Header.head, start, true);
  view.setUint32(V2Header.tail, start, true);
  const ring = new V2Ring(mem);
  const batch = new EventBatch(entries);
  let produced = 0;
  let ok = true;
  for (let round = 0; round < 8; round++) {
    for (let i = 0; i < 5; i++) ok &&= ring.produce({ data: produced++, res: 0 });
    ring.reap(batch);
    for (let i = 0; i < batch.length; i++) ok &&= batch.data(i) === produced - batch.length + i;
  }
  const tail = ring.tail;
  ok &&= tail === (start + produced) >>> 0 && tail < start;
  return pass('v2', 'wrap across 2^32', ok, `from index 0x${start.toString(16)}: ${produced} events in order, tail now ${tail}`);
}

async function checkReaders(provider: ProviderName, scratch: Scratch): Promise<CheckResult> {
  const s = open(provider, 8, scratch);
  try {
    const k = s.submit([1, 2, 3, 4]);
    await s.settle(k);
    const views = legacyReaderViews(s.bytes.subarray(0, AioRing.size), s.bytes.byteLength);
    const expected = (reader: string): string[] => {
      if (provider !== 'v2') return reader.startsWith('libaio') ? ['syscall'] : reader.startsWith('CRIU') ? ['accepts'] : ['reads'];
      return reader.startsWith('libaio') ? ['syscall'] : reader.startsWith('CRIU') ? ['refuses'] : reader === 'QEMU' ? ['sees empty'] : ['falls back'];
    };
    const wrong = views.filter((v) => !expected(v.reader).includes(v.outcome) || (v.outcome === 'reads' && v.events !== k));
    const ok = k === 4 && wrong.length === 0;
    const summary = views.map((v) => `${v.reader.split(' ')[0]} ${v.outcome}`).join(', ');
    return pass(provider, "legacy readers' view", ok, ok ? summary : `unexpected: ${wrong.map((v) => `${v.reader} ${v.outcome}`).join(', ') || `${k} of 4 submitted`}`);
  } finally {
    s.destroy();
  }
}

export async function conformance(providers: ProviderName[]): Promise<CheckResult[]> {
  const scratch = new Scratch();
  const results: CheckResult[] = [];
  try {
    for (const p of providers) {
      try {
        const s = open(p, 128, scratch);
        try {
          results.push(checkLayout(p, s));
        } finally {
          s.destroy();
        }
        results.push(checkSizing(p, scratch));
        results.push(await checkFull(p, scratch));
        results.push(...(await checkWrapAndReap(p, scratch)));
        results.push(await checkReaders(p, scratch));
      } catch (e) {
        results.push(pass(p, 'provider available', false, e instanceof Error ? e.message : String(e)));
      }
    }
  } finally {
    scratch.close();
  }
  return results;
}

export async function runConformance(provider: ProviderName | 'all', json: boolean): Promise<number> {
  const providers = provider === 'all' ? PROVIDERS : [provider];
  const results = await conformance(providers);
  const failed = results.filter((r) => !r.pass).length;
  if (json) {
    printJson({ results, passed: results.length - failed, failed });
  } else {
    const checks = [...new Set(results.map((r) => r.check))];
    const cell = (p: ProviderName, c: string): string => {
      const r = results.find((x) => x.provider === p && x.check === c);
      return r ? (r.pass ? 'pass' : 'FAIL') : '-';
    };
    const lines = table([['check', ...providers], ...checks.map((c) => [c, ...providers.map((p) => cell(p, c))])]);
    lines.push('');
    for (const r of results) lines.push(`${r.pass ? 'pass' : 'FAIL'}  ${r.provider.padEnd(6)} ${r.check}: ${r.detail}`);
    lines.push('', `${results.length - failed} passed, ${failed} failed`);
    printLines(lines);
  }
  return failed === 0 ? EXIT_OK : EXIT_FINDINGS;
}
