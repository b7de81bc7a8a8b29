// The compiled addon (native/addon), loaded once. Everything native goes
// through here so the rest of src/ sees typed functions.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AioError } from './errors';

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

export interface NativeContextInfo {
  nr: number;
  capacity: number;
  kernel: boolean;
  threads: number;
  kernelError: number;
  readHelper: boolean;
  /** an io_uring ring exists (backend 'uring', or auto's once made) */
  uring: boolean;
  /** errno its io_uring_setup failed with (0: none failed) */
  uringError: number;
  /** auto on io_uring: its ring made, or to be made at the first request not served inline */
  uringAuto: boolean;
  /** auto: errno of the process's io_uring probe where io_uring is refused (0: allowed, or not asked) */
  uringRefused: number;
  waitIndex: number;
  slabBase: number;
}

/** A sync the engine ran: its fd, and its start and end in CLOCK_MONOTONIC nanoseconds (process.hrtime.bigint()). */
export interface SyncRecord {
  fd: number;
  op: 'fsync' | 'fdatasync';
  start: bigint;
  end: bigint;
}

/** The fsync and fdatasync calls a context's engine made, and the last 256 of them, oldest first. */
export interface SyncStats {
  fsyncs: number;
  fdatasyncs: number;
  /** grouped syncs whose start the pool held (the commit delay) for the calls the last sync served to come back */
  delays: number;
  records: SyncRecord[];
}

/** A uring context's io_uring file table (FileHandles register their files in it). */
export interface FileStats {
  /** slots holding a file */
  registered: number;
  /** the table's slots; 0 for a context of another backend */
  capacity: number;
  /** requests that ran on a registered file (IOSQE_FIXED_FILE) */
  requests: number;
  /** errno the table's registration failed with (then every handle runs unregistered), 0 */
  error: number;
}

export interface NativeContext {
  readonly ring: ArrayBuffer;
  readonly waitBuffer: ArrayBuffer;
  readonly info: NativeContextInfo;
  submit(iocbs: Uint8Array, slots: Int32Array, n: number, buffers: unknown[] | undefined): number;
  cancel(slot: number): number;
  registerBuffers(buffers: ArrayBufferView[]): number;
  /** the fixed-file slot of fd's file, or a negative errno */
  registerFile(fd: number): number;
  unregisterFile(slot: number): number;
  fileStats(): FileStats;
  holdLoop(hold: boolean): void;
  inflight(): number;
  helperReads(): number;
  syncStats(): SyncStats;
  quiesce(): void;
  /** resolves once the context's kernel context, memory and threads are gone */
  destroy(): Promise<void>;
}

export interface Addon {
  setErrorClass(ctor: typeof AioError): void;
  legacyNr(nrEvents: number, cpus: number, pageSize: number, aioMaxNr: number): number;
  systemInfo(): { possibleCpus: number; pageSize: number; aioMaxNr: number; iovMax: number };
  /** 0 where io_uring works in this process, else its errno (ENOSYS: built without liburing) */
  uringProbe(): number;
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
    preferUring: boolean,
  ) => NativeContext;
  ringBytes(nrEvents: number, flags: number): number;
  alignedBuffer(size: number, alignment: number): ArrayBuffer;
  /** the address of the view's first byte modulo 2^20 (a TypedArray's; O_DIRECT's checks) */
  addressLowBits(view: ArrayBufferView): number;
  dioAlignment(fd: number): [memory: number, offset: number] | null;
  seek(fd: number, offset: number, whence: number): number;
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
