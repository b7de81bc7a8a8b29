// Every way a request reaches the native submit: a batch of objects
// (submit), a preallocated IocbArray (submitArray), and the promise calls
// (read, write, readv, writev, fsync, datasync: queue.ts), whose request
// records are encoded here straight from their fields, as many per native
// call as the queue hands over, and settled by their completion
// (completions.ts). Each
// request queued is a unit of the turn's budget (budget.ts), and a large
// buffer one more per BYTES_PER_UNIT: a cached read is served inside the call.
import { checkCount, invalid } from '../errors';
import { writeU64 } from '../events';
import { encodeIocb, IocbArray, IocbInit, Opcode, pinned } from '../iocb';
import { Iocb as IocbLayout } from '../layout';
import { NativeContext } from '../native';
import { BYTES_PER_UNIT, spend } from './budget';
import { Completions } from './completions';
import type { Request } from './queue';
import { Slots } from './slots';

const WORDS = IocbLayout.size / 4;

/** aio_reserved2's high word, as the addon reads it (context_bindings.cc, OWNED_*) */
const OWNED_FD = 0x8000_0000;
const OWNED_DIRECT = 0x4000_0000;

/**
 * A FileHandle's Request.file: its fixed-file slot (-1: none) and its word
 * that its descriptor is open, O_DIRECT or not (the handle owns it).
 */
export function ownedFile(slot: number, direct: boolean): number {
  return (OWNED_FD | (direct ? OWNED_DIRECT : 0) | (slot >= 0 ? slot + 1 : 0)) >>> 0;
}

export class Submitter {
  private readonly slots: Slots;
  private readonly completions: Completions;
  /** the object path's requests, encoded as the addon reads them */
  private scratch = new Uint32Array(16 * WORDS);
  /** the promise path's: iocbs and the buffers they name, reused by every batch */
  private batch = new Uint32Array(64 * WORDS);
  private batchBytes = new Uint8Array(this.batch.buffer);
  private readonly batchBuffers: unknown[] = [];

  constructor(slots: Slots, completions: Completions) {
    this.slots = slots;
    this.completions = completions;
  }

  /** submit(IocbInit[]): the number queued; AioError when the first is not. */
  objects(native: NativeContext, iocbs: IocbInit[]): number {
    if (!Array.isArray(iocbs)) throw invalid('submit takes an array of iocbs', 'iocbs', 'io_submit');
    return this.encoded(native, iocbs);
  }

  /** submitArray: count requests of a preallocated IocbArray, nothing allocated. */
  array(native: NativeContext, array: IocbArray, count: number): number {
    checkCount(count, 'count');
    if (!(array instanceof IocbArray) || count > array.capacity) throw invalid('count exceeds the array', 'count', 'io_submit');
    if (count === 0) return 0;
    const queued = this.slots.submit(native, array.bytes, this.slots.room(count), undefined);
    spend(queued);
    return queued;
  }

  /**
   * Up to take queued promise calls from reqs[from] in one native call;
   * returns how many were queued. Throws, queueing none, when the engine
   * refuses the first.
   */
  requests(native: NativeContext, reqs: Request[], from: number, take: number): number {
    const n = this.slots.room(take);
    if (this.batch.length < n * WORDS) {
      this.batch = new Uint32Array(n * WORDS);
      this.batchBytes = new Uint8Array(this.batch.buffer);
    }
    const buffers = this.batchBuffers;
    for (let k = 0; k < n; k++) this.encodeRequest(this.batch, k, reqs[from + k], buffers);
    let queued: number;
    try {
      queued = this.slots.submit(native, this.batchBytes, n, buffers);
    } catch (e) {
      // a refusal is work too: a loop of awaited calls the engine refuses lets the event loop turn
      buffers.length = 0;
      spend(1);
      throw e;
    }
    let units = queued;
    for (let k = 0; k < queued; k++) {
      const r = reqs[from + k];
      this.completions.expectPending(this.slots.hold(k, buffers[k]), r);
      if (r.length > BYTES_PER_UNIT) units += Math.floor(r.length / BYTES_PER_UNIT);
    }
    buffers.length = 0;
    spend(units);
    return queued;
  }

  /**
   * Pin a promise call's buffers when it is made, not when it is submitted:
   * a caller may transfer a buffer right after the call (iocb.ts, pinned).
   * A refusal names the call's node:fs syscall, never io_submit.
   */
  static pin(r: Request): void {
    const op = r.opcode;
    if (op === Opcode.pread || op === Opcode.pwrite) r.data = pinned(r.data, 'buffer', r.syscall);
    else if (op === Opcode.preadv || op === Opcode.pwritev) {
      const list = r.data as ArrayBufferView[];
      for (let i = 0; i < list.length; i++) list[i] = pinned(list[i], 'buffers', r.syscall);
    }
  }

  /** Request r as iocb k, its buffers as buffers[k]. */
  private encodeRequest(u32: Uint32Array, k: number, r: Request, buffers: unknown[]): void {
    const w = k * WORDS;
    u32.fill(0, w, w + WORDS);
    u32[w + IocbLayout.aio_lio_opcode / 4] = r.opcode;
    u32[w + IocbLayout.aio_fildes / 4] = r.fd;
    // aio_reserved2's high word: the addon takes it out as the request's fixed-file slot and owner's word
    u32[w + IocbLayout.aio_reserved2 / 4 + 1] = r.file;
    u32[w + IocbLayout.aio_rw_flags / 4] = r.rwFlags;
    writeU64(u32, w + IocbLayout.aio_offset / 4, r.position);
    const op = r.opcode;
    if (op === Opcode.pread || op === Opcode.pwrite) {
      buffers[k] = r.data;
      writeU64(u32, w + IocbLayout.aio_buf / 4, r.offset);
      writeU64(u32, w + IocbLayout.aio_nbytes / 4, r.length);
      u32[w + IocbLayout.aio_reserved2 / 4] = k + 1;
      return;
    }
    if (op === Opcode.preadv || op === Opcode.pwritev) {
      const list = r.data as ArrayBufferView[];
      buffers[k] = list;
      writeU64(u32, w + IocbLayout.aio_nbytes / 4, list.length);
      u32[w + IocbLayout.aio_reserved2 / 4] = k + 1;
      return;
    }
    buffers[k] = undefined;
  }

  private encoded(native: NativeContext, iocbs: IocbInit[]): number {
    const n = iocbs.length;
    if (n === 0) return 0;
    const take = this.slots.room(n);
    if (this.scratch.length < take * WORDS) this.scratch = new Uint32Array(take * WORDS);
    const buffers: unknown[] = [];
    for (let k = 0; k < take; k++) buffers.push(encodeIocb(this.scratch, k, iocbs[k], k + 1));
    const queued = this.slots.submit(native, new Uint8Array(this.scratch.buffer, 0, take * IocbLayout.size), take, buffers);
    let units = queued;
    for (let k = 0; k < queued; k++) {
      this.completions.expect(this.slots.hold(k, buffers[k]), iocbs[k]);
      const bytes = iocbs[k].buffer?.byteLength ?? 0;
      if (bytes > BYTES_PER_UNIT) units += Math.floor(bytes / BYTES_PER_UNIT);
    }
    spend(units);
    return queued;
  }
}
