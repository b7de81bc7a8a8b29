// AioContext: a context that does real asynchronous I/O and completes it
// into a ring of the layout the caller chose, reaped here in JavaScript
// straight out of the mapped ring. Only the slow path (nothing ready)
// crosses into native code, to keep the process alive while it waits.
//
// This class is the public face; the work is in src/context/: options
// (setup's arguments), slots (the one slot allocator), submit (every path
// to the native submit), completions (reaping and delivering events),
// waiters (getEvents and the wake path) and backend (BackendInfo's words).
import { AIORING_REGISTERED_BUFFER, AIORING_RWF_GROUP, AIORING_SETUP_KERNEL_RING, AIORING_SETUP_V2 } from './abi';
import { bitsField, checkFd, checkFsReadWrite, checkFsVectored, checkTimeout } from './arguments';
import { AioError, checkCount, invalid } from './errors';
import { EventBatch } from './events';
import { IocbArray, IocbInit, Opcode, pinned } from './iocb';
import { LegacyRing } from './legacyRing';
import { RingMapping } from './memory';
import { addon, FileStats, NativeContext, SyncStats } from './native';
import { V2Ring } from './v2Ring';
import { BackendInfo, BackendName, describeBackend } from './context/backend';
import { Completions, IoEventResult } from './context/completions';
import { openNative, parseSetup, SetupOptions } from './context/options';
import { newRequest, Reply, Request, RequestQueue } from './context/queue';
import { Slots } from './context/slots';
import { Submitter } from './context/submit';
import { IOV_MAX, writeInPieces } from './context/vectors';
import { Waiters } from './context/waiters';

export { SETUP_V2, SETUP_KERNEL_RING, SETUP_KERNEL_REQS, SETUP_FLAGS } from './context/options';
export type { SetupOptions } from './context/options';
export type { BackendInfo, BackendName } from './context/backend';
export type { IoEventResult } from './context/completions';
export { TURN_BUDGET } from './context/budget';
export { features } from './features';
export type { Features } from './features';
export type { FileStats, SyncRecord, SyncStats } from './native';

const EAGAIN = 11;
const ENFILE = 23;

const napCell = new Int32Array(new SharedArrayBuffer(4));

function destroyed(syscall: string): AioError {
  return invalid('context was destroyed', undefined, syscall);
}

export class AioContext {
  /** the ring completions land in: reap it with getEvents or reap */
  readonly ring: LegacyRing | V2Ring;
  readonly layout: 'legacy' | 'v2';
  readonly flags: number;
  /** in-flight plus unreaped events the ring takes at most */
  readonly capacity: number;
  /** the ring's mapping when setup mapped a file for it */
  readonly mapping?: RingMapping;
  /**
   * Resolves once a destroyed context is gone: its kernel context (and the
   * aio-nr it charged), memory and threads. destroy() returns before that.
   */
  readonly closed: Promise<void>;

  private native: NativeContext | null;
  private readonly requestedBackend: BackendName;
  /** @internal files/commit.ts: the engine's pool runs this context's syncs, and group commit there (AIORING_RWF_GROUP); not with one thread, which keeps submission order */
  readonly poolCommits: boolean;
  private lastBackend: BackendInfo;
  private readonly slots: Slots;
  private readonly submitter: Submitter;
  private readonly requests: RequestQueue;
  private readonly completions: Completions;
  private readonly waiters: Waiters;
  /** held here: the addon holds it only while a waiter holds the loop, so a dropped context can be collected */
  private readonly onWake = (): void => this.waiters.wake();
  private close!: (released: Promise<void>) => void;

