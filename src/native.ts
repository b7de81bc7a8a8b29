// The compiled addon (native/addon), loaded once. Everything native goes
// through here so the rest of src/ sees typed functions.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AioError } from './errors';

export interface NativeLayout {
  readonly [name: string]: number;
}

export interface NativeRingMemory {
  readonly buffer: ArrayBuffer;
  readonly length: number;
  readonly fd: number;
  release(): void;
}

export interface NativeKernelContext {
  readonly id: bigint;
  readonly ring: ArrayBuffer;
  submitReads(fd: number, buffers: Uint8Array[], offsets: number[], cookies: number[]): number;
  getEvents(min: number, max: number, timeoutMs: number): Float64Array;
  destroy(): void;
}

export interface NativeLegacyRing {
  produce(data: number, res: number): number;
  space(): number;
  count(): number;
  reap(max: number): Float64Array;
}

export interface NativeV2Ring {
  produce(data: number, res: number): number;
  reserve(want: number): number;
  write(index: number, data: number, res: number): void;
  publish(n: number): number;
  mpReserve(want: number): [number, number];
  mpPublish(start: number, n: number): void;
  count(): number;
  peek(max: number): number;
  advance(n: number): void;
  reap(max: number): Float64Array;
  claimReap(max: number): Float64Array;
}

export interface NativeContextInfo {
  nr: number;
  capacity: number;
  kernel: boolean;
  threads: number;
  kernelError: number;
  readHelper: boolean;
  waitIndex: number;
  slabBase: number;
}

export interface NativeContext {
  readonly ring: ArrayBuffer;
  readonly waitBuffer: ArrayBuffer;
  readonly info: NativeContextInfo;
  submit(iocbs: Uint8Array, slots: Int32Array, n: number, buffers: unknown[] | undefined): number;
  cancel(slot: number): number;
  registerBuffers(buffers: ArrayBufferView[]): number;
  holdLoop(hold: boolean): void;
  inflight(): number;
  helperReads(): number;
  quiesce(): void;
  destroy(): void;
}

export interface BenchCellResult {
  eventsPerSec: number;
  p50Ns: number;
  p99Ns: number;
  outOfOrder: number;
}

export interface Addon {
  layout: NativeLayout;
  setErrorClass(ctor: typeof AioError): void;
  legacyNr(nrEvents: number, cpus: number, pageSize: number, aioMaxNr: number): number;
  systemInfo(): { possibleCpus: number; pageSize: number; aioMaxNr: number };
  validateLegacy(bytes: Uint8Array): string;
  validateV2(bytes: Uint8Array): string;
  hugePageSize(): number;
  RingMemory: new (kind: string, size: number, path?: string, huge?: boolean) => NativeRingMemory;
  KernelContext: new (nrEvents: number) => NativeKernelContext;
  NativeContext: new (
    nrEvents: number,
    flags: number,
    backend: string,
    threads: number,
    memory: unknown,
    onWake: () => void,
    attach: boolean,
  ) => NativeContext;
  ringBytes(nrEvents: number, flags: number): number;
  alignedBuffer(size: number, alignment: number): ArrayBuffer;
  /** size bytes (a multiple of 8) ending where a PROT_NONE page begins: a read past them faults */
  guardedBuffer(size: number): ArrayBuffer;
  NativeLegacyRing: new (bytes: Uint8Array, formatNr?: number) => NativeLegacyRing;
  NativeV2Ring: new (bytes: Uint8Array, formatEntries?: number, features?: number) => NativeV2Ring;
  benchRing(layout: string, batch: number, entries: number, events: number, periodNs?: number): BenchCellResult;
  stressV2(
    entries: number,
    producers: number,
    consumers: number,
    eventsPerProducer: number,
  ): { delivered: number; duplicates: number; missing: number; corrupt: number };
}

/**
 * A file npm install built into build/Release: src/ under ts-jest, dist/src/
 * when compiled, so look upwards for the package root.
 */
export function findBuilt(name: string): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'build', 'Release', name);
    if (fs.existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`aioring: ${name} is not built (run npm install)`);
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const addon: Addon = require(findBuilt('aioring.node'));
addon.setErrorClass(AioError);
