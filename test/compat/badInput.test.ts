// Bad input: random and mutated ring headers and ring files through every
// parser and attach path, in C (the fuzz_headers driver, and the C core
// through the addon) and in TypeScript. Only typed errors, C and TypeScript
// agree, accepted rings read and write alike in both and as their header
// says, and nothing is read past the mapping: every header the addon and
// the TypeScript rings see ends where a PROT_NONE page begins.
//
// The seed is printed; AIORING_FUZZ_SEED=<n> replays a run.
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setup, SETUP_V2 } from '../../src/context';
import { AioError, errnoName } from '../../src/errors';
import { EventBatch } from '../../src/events';
import { AioRing, AIO_RING_MAGIC, AIORING_V2_MAGIC, V2Header } from '../../src/layout';
import { LegacyRing, validateLegacyHeader } from '../../src/legacyRing';
import { attachRingFile } from '../../src/memory';
import { addon } from '../../src/native';
import { V2Ring, validateV2Header } from '../../src/v2Ring';
import { rng, tempDir } from '../helpers';
import { findFixture, testAddon } from '../native';
import { featLeases, featMultiConsumer, featMultiProducer, featUserReap, HeaderCase, HeaderFuzzer, slotData, tsField } from '../ringHeaders';

const { EAGAIN } = constants.errno;
const SEED = Number(process.env.AIORING_FUZZ_SEED ?? 0x5eed) >>> 0;
const HEADERS = 1_000_000;
const FILES = 2000;
const GUARDED = 64 * 1024;
/** one accepted ring in EXERCISE_EVERY runs the ring-call script; one of those in CORRUPT_EVERY with corrupt indices */
const EXERCISE_EVERY = 3;
const CORRUPT_EVERY = 16;

let dir: string;
beforeAll(() => {
  process.stdout.write(`bad input: seed ${SEED} (AIORING_FUZZ_SEED replays it)\n`);
  dir = tempDir(fs.existsSync('/dev/shm') ? '/dev/shm' : undefined);
});

/** 'ok', or the field of the typed EINVAL attach threw; anything else is reported as untyped. */
function attachVerdict(attach: () => unknown): string {
  try {
    attach();
    return 'ok';
  } catch (e) {
    if (e instanceof AioError && e.code === 'EINVAL' && e.field !== undefined) return e.field;
    return `untyped ${String(e)}`;
  }
}

/** 'ok' (or what call returned), the field of the AioError it threw, or its code when it names no field. */
function outcomeOf(call: () => string | void): string {
  try {
    return call() ?? 'ok';
  } catch (e) {
    if (e instanceof AioError) return e.field ?? e.code;
    return `untyped ${String(e)}`;
  }
}

/** What one ring call did: its result, or the typed error's code (a negative result names its errno). */
function outcome(call: () => unknown): string {
  try {
    const r = call();
    return typeof r === 'number' && r < 0 ? errnoName(-r) : JSON.stringify(r);
  } catch (e) {
    if (e instanceof AioError) return e.code;
    return `untyped ${String(e)}`;
  }
}

/** The calls the script makes, implemented over the TypeScript and the C (addon) rings alike. */
interface RingUnderTest {
  count(): number;
  /** data of each event reaped, then res of each */
  reap(max: number): number[];
  /** produce up to max events (stopping when full); how many went in, or 'skip' when reservations nobody published block it */
  fill(max: number): number | string;
}

const batch = new EventBatch(4096);

function reaped(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(batch.data(i));
  for (let i = 0; i < n; i++) out.push(batch.res(i));
  return out;
}

function pairs(ev: Float64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < ev.length; i += 2) out.push(ev[i]);
  for (let i = 1; i < ev.length; i += 2) out.push(ev[i]);
  return out;
}

function tsLegacy(u8: Uint8Array): RingUnderTest {
  const ring = new LegacyRing(u8);
  return {
    count: () => ring.count(),
    reap: (max) => reaped(ring.reap(batch, max)),
    fill: (max) => {
      let n = 0;
      while (n < max && ring.produce({ data: 7, res: n })) n++;
      return n;
    },
  };
}

function cLegacy(u8: Uint8Array): RingUnderTest {
  const ring = new testAddon.NativeLegacyRing(u8);
  return {
    count: () => ring.count(),
    reap: (max) => pairs(ring.reap(max)),
    fill: (max) => {
      let n = 0;
      while (n < max && ring.produce(7, n) === 0) n++;
      return n;
    },
  };
}

