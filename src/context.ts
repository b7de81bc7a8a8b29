// AioContext: a context that does real asynchronous I/O and completes it
// into a ring of the layout the caller chose, reaped here in JavaScript
// straight out of the mapped ring. Only the slow path (nothing ready)
// crosses into native code, to keep the process alive while it waits.
//
// Waiting follows io_uring: the consumer sets AIORING_V2_WAITER in the wait
// word (the v2 header's, or the engine's control page for a legacy ring),
// looks at the ring once more, and sleeps; a producer rings (uv_async) only
// when that bit is set, so a consumer that keeps up costs it nothing.
import { readFileSync } from 'node:fs';
import { types } from 'node:util';
import { AioError, checkCount, errnoName, invalid } from './errors';
import { EventBatch } from './events';
import { encodeIocb, IocbArray, IocbInit, REGISTERED } from './iocb';
import { AIORING_V2_WAITER, Iocb as IocbLayout } from './layout';
import { LegacyRing } from './legacyRing';
import { mapRingFile, mapRingMemory, RingMapping } from './memory';
import { addon, NativeContext, NativeContextInfo } from './native';
import { RingMemoryLike } from './ringMemoryView';
import { V2Ring } from './v2Ring';

/** Setup flags (native/core/engine.h). Only SETUP_V2 selects the v2 ring. */
export const SETUP_V2 = 1 << 0;
/** Legacy only: the context's ring is the kernel's own ring (passthrough). */
export const SETUP_KERNEL_RING = 1 << 1;
const SETUP_NO_USER_REAP = 1 << 2;
const SETUP_NO_INLINE = 1 << 3;
const SETUP_NO_READ_HELPER = 1 << 5;
/**
 * Legacy only: count requests as the kernel's context does, per CPU in
 * batches, so submit says EAGAIN exactly where io_submit would (before
 * nr - 1 when another CPU's batch holds part of the room).
 */
export const SETUP_KERNEL_REQS = 1 << 4;
export const SETUP_FLAGS = SETUP_V2 | SETUP_KERNEL_RING | SETUP_KERNEL_REQS;

export type BackendName = 'auto' | 'kernel' | 'threadpool';

export interface SetupOptions {
  /** SETUP_* bits; an unknown bit is EINVAL */
  flags?: number;
  /**
   * Ring memory: anonymous by default; `{ path }` creates a ring file
   * (tmpfs, /dev/shm, hugetlbfs; mode 0600, O_EXCL|O_NOFOLLOW);
   * `{ path, attach: true }` adopts an existing ring file after validating
   * it; a caller-owned ArrayBuffer, SharedArrayBuffer or Buffer (v2 only).
   */
  memory?: 'anonymous' | { path: string; attach?: boolean } | RingMemoryLike;
  /** whether this process reaps from the ring itself (flaw F6); default true */
  userReap?: boolean;
  /** auto (default): O_DIRECT to kernel AIO, the rest to the pool */
  backend?: BackendName;
  /** thread pool size; default 4 */
  threads?: number;
  /**
   * Try buffered reads inline first with RWF_NOWAIT (served from the page
   * cache without a thread hop; the pool runs what would block). Default true.
   */
  inlineReads?: boolean;
  /**
   * With two CPUs or more and a pool of two threads or more, let a helper
   * thread serve part of each submit of 8 or more cached reads, so their
   * page-cache copies run on two CPUs (their events may then arrive out of
   * submission order, as from the pool's threads). It spins for about
   * 30 µs for more work before it sleeps.
   * Default true; false keeps every inline read on the submitting thread.
   */
  readHelper?: boolean;
}

export interface BackendInfo {
  name: BackendName | 'kernel-ring';
  /** a kernel AIO context serves this context */
  kernel: boolean;
  /** thread pool size (0: none) */
  threads: number;
  /** a helper thread serves part of each large run of cached reads (SetupOptions.readHelper) */
  readHelper: boolean;
  reason: string;
}

export interface IoEventResult {
  /** the request's data cookie (a bigint past 2^53) */
  data: number | bigint;
  /** bytes transferred, or a negative errno */
  res: number;
  res2: number;
  /** the request, when it was submitted as an object */
  iocb?: IocbInit;
}

