// Completions, reaped straight out of the mapped ring (no native call, no
// allocation per event on the reap path) and delivered by their slot: a
// promise call's settles its promise here; every other is handed to reap
// or getEvents, or queued until one asks. Each slot's iocb and promise are
// recorded here at submit, so the per-event path reads them in place.
// Every event reaped is a unit of the turn's budget (budget.ts).
import { AioError, systemError } from '../errors';
import { EventBatch } from '../events';
import { IocbInit } from '../iocb';
import { LegacyRing } from '../legacyRing';
import { V2Ring } from '../v2Ring';
import { BYTES_PER_UNIT, spend } from './budget';
import { Slots } from './slots';

/** A promise call waiting for its request's completion. */
export interface Pending {
  resolve: (res: number) => void;
  reject: (e: AioError) => void;
  syscall: string;
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

/** Somewhere events go until it holds max of them (a getEvents waiter). */
export interface EventSink {
  readonly max: number;
  readonly out: IoEventResult[];
}

export class Completions {
  /** reaped events nobody has asked for yet, oldest first */
  readonly queue: IoEventResult[] = [];
  /** slots with a promise to settle */
  pendingCount = 0;
  private readonly ring: LegacyRing | V2Ring;
  private readonly slots: Slots;
  /** what the ring is reaped into */
  private readonly batch: EventBatch;
  /** the request in each slot, when it was submitted as an object */
  private readonly iocbs: (IocbInit | undefined)[];
  /** the promise each slot answers, when a promise call submitted it */
  private readonly pending: (Pending | undefined)[];
  private readonly iocbSlot = new WeakMap<IocbInit, number>();

  constructor(ring: LegacyRing | V2Ring, slots: Slots) {
    this.ring = ring;
    this.slots = slots;
    this.batch = new EventBatch(Math.min(slots.capacity, 1024));
    this.iocbs = new Array(slots.capacity).fill(undefined);
    this.pending = new Array(slots.capacity).fill(undefined);
  }

  /** Whom slot's completion answers: the iocb submitted as an object. */
  expect(slot: number, iocb: IocbInit): void {
    this.iocbs[slot] = iocb;
    this.iocbSlot.set(iocb, slot);
  }

  /** Whom slot's completion answers: a promise call's record. */
  expectPending(slot: number, pending: Pending): void {
    this.pending[slot] = pending;
    this.pendingCount++;
  }

  /**
   * Reject every promise call whose completion has not been read (the ring
   * cannot be read). Their slots stay taken: their I/O may still be in
   * flight and its event has nowhere to be read from.
   */
  failPending(e: Error): void {
    for (let slot = 0; slot < this.pending.length; slot++) {
      const pending = this.pending[slot];
      if (pending === undefined) continue;
      this.pending[slot] = undefined;
      this.pendingCount--;
      pending.reject(e as AioError);
    }
  }

  /** The slot iocb is in flight in, or -1. */
  slotOf(iocb: IocbInit): number {
    const slot = this.iocbSlot.get(iocb);
    return slot !== undefined && this.iocbs[slot] === iocb ? slot : -1;
  }

  /** Up to max events into a caller's batch: the queue first, then the ring. */
  reap(batch: EventBatch, max: number): number {
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

  /** Move up to max events into out: the queue first, then the ring. */
  drain(out: IoEventResult[], max: number): void {
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

  /**
   * Reap up to limit events (Infinity: everything ready). Events go to sink
   * while it has room (the caller passes one only when the queue is empty,
   * so order holds), the rest queue.
   */
  collect(sink: EventSink | undefined, limit: number): void {
    for (let left = limit; left > 0; ) {
      const n = this.reapRing(left);
      if (n === 0) break;
      left -= n;
      for (let i = 0; i < n; i++) {
        const iocb = this.complete(i);
        if (iocb === undefined) continue;
        if (sink !== undefined && sink.out.length < sink.max) sink.out.push(this.toResult(i, iocb));
        else this.queue.push(this.toResult(i, iocb));
      }
    }
  }

  /**
   * Account event i of this.batch: free its slot; settle its promise if it
   * has one (returns undefined), else return its iocb or null.
   */
  private complete(i: number): IocbInit | null | undefined {
    const slot = this.slots.release(this.batch.obj(i));
    if (slot < 0) return null;
    const iocb = this.iocbs[slot];
    const pending = this.pending[slot];
    this.iocbs[slot] = undefined;
    if (pending !== undefined) {
      this.pending[slot] = undefined;
      this.pendingCount--;
      const res = this.batch.res(i);
      if (res < 0) pending.reject(systemError(-res, pending.syscall));
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

  private reapRing(max: number): number {
    const want = Math.min(max, this.batch.capacity);
    // two calls, so each stays monomorphic
    const n = this.ring instanceof V2Ring ? this.ring.reap(this.batch, want) : this.ring.reap(this.batch, want);
    let units = n;
    for (let i = 0; i < n; i++) {
      const res = this.batch.res(i);
      if (res > BYTES_PER_UNIT) units += Math.floor(res / BYTES_PER_UNIT);
    }
    spend(units);
    return n;
  }
}
