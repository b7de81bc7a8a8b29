// The context's request slots, one per request the ring can hold (in
// flight, or complete and not yet reaped), so a free slot is room in the
// ring. Slot s's iocb lives at slabBase + s * 64 in the engine's slab, and
// the kernel hands that address back as the event's obj: that is how a
// completion finds its slot. Both submit paths allocate here, a slot goes
// back the moment its request is known not to be queued; a busy slot keeps
// its request's buffers alive. Who a completion answers is completions.ts's.
import { AioError } from '../errors';
import { Iocb as IocbLayout } from '../layout';
import { NativeContext } from '../native';

const EAGAIN = 11;

export class Slots {
  readonly capacity: number;
  private readonly slabBase: number;
  /** what the request in each slot keeps alive: its buffers */
  private readonly held: (unknown | undefined)[];
  /** 1 while a slot's request is in flight or its event unreaped */
  private readonly busy: Uint8Array;
  private readonly free: Int32Array;
  private freeCount: number;
  /** the slots of the submit in progress, in request order */
  private reserved = new Int32Array(16);

  constructor(capacity: number, slabBase: number) {
    this.capacity = capacity;
    this.slabBase = slabBase;
    this.busy = new Uint8Array(capacity);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeCount = capacity;
    this.held = new Array(capacity).fill(undefined);
  }

  /** Slots whose completion has not been reaped. */
  get outstanding(): number {
    return this.capacity - this.freeCount;
  }

  /** How many of n requests the ring has room for: EAGAIN when none. */
  room(n: number): number {
    const take = Math.min(n, this.freeCount);
    if (take === 0) throw new AioError(EAGAIN, 'io_submit', 'the ring cannot take more requests');
    if (this.reserved.length < take) this.reserved = new Int32Array(take);
    return take;
  }

  /**
   * Submit take requests (at most room()) in one native call, each on a
   * free slot. The queued ones' slots turn busy; the others go back, all of
   * them when the call throws. Returns the number queued.
   */
  submit(native: NativeContext, iocbs: Uint8Array, take: number, buffers: unknown[] | undefined): number {
    const reserved = this.reserved;
    for (let k = 0; k < take; k++) reserved[k] = this.free[--this.freeCount];
    let queued: number;
    try {
      queued = native.submit(iocbs, reserved, take, buffers);
    } catch (e) {
      this.freeCount += take;
      throw e;
    }
    for (let k = 0; k < queued; k++) this.busy[reserved[k]] = 1;
    for (let k = queued; k < take; k++) this.free[this.freeCount++] = reserved[k];
    return queued;
  }

  /** Keep the k-th queued request of the last submit's buffers alive; returns its slot. */
  hold(k: number, buffers: unknown): number {
    const slot = this.reserved[k];
    this.held[slot] = buffers;
    return slot;
  }

  /**
   * Free the busy slot whose iocb sat at obj and let its buffers go;
   * returns the slot, or -1 when obj names none (it comes from shared memory).
   */
  release(obj: number): number {
    const slot = (obj - this.slabBase) / IocbLayout.size;
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.capacity || this.busy[slot] === 0) return -1;
    this.busy[slot] = 0;
    this.held[slot] = undefined;
    this.free[this.freeCount++] = slot;
    return slot;
  }

  /** destroy: the native context is gone, so no buffer needs keeping. */
  dropHeld(): void {
    this.held.fill(undefined);
  }
}