interface Waiter {
  min: number;
  max: number;
  out: IoEventResult[];
  resolve: (events: IoEventResult[]) => void;
  timer?: NodeJS.Timeout;
}

interface Pending {
  resolve: (res: number) => void;
  reject: (e: AioError) => void;
  syscall: string;
}

const napCell = new Int32Array(new SharedArrayBuffer(4));

function destroyed(syscall: string): AioError {
  return invalid('context was destroyed', undefined, syscall);
}

function isRingMemory(m: unknown): m is RingMemoryLike {
  return ArrayBuffer.isView(m) || types.isAnyArrayBuffer(m);
}

export class AioContext {
  /** the ring completions land in: reap it with getEvents or reap */
  readonly ring: LegacyRing | V2Ring;
  readonly layout: 'legacy' | 'v2';
  readonly flags: number;
  readonly backend: BackendInfo;
  /** in-flight plus unreaped events the ring takes at most */
  readonly capacity: number;
  /** the ring's mapping when setup mapped a file for it */
  readonly mapping?: RingMapping;

  private native: NativeContext | null;
  private readonly wait: Uint32Array;
  private readonly waitIndex: number;
  private readonly slabBase: number;
  private readonly batch: EventBatch;
  private readonly freeSlots: Int32Array;
  /** 1 while a slot's request is in flight or its event unreaped */
  private readonly busy: Uint8Array;
  private freeCount: number;
  private readonly held: (unknown | undefined)[];
  private readonly slotIocb: (IocbInit | undefined)[];
  private readonly slotPending: (Pending | undefined)[];
  private readonly iocbSlot = new WeakMap<IocbInit, number>();
  private readonly queue: IoEventResult[] = [];
  private readonly waiters: Waiter[] = [];
  private pendingCount = 0;
  private armed = false;
  private scratch = new Uint32Array(16 * (IocbLayout.size / 4));
  private scratchSlots = new Int32Array(16);

  constructor(nrEvents: number, options: SetupOptions = {}) {
    const flags = options.flags ?? 0;
    if (!Number.isInteger(flags) || flags < 0 || (flags & ~SETUP_FLAGS) !== 0) {
      throw invalid('unknown setup flag bits', 'flags', 'io_setup');
    }
    if (!Number.isInteger(nrEvents) || nrEvents < 1 || nrEvents > 0xffff_ffff) {
      throw invalid('nrEvents must be a positive integer', 'nrEvents', 'io_setup');
    }
    const v2 = (flags & SETUP_V2) !== 0;
    const backend = options.backend ?? 'auto';
    const threads = options.threads ?? 0;
    if (!['auto', 'kernel', 'threadpool'].includes(backend)) throw invalid('backend is auto, kernel or threadpool', 'backend', 'io_setup');
    if (!Number.isInteger(threads) || threads < 0 || threads > 64) throw invalid('threads must be in [0, 64]', 'threads', 'io_setup');
    const nativeFlags =
      flags |
      (options.userReap === false ? SETUP_NO_USER_REAP : 0) |
      (options.inlineReads === false ? SETUP_NO_INLINE : 0) |
      (options.readHelper === false ? SETUP_NO_READ_HELPER : 0);

    let memory: RingMemoryLike | undefined;
    let attach = false;
    const spec = options.memory ?? 'anonymous';
    if (spec === 'anonymous') {
      memory = undefined;
    } else if (isRingMemory(spec)) {
      if (!v2) throw invalid("a caller's buffer takes the v2 ring only (flags: SETUP_V2)", 'memory', 'io_setup');
      memory = spec;
    } else if (typeof spec === 'object' && spec !== null && typeof spec.path === 'string') {
      if (flags & SETUP_KERNEL_RING) throw invalid('the kernel ring cannot live in a file', 'memory', 'io_setup');
      attach = spec.attach === true;
      this.mapping = attach ? mapRingFile(spec.path) : mapRingMemory({ kind: 'file', path: spec.path }, addon.ringBytes(nrEvents, flags));
      memory = this.mapping.buffer;
    } else {
      throw invalid('memory is anonymous, { path }, or a buffer', 'memory', 'io_setup');
    }

    let native;
    try {
      native = createNative(nrEvents, nativeFlags, backend, threads, memory, attach, () => this.onWake());
    } catch (e) {
      this.mapping?.release();
      throw e;
    }
    this.native = native;
    this.flags = flags;
    this.layout = v2 ? 'v2' : 'legacy';
    const info = native.info;
    this.capacity = info.capacity;
    this.ring = v2 ? new V2Ring(native.ring) : new LegacyRing(native.ring);
    this.wait = new Uint32Array(native.waitBuffer);
    this.waitIndex = info.waitIndex;
    this.slabBase = info.slabBase;
    this.batch = new EventBatch(Math.min(this.capacity, 1024));
    this.freeSlots = new Int32Array(this.capacity);
    this.busy = new Uint8Array(this.capacity);
    for (let i = 0; i < this.capacity; i++) this.freeSlots[i] = this.capacity - 1 - i;
    this.freeCount = this.capacity;
    this.held = new Array(this.capacity).fill(undefined);
    this.slotIocb = new Array(this.capacity).fill(undefined);
    this.slotPending = new Array(this.capacity).fill(undefined);
    this.backend = describeBackend(backend, flags, info);
  }

