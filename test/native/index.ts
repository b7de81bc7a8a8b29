// The test project's builds (test/native/binding.gyp): the test-only addon,
// typed, and the C fixtures. Built by test/globalSetup.js or
// `npm run build:test` into test/native/build/Release; an install never
// builds them, so nothing in src/ may import this.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AioError } from '../../src/errors';

export interface NativeLayout {
  readonly [name: string]: number;
}

export interface NativeLegacyRing {
  produce(data: number, res: number): number;
  /** events firstData .. firstData + n - 1 with one publication of tail: n, or -EAGAIN without room for all */
  produceMany(firstData: number, n: number, res: number): number;
  space(): number;
  count(): number;
  reap(max: number): Float64Array;
}

export interface NativeV2Ring {
  produce(data: number, res: number): number;
  /** up to n events firstData .. with one publication of tail: how many, or -EUCLEAN */
  produceMany(firstData: number, n: number, res: number): number;
  reserve(want: number): number;
  write(index: number, data: number, res: number): void;
  publish(n: number): number;
  mpReserve(want: number): [number, number];
  /** waits up to timeoutMs (AIORING_PUBLISH_TIMEOUT_MS) for earlier reservations, then throws ETIMEDOUT */
  mpPublish(start: number, n: number, timeoutMs?: number): void;
  count(): number;
  peek(max: number): number;
  advance(n: number): void;
  reap(max: number): Float64Array;
  claimReap(max: number): Float64Array;
}

/** How the benchmark's producer publishes (ring_threads.cc, ProducerShape). */
export interface ProducerShape {
  /** events written per store of tail: 1 as aio_complete, more as aior_complete_many */
  publish?: number;
  /** stamp every event and every reap, not only the sampled ones */
  stampEvery?: boolean;
}

export interface BenchCellResult {
  eventsPerSec: number;
  p50Ns: number;
  p99Ns: number;
  outOfOrder: number;
  /** reap calls that found events, per event */
  reapsPerEvent: number;
  /** reap calls that found none, per event */
  emptyReapsPerEvent: number;
  /** the producer's waits for room, per event */
  fullWaitsPerEvent: number;
}

/** A C producer thread publishing into a ring whose memory JavaScript reads. */
export interface RingProducer {
  /** the ring's memory, formatted for the layout */
  readonly memory: ArrayBuffer;
  /** starts the thread (pinned to CPU 0): events numbered from 0, flat out */
  start(): void;
  /** waits for the thread: its own time and its waits for room */
  join(): { seconds: number; fullWaits: number };
}

export interface TestAddon {
  setErrorClass(ctor: typeof AioError): void;
  layout: NativeLayout;
  validateLegacy(bytes: Uint8Array): string;
  validateV2(bytes: Uint8Array): string;
  /** size bytes (a multiple of 8) ending where a PROT_NONE page begins: a read past them faults */
  guardedBuffer(size: number): ArrayBuffer;
  /** the native memory every addon has reported to V8 (AdjustExternalMemory), isolate-wide */
  reportedExternalMemory(): number;
  NativeLegacyRing: new (bytes: Uint8Array, formatNr?: number) => NativeLegacyRing;
  NativeV2Ring: new (bytes: Uint8Array, formatEntries?: number, features?: number) => NativeV2Ring;
  benchRing(layout: string, batch: number, entries: number, events: number, periodNs?: number, shape?: ProducerShape): BenchCellResult;
  RingProducer: new (layout: string, entries: number, events: number, shape?: ProducerShape) => RingProducer;
  /** calls fn with Node's thread pinned to cpu, then restores its affinity */
  runPinned<T>(cpu: number, fn: () => T): T;
  /** ns for one cache line to go from CPU 1 to CPU 0 and back */
  lineRoundTrip(rounds: number): number;
  stressV2(
    entries: number,
    producers: number,
    consumers: number,
    eventsPerProducer: number,
  ): { delivered: number; duplicates: number; missing: number; corrupt: number };
}

/** The checkout's root: the nearest directory above this file with a package.json (test/native/ under ts-jest, dist/test/native/ compiled). */
function checkoutRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`aioring: no package.json above ${__dirname}`);
  }
}

/** Where the test project builds. */
export const testRelease = path.join(checkoutRoot(), 'test', 'native', 'build', 'Release');

/** Absolute path of a test fixture (fuzz_headers, lease_ring, ring_readers...) the test project built. */
export function findFixture(name: string): string {
  const file = path.join(testRelease, name);
  if (!fs.existsSync(file)) throw new Error(`aioring: test fixture ${name} is not built (run npm run build:test)`);
  return file;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const testAddon: TestAddon = require(findFixture('aioring_test.node'));
testAddon.setErrorClass(AioError);