/** Reservations nobody published (prod_reserve past tail) stall producers: not ours to wait on. */
function mpBlocked(u32: Uint32Array): boolean {
  return u32[V2Header.prod_reserve / 4] !== u32[V2Header.tail / 4];
}

function tsV2(u8: Uint8Array, u32: Uint32Array): RingUnderTest {
  const ring = new V2Ring(u8);
  return {
    count: () => ring.count(),
    reap: (max) => reaped(ring.features & featMultiConsumer ? ring.claimReap(batch, max) : ring.reap(batch, max)),
    fill: (max) => {
      if (!(ring.features & featMultiProducer)) {
        let n = 0;
        while (n < max && ring.produce({ data: 7, res: n })) n++;
        return n;
      }
      if (mpBlocked(u32)) return 'skip';
      const n = ring.mpReserve(max);
      for (let i = 0; i < n; i++) ring.write(ring.reservedStart + i, { data: 7, res: i });
      if (n > 0) ring.mpPublish(ring.reservedStart, n);
      return n;
    },
  };
}

function cV2(u8: Uint8Array, u32: Uint32Array): RingUnderTest {
  const ring = new testAddon.NativeV2Ring(u8);
  const features = u32[V2Header.features / 4];
  return {
    count: () => ring.count(),
    reap: (max) => pairs(features & featMultiConsumer ? ring.claimReap(max) : ring.reap(max)),
    fill: (max) => {
      if (!(features & featMultiProducer)) {
        let n = 0;
        for (let r = 0; n < max; n++) {
          r = ring.produce(7, n);
          if (r === -EAGAIN) break;
          if (r < 0) return r;
        }
        return n;
      }
      if (mpBlocked(u32)) return 'skip';
      const [start, n] = ring.mpReserve(max);
      if (n < 0) return n;
      for (let i = 0; i < n; i++) ring.write((start + i) >>> 0, 7, i);
      if (n > 0) ring.mpPublish(start, n);
      return n;
    },
  };
}

/** One step of the script: a ring call, or a peer scribbling a word of the header. */
type Step = { call: 'count' } | { call: 'reap'; max: number } | { call: 'fill'; max: number } | { call: 'scribble'; offset: number; value: number };

function runScript(u32: Uint32Array, ring: RingUnderTest, steps: Step[]): string[] {
  return steps.map((s) => {
    switch (s.call) {
      case 'count':
        return outcome(() => ring.count());
      case 'reap':
        return outcome(() => ring.reap(s.max));
      case 'fill':
        return outcome(() => ring.fill(s.max));
      default:
        u32[s.offset / 4] = s.value;
        return '';
    }
  });
}

/** Events ready in a ring whose header validated: the expected answer to the first count. */
function readyIn(u32: Uint32Array, v2: boolean): number {
  if (v2) return (u32[V2Header.tail / 4] - u32[V2Header.head / 4]) >>> 0;
  const nr = u32[AioRing.nr / 4];
  return (u32[AioRing.tail / 4] + nr - u32[AioRing.head / 4]) % nr;
}

/** Data and res of the first n events from the consumer's head, for the slots the generator filled. */
function expectedEvents(u32: Uint32Array, v2: boolean, n: number, known: number): (number | null)[] {
  const size = v2 ? u32[V2Header.entries / 4] : u32[AioRing.nr / 4];
  const head = v2 ? u32[V2Header.head / 4] : u32[AioRing.head / 4];
  const slots = Array.from({ length: n }, (_, i) => (v2 ? (head + i) & (size - 1) : (head + i) % size));
  return [...slots.map((s) => (s < known ? slotData(s) : null)), ...slots.map((s) => (s < known ? s : null))];
}

/**
 * Run one script on an accepted ring twice from the same bytes, once with
 * the TypeScript ring and once with the C ring: both must answer alike, the
 * first count and reap as the header says, and end with the same header.
 */