  constructor(nrEvents: number, options: SetupOptions | null = {}) {
    const args = parseSetup(nrEvents, options);
    this.closed = new Promise((resolve) => (this.close = resolve));
    const { native, mapping } = openNative(args, this.onWake);
    const info = native.info;
    const v2 = (args.flags & AIORING_SETUP_V2) !== 0;
    this.native = native;
    this.mapping = mapping;
    this.flags = args.flags;
    this.layout = v2 ? 'v2' : 'legacy';
    this.capacity = info.capacity;
    this.ring = v2 ? new V2Ring(native.ring) : new LegacyRing(native.ring);
    this.slots = new Slots(this.capacity, info.slabBase);
    this.completions = new Completions(this.ring, this.slots);
    this.submitter = new Submitter(this.slots, this.completions);
    this.requests = new RequestQueue(this.slots, this.submitter, () => this.waiters.arm());
    const wait = new Uint32Array(native.waitBuffer);
    this.waiters = new Waiters(() => this.native, wait, info.waitIndex, this.completions, this.requests);
    this.requestedBackend = args.backend;
    this.poolCommits = info.threads > 1 && (args.flags & AIORING_SETUP_KERNEL_RING) === 0;
    this.lastBackend = describeBackend(args.backend, args.flags, info);
  }

  /** Which backend serves the context, and why: auto's changes at its first O_DIRECT request. */
  get backend(): BackendInfo {
    if (this.native !== null) this.lastBackend = describeBackend(this.requestedBackend, this.flags, this.native.info);
    return this.lastBackend;
  }

  private live(syscall: string): NativeContext {
    if (this.native === null) throw destroyed(syscall);
    return this.native;
  }

  /** destroy() was called. */
  get destroyed(): boolean {
    return this.native === null;
  }

  /** Times a producer rang because a waiter had announced itself. */
  get wakeups(): number {
    this.live('io_getevents');
    return this.waiters.wakeups;
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
    return this.submitter.objects(this.live('io_submit'), iocbs);
  }

  /** The zero-allocation form: count requests of a preallocated IocbArray. */
  submitArray(array: IocbArray, count: number): number {
    return this.submitter.array(this.live('io_submit'), array, count);
  }

  /**
   * Buffers an IocbArray refers to by index; held until destroy and marked
   * untransferable like every buffer given to a request. Returns the first index.
   */
  registerBuffers(buffers: ArrayBufferView[]): number {
    const native = this.live('aioring');
    if (!Array.isArray(buffers)) throw invalid('registerBuffers takes an array', 'buffers');
    const first = native.registerBuffers(buffers.map((b) => pinned(b, 'buffers')));
    if (first + buffers.length > AIORING_REGISTERED_BUFFER) throw invalid('too many registered buffers', 'buffers');
    return first;
  }

  /**
   * Reap into a preallocated batch, synchronously, straight from the ring:
   * no native call, no allocation per event. Completions of read/write/fsync
   * promises are routed to them and not returned here.
   */
  reap(batch: EventBatch, max = batch.capacity): number {
    this.live('io_getevents');
    checkCount(max, 'max');
    return this.completions.reap(batch, Math.min(max, batch.capacity));
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
      checkTimeout(timeoutMs);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.waiters.getEvents(min, max, timeoutMs);
  }

  // The promise calls queue past the ring's room and past the turn's
  // budget, and are submitted in call order, every call of one turn in one
  // native submit (context/queue.ts). Their checks throw into a try, not a
  // closure: the promise is all a call allocates.

  /**
   * pread into buffer at position (a number or bigint; default 0); resolves
   * with the bytes read. Bad arguments reject as node:fs's would.
   */
  read(fd: number, buffer: ArrayBufferView, position: number | bigint = 0): Promise<number> {
    try {
      checkFsReadWrite(fd, buffer, position, 'read');
    } catch (e) {
      return Promise.reject(e);
    }
    return this.transfer(Opcode.pread, fd, buffer, position, 'read');
  }

  /** pwrite buffer at position (as read's); resolves with the bytes written. */
  write(fd: number, buffer: ArrayBufferView, position: number | bigint = 0): Promise<number> {
    try {
      checkFsReadWrite(fd, buffer, position, 'write');
    } catch (e) {
      return Promise.reject(e);
    }
    return this.transfer(Opcode.pwrite, fd, buffer, position, 'write');
  }

  /**
   * preadv into buffers at position (a number or bigint; default 0); resolves
   * with the bytes read. As node:fs: no buffers is EINVAL, and past IOV_MAX
   * buffers only the first IOV_MAX are read into.
   */
  readv(fd: number, buffers: ArrayBufferView[], position: number | bigint = 0): Promise<number> {
    try {
      checkFsVectored(fd, buffers, position, 'read');
    } catch (e) {
      return Promise.reject(e);
    }
    // the array as it is now (a queued call must not see the caller empty or
    // reuse it), and as node:fs no more than IOV_MAX of it (context/vectors.ts)
    // node:fs reports a vectored call's errors as read's and write's
    return this.transfer(Opcode.preadv, fd, buffers.slice(0, IOV_MAX), position, 'read');
  }