  private live(syscall: string): NativeContext {
    if (this.native === null) throw destroyed(syscall);
    return this.native;
  }

  /** Times a producer rang because a waiter had announced itself. */
  get wakeups(): number {
    this.live('io_getevents');
    return Atomics.load(this.wait, this.waitIndex + 1);
  }

  /**
   * Requests submitted and not yet accounted complete. A producer publishes
   * an event before it lowers this count (so capacity is never
   * over-granted), so right after a reap it may still count that event for
   * a moment.
   */
  get inflight(): number {
    return this.live('io_getevents').inflight();
  }

  /** Cached reads the read helper thread has served so far (see SetupOptions.readHelper). */
  get helperReads(): number {
    return this.live('io_getevents').helperReads();
  }

  /**
   * Queue a batch in one native call, as io_submit: the number queued, or an
   * AioError when the first could not be (EAGAIN: the ring cannot take more).
   */
  submit(iocbs: IocbInit[]): number {
    const native = this.live('io_submit');
    if (!Array.isArray(iocbs)) throw invalid('submit takes an array of iocbs', 'iocbs', 'io_submit');
    return this.submitObjects(native, iocbs, undefined);
  }

  private submitObjects(native: NativeContext, iocbs: IocbInit[], pending: Pending | undefined): number {
    const n = iocbs.length;
    if (n === 0) return 0;
    this.ensureScratch(n);
    const buffers: unknown[] = [];
    const take = Math.min(n, this.freeCount);
    if (take === 0) throw new AioError(11, 'io_submit', 'the ring cannot take more requests');
    for (let k = 0; k < take; k++) {
      const ref = buffers.length + 1;
      const b = encodeIocb(this.scratch, k, iocbs[k], ref);
      if (b !== undefined) buffers.push(b);
      else buffers.push(undefined);
      this.scratchSlots[k] = this.freeSlots[--this.freeCount];
    }
    let queued: number;
    try {
      queued = native.submit(new Uint8Array(this.scratch.buffer, 0, take * IocbLayout.size), this.scratchSlots, take, buffers);
    } catch (e) {
      this.freeCount += take;
      throw e;
    }
    for (let k = 0; k < take; k++) {
      const slot = this.scratchSlots[k];
      if (k < queued) {
        this.busy[slot] = 1;
        this.held[slot] = buffers[k];
        this.slotIocb[slot] = iocbs[k];
        this.iocbSlot.set(iocbs[k], slot);
        if (pending) {
          this.slotPending[slot] = pending;
          this.pendingCount++;
        }
      } else {
        this.freeSlots[this.freeCount++] = slot;
      }
    }
    return queued;
  }

  /** The zero-allocation form: count requests of a preallocated IocbArray. */
  submitArray(array: IocbArray, count: number): number {
    const native = this.live('io_submit');
    checkCount(count, 'count');
    if (!(array instanceof IocbArray) || count > array.capacity) throw invalid('count exceeds the array', 'count', 'io_submit');
    if (count === 0) return 0;
    this.ensureScratch(count);
    const take = Math.min(count, this.freeCount);
    if (take === 0) throw new AioError(11, 'io_submit', 'the ring cannot take more requests');
    for (let k = 0; k < take; k++) this.scratchSlots[k] = this.freeSlots[--this.freeCount];
    let queued: number;
    try {
      queued = native.submit(array.bytes, this.scratchSlots, take, undefined);
    } catch (e) {
      this.freeCount += take;
      throw e;
    }
    for (let k = 0; k < queued; k++) this.busy[this.scratchSlots[k]] = 1;
    for (let k = queued; k < take; k++) this.freeSlots[this.freeCount++] = this.scratchSlots[k];
    return queued;
  }