function exercise(u8: Uint8Array, u32: Uint32Array, c: HeaderCase, v2: boolean, next: () => number, corrupt: boolean): string | null {
  const size = v2 ? u32[V2Header.entries / 4] : u32[AioRing.nr / 4];
  const max = 1 + (next() % (size + 2));
  const steps: Step[] = [{ call: 'count' }, { call: 'reap', max }, { call: 'fill', max }];
  if (corrupt) {
    const words = v2 ? [V2Header.head, V2Header.tail, V2Header.prod_reserve] : [AioRing.head, AioRing.tail];
    for (let k = 0; k < 2; k++) {
      const value = next() % 2 ? next() : size + (next() % 3);
      steps.push({ call: 'scribble', offset: words[next() % words.length], value }, { call: 'count' }, { call: 'reap', max }, { call: 'fill', max });
    }
  }
  const ready = readyIn(u32, v2);
  // a leased ring's consumers use the lease protocol: both rings refuse to reap it
  const leased = v2 && (u32[V2Header.features / 4] & featLeases) !== 0;
  const want = leased ? 'EINVAL' : expectedEvents(u32, v2, Math.min(ready, max), c.known);
  const before = u8.slice();
  const headerWords = (v2 ? V2Header.size : AioRing.size) / 4;
  const ts = runScript(u32, v2 ? tsV2(u8, u32) : tsLegacy(u8), steps);
  const tsHeader = Array.from(u32.subarray(0, headerWords));
  u8.set(before);
  const cc = runScript(u32, v2 ? cV2(u8, u32) : cLegacy(u8), steps);
  const cHeader = Array.from(u32.subarray(0, headerWords));
  // a slot the generator did not fill holds whatever is there: compare the filled ones
  const first = ts[1].startsWith('[') ? (JSON.parse(ts[1]) as number[]).map((v, i) => (want[i] === null ? null : v)) : ts[1];
  if (ts[0] !== JSON.stringify(ready) || JSON.stringify(first) !== JSON.stringify(want)) {
    return `first count ${ts[0]} and reap ${ts[1]}; the header says ${ready} and ${JSON.stringify(want)}`;
  }
  if (JSON.stringify(ts) !== JSON.stringify(cc)) return `TypeScript ${ts.join(' | ')} vs C ${cc.join(' | ')}`;
  if (JSON.stringify(tsHeader) !== JSON.stringify(cHeader)) return 'the TypeScript and C rings left different headers';
  return null;
}

/**
 * HEADERS cases, each placed at the end of guarded memory and put through
 * both validators of both languages and, by the layout it came from, the
 * TypeScript and C attach paths; some accepted rings run the call script.
 */
function fuzzHeaders(next: () => number): { failures: string[]; verdicts: Map<string, number> } {
  const fuzz = new HeaderFuzzer(next);
  const memory = testAddon.guardedBuffer(GUARDED);
  const guarded = new Uint8Array(memory);
  const failures: string[] = [];
  const verdicts = new Map<string, number>();
  const tally = (v: string): void => void verdicts.set(v, (verdicts.get(v) ?? 0) + 1);
  let accepted = 0;
  for (let i = 0; i < HEADERS && failures.length < 10; i++) {
    const c = fuzz.nextCase();
    const at = GUARDED - ((c.len + 7) & ~7);
    guarded.set(c.bytes.subarray(0, c.len), at);
    const u8 = new Uint8Array(memory, at, c.len);
    const u32 = new Uint32Array(memory, at, c.len >>> 2);
    const legacy = testAddon.validateLegacy(u8);
    const v2 = testAddon.validateV2(u8);
    const fail = (what: string): void => void failures.push(`case ${i} (${c.from}, ${c.len} bytes): ${what}`);
    tally(`legacy ${legacy}`);
    tally(`v2 ${v2}`);
    if (legacy !== (validateLegacyHeader(u32, c.len) ?? 'ok')) fail(`legacy: C ${legacy}, TypeScript ${tsField(validateLegacyHeader, u8)}`);
    if (v2 !== (validateV2Header(u32, c.len) ?? 'ok')) fail(`v2: C ${v2}, TypeScript ${tsField(validateV2Header, u8)}`);
    const attaches: [string, () => unknown, string][] = [];
    if (c.from !== 'v2') attaches.push(['LegacyRing', () => new LegacyRing(u8), legacy], ['NativeLegacyRing', () => new testAddon.NativeLegacyRing(u8), legacy]);
    if (c.from !== 'legacy') attaches.push(['V2Ring', () => new V2Ring(u8), v2], ['NativeV2Ring', () => new testAddon.NativeV2Ring(u8), v2]);
    for (const [name, attach, verdict] of attaches) {
      const got = attachVerdict(attach);
      if (got !== verdict) fail(`${name} attach: ${got}, validator ${verdict}`);
    }
    if ((legacy === 'ok' || v2 === 'ok') && ++accepted % EXERCISE_EVERY === 0) {
      const problem = exercise(u8, u32, c, v2 === 'ok', next, accepted % (EXERCISE_EVERY * CORRUPT_EVERY) === 0);
      if (problem !== null) fail(problem);
    }
  }
  return { failures, verdicts };
}