  /**
   * pwritev buffers at position (a number or bigint; default 0); resolves
   * with the bytes written. As node:fs: past IOV_MAX buffers they are
   * written IOV_MAX at a time, in order (context/vectors.ts).
   */
  writev(fd: number, buffers: ArrayBufferView[], position: number | bigint = 0): Promise<number> {
    try {
      checkFsVectored(fd, buffers, position, 'write');
    } catch (e) {
      return Promise.reject(e);
    }
    if (buffers.length <= IOV_MAX) return this.transfer(Opcode.pwritev, fd, buffers.slice(), position, 'write');
    return writeInPieces(buffers.slice(), position, (piece, at) => this.transfer(Opcode.pwritev, fd, piece, at, 'write'));
  }

  fsync(fd: number): Promise<number> {
    try {
      checkFd(fd);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.transfer(Opcode.fsync, fd, undefined, 0, 'fsync');
  }

  /** fdatasync: the data and what reading it back needs, not every metadata change. */
  datasync(fd: number): Promise<number> {
    try {
      checkFd(fd);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.transfer(Opcode.fdsync, fd, undefined, 0, 'fdatasync');
  }

  /**
   * pwritev2: write (one buffer) or writev (an array) with rwFlags, e.g.
   * RWF_DSYNC, which makes the data durable before it resolves.
   */
  pwritev2(fd: number, buffer: ArrayBufferView | ArrayBufferView[], position: number | bigint, rwFlags: number): Promise<number> {
    const vectored = Array.isArray(buffer);
    try {
      if (vectored) checkFsVectored(fd, buffer, position, 'write');
      else checkFsReadWrite(fd, buffer, position, 'write');
      bitsField(rwFlags, 0, 32, 'rwFlags', 'write');
    } catch (e) {
      return Promise.reject(e);
    }
    if (vectored && buffer.length > IOV_MAX) {
      // IOV_MAX at a time, as writev (each piece with the flags: RWF_DSYNC makes each durable)
      return writeInPieces(buffer.slice(), position, (piece, at) => this.transfer(Opcode.pwritev, fd, piece, at, 'write', rwFlags));
    }
    return this.transfer(vectored ? Opcode.pwritev : Opcode.pwrite, fd, vectored ? buffer.slice() : buffer, position, 'write', rwFlags);
  }

  /**
   * @internal files/commit.ts, on a context with poolCommits: a grouped
   * fsync or fdatasync of fd (full: fsync), or a grouped write (buffer
   * given), which resolves with the bytes written once a sync that began
   * after the write completed has ended. Arguments checked by the caller.
   */
  groupCommit(fd: number, full: boolean, buffer?: ArrayBufferView | ArrayBufferView[], position: number | bigint = 0): Promise<number> {
    if (buffer === undefined) return this.transfer(full ? Opcode.fsync : Opcode.fdsync, fd, undefined, 0, full ? 'fsync' : 'fdatasync', AIORING_RWF_GROUP);
    const vectored = Array.isArray(buffer);
    return this.transfer(vectored ? Opcode.pwritev : Opcode.pwrite, fd, vectored ? buffer.slice() : buffer, position, 'write', AIORING_RWF_GROUP);
  }

  /** The fsync and fdatasync calls the engine ran for this context, the last 256 timed. */
  syncStats(): SyncStats {
    return this.live('fsync').syncStats();
  }

  /**
   * A uring context's io_uring file table: the files FileHandles from
   * open() registered in it, its size, and how many requests ran on a
   * registered file. Raw descriptors (ctx.read(fd, ...)) are never registered.
   */
  fileStats(): FileStats {
    return this.live('aioring').fileStats();
  }

  /**
   * @internal FileHandle, at its first request: register fd's file in a
   * uring context's file table; its slot, or -1 (another backend, the
   * table unavailable: the handle runs unregistered), -2 (try again at the
   * next request) or -3 (the table is full: try again once a slot was
   * emptied, fileReleases).
   */
  registerFile(fd: number): number {
    const native = this.live('aioring');
    if (!native.info.uring) return -1;
    const slot = native.registerFile(fd);
    return slot >= 0 ? slot : slot === -EAGAIN ? -2 : slot === -ENFILE ? -3 : -1;
  }

  /** @internal FileHandle.close, before it closes the descriptor: the slot is emptied (no-op once destroyed). */
  unregisterFile(slot: number): void {
    if (this.native !== null && this.native.unregisterFile(slot) === 0) this.fileReleases++;
  }

  /**
   * @internal Slots unregisterFile has emptied so far: a handle that found
   * the table full (registerFile's -3) tries again once this has moved.
   */
  fileReleases = 0;

  /**
   * @internal A FileHandle's streams and group commit: opcode on fd, its
   * arguments already checked, marked with the handle's fixed-file slot + 1
   * (0: none), which the engine uses only while the slot still holds the
   * file of fd.
   */
  transferOn(file: number, opcode: number, fd: number, data: ArrayBufferView | ArrayBufferView[] | undefined, position: number | bigint, syscall: string): Promise<number> {
    return this.transfer(opcode, fd, data, position, syscall, 0, file);
  }

  private transfer(
    opcode: number,
    fd: number,
    data: ArrayBufferView | ArrayBufferView[] | undefined,
    position: number | bigint,
    syscall: string,
    rwFlags = 0,
    file = 0,
  ): Promise<number> {
    const r = newRequest();
    r.opcode = opcode;
    r.fd = fd;
    r.file = file;
    r.data = data;
    r.length = data !== undefined && !Array.isArray(data) ? data.byteLength : 0;
    r.position = position;
    r.rwFlags = rwFlags;
    r.syscall = syscall;
    r.reply = Reply.Count;
    return this.enqueue<number>(r);
  }
  /**
   * A filled request record (context/queue.ts): queued now, submitted with
   * the rest of this turn's calls; its promise settles with its completion.
   * The way in for src/files/.
   */
  enqueue<T>(r: Request): Promise<T> {
    const p = r.promise<T>();
    if (this.native === null) {
      r.reject(destroyed(r.syscall));
      return p;
    }
    try {
      Submitter.pin(r);
    } catch (e) {
      r.reject(e as AioError);
      return p;
    }
    this.requests.add(r);
    return p;
  }

  /**
   * Cancel a request that has not started: it completes with -ECANCELED.
   * Throws EAGAIN when it is running (or with the kernel), EINVAL when it is
   * not in flight.
   */
  cancel(iocb: IocbInit): void {
    const native = this.live('io_cancel');
    const slot = this.completions.slotOf(iocb);
    if (slot < 0) throw invalid('that iocb is not in flight', 'iocb', 'io_cancel');
    native.cancel(slot);
  }

  /**
   * Cancel what may never complete (queued requests, polls: they complete
   * with -ECANCELED), wait for the I/O that is running, settle every
   * pending promise and waiter with what arrived, detach the ring; calls
   * afterwards are EINVAL. The kernel's io_destroy and the frees finish in
   * the background: `closed` resolves then.
   */
  destroy(): void {
    const native = this.native;
    if (native === null) return;
    native.quiesce();
    if (this.flags & AIORING_SETUP_KERNEL_RING) {
      // passthrough: only the ring tells what the kernel finished; what it
      // still holds completes (its polls were cancelled), so reap until none is outstanding
      for (this.waiters.pump(); this.slots.outstanding > 0; this.waiters.pump()) Atomics.wait(napCell, 0, 0, 1);
    }
    this.waiters.pump();
    this.waiters.close();
    this.native = null;
    this.close(native.destroy());
    this.mapping?.release();
    this.slots.dropHeld();
  }
}

/** io_setup for aioring: a context whose ring is legacy unless flags has SETUP_V2. */
export function setup(nrEvents: number, options?: SetupOptions | null): AioContext {
  return new AioContext(nrEvents, options);
}

/** A buffer whose memory starts on an alignment boundary, for O_DIRECT. */
export function alignedBuffer(size: number, alignment = 4096): Buffer {
  return Buffer.from(addon.alignedBuffer(size, alignment));
}