  /** Buffers an IocbArray refers to by index; held until destroy. Returns the first index. */
  registerBuffers(buffers: ArrayBufferView[]): number {
    const first = this.live('aioring').registerBuffers(buffers);
    if (first + buffers.length > REGISTERED) throw invalid('too many registered buffers', 'buffers');
    return first;
  }

  private ensureScratch(n: number): void {
    if (this.scratchSlots.length < n) {
      this.scratchSlots = new Int32Array(n);
      this.scratch = new Uint32Array(n * (IocbLayout.size / 4));
    }
  }

  /**
   * Reap into a preallocated batch, synchronously, straight from the ring:
   * no native call, no allocation per event. Completions of read/write/fsync
   * promises are routed to them and not returned here.
   */
  reap(batch: EventBatch, max = batch.capacity): number {
    this.live('io_getevents');
    checkCount(max, 'max');
    max = Math.min(max, batch.capacity);
    let got = 0;
    while (got < max && this.queue.length > 0) batch.setEvent(got++, this.queue.shift()!);
    while (got < max) {
      const n = this.reapRing(max - got);
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        if (this.complete(i) !== undefined) batch.copyEvent(got++, this.batch, i);
      }
    }
    batch.length = got;
    return got;
  }

  /**
   * Events straight from the mapped ring when at least min are ready (no
   * native call); otherwise waits without blocking the event loop, up to
   * timeoutMs (none: forever), and resolves with what arrived.
   */
  getEvents(min: number, max: number, timeoutMs?: number): Promise<IoEventResult[]> {
    try {
      this.live('io_getevents');
      checkCount(min, 'min');
      checkCount(max, 'max');
      if (min > max || max === 0) throw invalid('need 0 <= min <= max and max >= 1', 'min', 'io_getevents');
      if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0)) throw invalid('timeoutMs must be >= 0', 'timeoutMs', 'io_getevents');
    } catch (e) {
      return Promise.reject(e);
    }
    const out: IoEventResult[] = [];
    this.drain(out, max);
    if (out.length >= min || timeoutMs === 0) return Promise.resolve(out);
    return new Promise((resolve) => {
      const w: Waiter = { min, max, out, resolve };
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => this.finishWaiter(w), timeoutMs);
      }
      this.waiters.push(w);
      this.arm();
    });
  }

  /** pread into buffer at position; resolves with the bytes read. */
  read(fd: number, buffer: ArrayBufferView, position = 0): Promise<number> {
    return this.one({ opcode: 'pread', fd, buffer, position }, 'read');
  }

  /** pwrite buffer at position; resolves with the bytes written. */
  write(fd: number, buffer: ArrayBufferView, position = 0): Promise<number> {
    return this.one({ opcode: 'pwrite', fd, buffer, position }, 'write');
  }

  fsync(fd: number): Promise<number> {
    return this.one({ opcode: 'fsync', fd }, 'fsync');
  }

  private one(cb: IocbInit, syscall: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const native = this.native;
      if (native === null) return reject(destroyed(syscall));
      try {
        this.submitObjects(native, [cb], { resolve, reject, syscall });
        this.arm();
      } catch (e) {
        reject(e);
      }
    });
  }

  /**
   * Cancel a request that has not started: it completes with -ECANCELED.
   * Throws EAGAIN when it is running (or with the kernel), EINVAL when it is
   * not in flight.
   */
  cancel(iocb: IocbInit): void {
    const native = this.live('io_cancel');
    const slot = this.iocbSlot.get(iocb);
    if (slot === undefined || this.slotIocb[slot] !== iocb) throw invalid('that iocb is not in flight', 'iocb', 'io_cancel');
    native.cancel(slot);
  }

  /**
   * Wait for in-flight I/O (queued requests are cancelled with -ECANCELED),
   * settle every pending promise and waiter with what arrived, then release
   * the context. Calls afterwards are EINVAL.
   */
  destroy(): void {
    const native = this.native;
    if (native === null) return;
    if (this.flags & SETUP_KERNEL_RING) {
      // passthrough: only the ring tells what the kernel finished; its
      // requests always complete, so reap until none is outstanding
      for (this.pump(); this.outstanding() > 0; this.pump()) Atomics.wait(napCell, 0, 0, 1);
    }
    native.quiesce();
    this.pump();
    for (const w of this.waiters.splice(0)) this.settle(w);
    this.native = null;
    native.destroy();
    this.mapping?.release();
    this.held.fill(undefined);
  }

  /** Slots whose completion has not been reaped. */
  private outstanding(): number {
    return this.capacity - this.freeCount;
  }

  // --- completion routing -------------------------------------------------

  /**
   * Account event i of this.batch: free its slot and its buffers; settle its
   * promise if it has one (returns undefined), else return its iocb or null.
   */
  private complete(i: number): IocbInit | null | undefined {
    const slot = (this.batch.obj(i) - this.slabBase) / IocbLayout.size;
    // obj comes from shared memory: only a slot we hold in flight counts
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.capacity || this.busy[slot] === 0) return null;
    const iocb = this.slotIocb[slot];
    const pending = this.slotPending[slot];
    this.busy[slot] = 0;
    this.held[slot] = undefined;
    this.slotIocb[slot] = undefined;
    this.slotPending[slot] = undefined;
    this.freeSlots[this.freeCount++] = slot;
    if (pending !== undefined) {
      this.pendingCount--;
      const res = this.batch.res(i);
      if (res < 0) pending.reject(new AioError(-res, pending.syscall, errnoName(-res)));
      else pending.resolve(res);
      return undefined;
    }
    return iocb ?? null;
  }

  private toResult(i: number, iocb: IocbInit | null): IoEventResult {
    const r: IoEventResult = { data: this.batch.dataExact(i), res: this.batch.res(i), res2: this.batch.res2(i) };
    if (iocb) r.iocb = iocb;
    return r;
  }

  /** Move up to max events into out: the internal queue first, then the ring. */
  private drain(out: IoEventResult[], max: number): void {
    while (out.length < max && this.queue.length > 0) out.push(this.queue.shift()!);
    while (out.length < max) {
      const n = this.reapRing(max - out.length);
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        const iocb = this.complete(i);
        if (iocb !== undefined) out.push(this.toResult(i, iocb));
      }
    }
  }

  private reapRing(max: number): number {
    const want = Math.min(max, this.batch.capacity);
    return this.ring instanceof V2Ring ? this.ring.reap(this.batch, want) : this.ring.reap(this.batch, want);
  }

  /** Reap everything ready: promises settle, the rest queues for getEvents. */
  private pump(): void {
    // with nothing queued, events go straight to the first waiter while it
    // has room; once it is full, the rest queue behind (it stays full)
    const w0 = this.queue.length === 0 ? this.waiters[0] : undefined;
    for (;;) {
      const n = this.reapRing(this.batch.capacity);
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        const iocb = this.complete(i);
        if (iocb === undefined) continue;
        if (w0 !== undefined && w0.out.length < w0.max) w0.out.push(this.toResult(i, iocb));
        else this.queue.push(this.toResult(i, iocb));
      }
    }
    if (w0 !== undefined && w0.out.length >= w0.min) this.finishWaiter(w0);
    while (this.waiters.length > 0 && this.queue.length > 0) {
      const w = this.waiters[0];
      while (w.out.length < w.max && this.queue.length > 0) w.out.push(this.queue.shift()!);
      if (w.out.length >= w.min) this.finishWaiter(w);
      else break;
    }
  }

  private finishWaiter(w: Waiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
    this.settle(w);
    this.disarmIfIdle();
  }

  private settle(w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    // a waiter that timed out still takes what is ready now
    if (this.native !== null) this.drain(w.out, w.max);
    w.resolve(w.out);
  }

  /** Announce a waiter, look again, and hold the loop until woken. */
  private arm(): void {
    if (!this.armed && this.native !== null) {
      this.armed = true;
      Atomics.or(this.wait, this.waitIndex, AIORING_V2_WAITER);
      this.native.holdLoop(true);
    }
    this.pump();
    this.disarmIfIdle();
  }

  private disarmIfIdle(): void {
    if (this.armed && this.waiters.length === 0 && this.pendingCount === 0 && this.native !== null) {
      this.armed = false;
      Atomics.and(this.wait, this.waitIndex, ~AIORING_V2_WAITER);
      this.native.holdLoop(false);
    }
  }

  private onWake(): void {
    if (this.native === null) return;
    this.pump();
    this.disarmIfIdle();
  }
}