/** What a ring file holds, from the validators over a copy in ordinary memory. */
interface RingFile {
  bytes: Uint8Array;
  u32: Uint32Array;
  /** by its magic */
  v2: boolean;
  /** what attachRingFile must answer: 'ok', the bad field, or EINVAL for an empty file */
  verdict: string;
  /** the validator of the layout its magic names (legacy when neither) */
  validated: string;
  ready: number;
  /** the events a reader must see (null: a slot the generator did not fill) */
  want: (number | null)[];
}

function ringFile(bytes: Uint8Array, known: number): RingFile {
  const u32 = new Uint32Array(bytes.buffer, 0, bytes.length >>> 2);
  const magic = bytes.length >= AioRing.magic + 4 ? u32[AioRing.magic / 4] : undefined;
  const v2 = magic === AIORING_V2_MAGIC;
  const validated = bytes.length === 0 ? 'EINVAL' : v2 ? testAddon.validateV2(bytes) : testAddon.validateLegacy(bytes);
  const verdict = bytes.length === 0 ? 'EINVAL' : v2 || magic === AIO_RING_MAGIC ? validated : 'magic';
  const ready = verdict === 'ok' ? readyIn(u32, v2) : 0;
  const want = verdict === 'ok' ? expectedEvents(u32, v2, ready, known) : [];
  return { bytes, u32, v2, verdict, validated, ready, want };
}

/** Events as data then res, with the slots the generator did not fill masked as the wanted ones are. */
function masked(events: number[], want: (number | null)[]): string {
  return JSON.stringify(events.map((v, k) => (want[k] === null ? null : v)));
}

/** attachRingFile picks the layout by magic, validates, and reads the events the header says. */
function attachInTypeScript(file: string, f: RingFile, tally: { attached: number }): string | null {
  const got = outcomeOf(() => {
    const { ring, mapping } = attachRingFile(file);
    try {
      tally.attached++;
      if (ring instanceof V2Ring && ring.features & featLeases) {
        // its consumers use the lease protocol; from here it is refused, typed
        const refused = outcome(() => ring.claimReap(batch, f.ready + 1));
        return refused === 'EINVAL' ? 'ok' : `claimReap of a leased ring: ${refused}`;
      }
      const n = ring instanceof V2Ring && ring.features & featMultiConsumer ? ring.claimReap(batch, f.ready + 1) : ring.reap(batch, f.ready + 1);
      const events = reaped(n);
      return masked(events, f.want) === JSON.stringify(f.want) ? 'ok' : `reaped ${JSON.stringify(events)}, want ${JSON.stringify(f.want)}`;
    } finally {
      mapping.release();
    }
  });
  return got === f.verdict ? null : `attachRingFile: ${got}, expected ${f.verdict}`;
}

/** The addon maps the file; its validators and rings read the mapping itself. */
function attachInC(file: string, f: RingFile): string | null {
  const got = outcomeOf(() => {
    const mapping = new addon.RingMemory('attach', 0, file);
    try {
      const view = new Uint8Array(mapping.buffer);
      const verdict = f.v2 ? testAddon.validateV2(view) : testAddon.validateLegacy(view);
      if (verdict !== 'ok') return verdict;
      const ring = f.v2 ? new testAddon.NativeV2Ring(view) : new testAddon.NativeLegacyRing(view);
      return ring.count() === f.ready ? 'ok' : `count ${ring.count()}, want ${f.ready}`;
    } finally {
      mapping.release();
    }
  });
  return got === f.validated ? null : `the addon's mapping: ${got}, expected ${f.validated}`;
}

/**
 * setup adopts a valid ring of the layout asked for, unless it is full
 * (EAGAIN) or agreed for other producers or consumers than the context
 * (EINVAL); it reads the events already there, completes a request into it,
 * and leaves a ring that still validates.
 */