function createNative(
  nrEvents: number,
  flags: number,
  backend: string,
  threads: number,
  memory: RingMemoryLike | undefined,
  attach: boolean,
  onWake: () => void,
): NativeContext {
  // the addon takes views: a SharedArrayBuffer is handed over as one
  const view = memory === undefined || ArrayBuffer.isView(memory) ? memory : new Uint8Array(memory);
  return new addon.NativeContext(nrEvents, flags, backend, threads, view, onWake, attach);
}

function describeBackend(requested: BackendName, flags: number, info: NativeContextInfo): BackendInfo {
  const readHelper = info.readHelper;
  const failed = info.kernelError ? `io_setup failed with ${errnoName(info.kernelError)}` : '';
  if (flags & SETUP_KERNEL_RING) {
    return { name: 'kernel-ring', kernel: true, threads: 0, readHelper, reason: "the kernel's own ring, exposed directly (passthrough)" };
  }
  if (requested === 'kernel') {
    return { name: 'kernel', kernel: true, threads: 0, readHelper, reason: 'kernel AIO for every request, as asked (buffered I/O runs inside io_submit)' };
  }
  if (requested === 'threadpool') {
    return { name: 'threadpool', kernel: false, threads: info.threads, readHelper, reason: `a pool of ${info.threads} threads, as asked` };
  }
  if (!info.kernel) {
    return { name: 'threadpool', kernel: false, threads: info.threads, readHelper, reason: `${failed}: a pool of ${info.threads} threads serves every request` };
  }
  return {
    name: 'auto',
    kernel: true,
    threads: info.threads,
    readHelper,
    reason: `O_DIRECT reads and writes go to kernel AIO; buffered I/O, fsync, poll and noop to a pool of ${info.threads} threads (buffered reads tried inline first)`,
  };
}

/** io_setup for aioring: a context whose ring is legacy unless flags has SETUP_V2. */
export function setup(nrEvents: number, options?: SetupOptions): AioContext {
  return new AioContext(nrEvents, options);
}

/** A buffer whose memory starts on an alignment boundary, for O_DIRECT. */
export function alignedBuffer(size: number, alignment = 4096): Buffer {
  return Buffer.from(addon.alignedBuffer(size, alignment));
}

export interface Features {
  /** setup flags this build understands; any other bit is EINVAL */
  flags: { SETUP_V2: number; SETUP_KERNEL_RING: number; SETUP_KERNEL_REQS: number; all: number };
  layouts: ('legacy' | 'v2')[];
  backends: { kernel: boolean; kernelError?: string; threadpool: true };
  memory: ('anonymous' | 'file' | 'buffer')[];
  hugepages: { size: number; free: number };
}

let kernelProbe: { ok: boolean; error?: string } | undefined;

/** What this build and this machine support. */
export function features(): Features {
  if (kernelProbe === undefined) {
    try {
      new addon.KernelContext(1).destroy();
      kernelProbe = { ok: true };
    } catch (e) {
      kernelProbe = { ok: false, error: e instanceof AioError ? e.code : String(e) };
    }
  }
  let free = 0;
  try {
    free = Number(/HugePages_Free:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  } catch {
    free = 0;
  }
  return {
    flags: { SETUP_V2, SETUP_KERNEL_RING, SETUP_KERNEL_REQS, all: SETUP_FLAGS },
    layouts: ['legacy', 'v2'],
    backends: { kernel: kernelProbe.ok, ...(kernelProbe.error ? { kernelError: kernelProbe.error } : {}), threadpool: true },
    memory: ['anonymous', 'file', 'buffer'],
    hugepages: { size: addon.hugePageSize(), free },
  };
}