async function adoptBySetup(file: string, f: RingFile, wrongLayout: boolean, tally: { adopted: number }): Promise<string | null> {
  const shared = f.v2 && f.verdict === 'ok' && (f.u32[V2Header.features / 4] & ~featUserReap) !== 0;
  const full = f.verdict === 'ok' && f.ready === (f.v2 ? f.u32[V2Header.entries / 4] : f.u32[AioRing.nr / 4] - 1);
  const expected = f.verdict !== 'ok' || wrongLayout || shared ? 'EINVAL' : full ? 'EAGAIN' : 'ok';
  let ctx;
  try {
    ctx = setup(32, { flags: f.v2 !== wrongLayout ? SETUP_V2 : 0, memory: { path: file, attach: true }, backend: 'threadpool', threads: 1 });
  } catch (e) {
    const code = e instanceof AioError ? e.code : `untyped ${String(e)}`;
    return code === expected ? null : `setup attach: ${code}, expected ${expected}`;
  }
  tally.adopted++;
  if (expected !== 'ok') {
    outcomeOf(() => ctx.destroy());
    return `setup adopted a file it must refuse with ${expected}`;
  }
  let problem: string | null = null;
  try {
    const before = await ctx.getEvents(0, f.ready + 1, 0);
    const events = before.map((e) => Number(e.data)).concat(before.map((e) => e.res));
    if (masked(events, f.want) !== JSON.stringify(f.want)) problem = `setup attach read ${JSON.stringify(events)}, want ${JSON.stringify(f.want)}`;
    ctx.submit([{ opcode: 'noop', fd: 0, data: 0xadd }]);
    const after = await ctx.getEvents(1, 1, 10_000);
    if (after.length !== 1 || after[0].data !== 0xadd) problem ??= `a noop on the adopted ring came back as ${JSON.stringify(after)}`;
  } catch (e) {
    problem = `reading the adopted ring: ${String(e)}`;
  }
  const destroyed = outcomeOf(() => ctx.destroy());
  const again = outcomeOf(() => attachRingFile(file).mapping.release());
  return problem ?? (destroyed !== 'ok' ? `destroy: ${destroyed}` : again !== 'ok' ? `after the context used it the file is ${again}` : null);
}

describe('compat bad input: random and mutated headers and ring files', () => {
  test('the C driver (fuzz_headers): 1,000,000 headers and ring files through the C core, accepted rings reaped and produced into', () => {
    const r = spawnSync(findFixture('fuzz_headers'), ['-s', String(SEED), '-n', String(HEADERS), '-f', String(FILES), '-d', dir], {
      encoding: 'utf8',
      timeout: 240_000,
      killSignal: 'SIGKILL',
    });
    expect(r.stderr).toBe('');
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
    const summary = Object.fromEntries([...r.stdout.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1], Number(m[2])]));
    expect(summary).toMatchObject({ headers: HEADERS, files: FILES, failures: 0 });
    // the mutations keep a fair share of rings valid, so the ring calls run too
    expect(summary.legacy_ok).toBeGreaterThan(HEADERS / 10);
    expect(summary.v2_ok).toBeGreaterThan(HEADERS / 10);
  });

  test('1,000,000 headers at the end of guarded memory: C and TypeScript give one verdict, attach throws only typed EINVAL naming it, accepted rings behave alike', () => {
    // the typed errors thrown here by the million are judged by code and field: no stack traces
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    let run: ReturnType<typeof fuzzHeaders>;
    try {
      run = fuzzHeaders(rng(SEED));
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    expect(run.failures).toEqual([]);
    // every verdict each validator can give was reached
    const fields = ['ok', 'size', 'magic', 'incompat_features', 'compat_features', 'header_length', 'nr', 'head', 'tail'];
    const wanted = [...fields.map((f) => `legacy ${f}`), ...[...fields, 'version', 'mask', 'entries_offset', 'features', 'lease_count', 'claim'].map((f) => `v2 ${f}`)];
    expect(wanted.filter((v) => !run.verdicts.has(v))).toEqual([]);
  });

  test(`${FILES} ring files (empty, shorter than a header, claiming more than they hold, odd lengths) through attachRingFile, the addon's own mapping and setup({ memory: { path, attach: true } })`, async () => {
    const next = rng(SEED ^ 0xf11e5);
    const fuzz = new HeaderFuzzer(next);
    const failures: string[] = [];
    const tally = { attached: 0, adopted: 0 };
    for (let i = 0; i < FILES && failures.length < 10; i++) {
      const c = fuzz.nextCase();
      const len = [0, Math.ceil(c.len / 4096) * 4096][next() % 8] ?? c.len;
      const bytes = new Uint8Array(len);
      bytes.set(c.bytes.subarray(0, Math.min(len, c.len)));
      const file = path.join(dir, `ring-${i}`);
      fs.writeFileSync(file, bytes);
      const holds = ringFile(bytes, c.known);
      const problems = [attachInTypeScript(file, holds, tally)];
      fs.writeFileSync(file, bytes); // undo what reaping did to head
      problems.push(attachInC(file, holds), await adoptBySetup(file, holds, next() % 8 === 0, tally));
      for (const p of problems) if (p !== null) failures.push(`file ${i} (${c.from}, ${len} bytes): ${p}`);
    }
    expect(failures).toEqual([]);
    // a fair share attached, so the reading paths ran
    expect(tally.attached).toBeGreaterThan(FILES / 10);
    expect(tally.adopted).toBeGreaterThan(FILES / 20);
  });
});
