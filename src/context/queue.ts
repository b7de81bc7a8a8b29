// Backpressure for the promise calls (read, write, readv, writev, fsync,
// datasync), as node:fs has it: a call the ring has no room for, or that
// comes after the turn's budget is spent (budget.ts), waits here instead of
// failing with EAGAIN, and is submitted as completions free room, in the
// order the calls were made (nothing overtakes a queued request). The raw
// submit and submitArray do not come here: they keep io_submit's EAGAIN.
import { AioError } from '../errors';
import { IocbInit } from '../iocb';
import { NativeContext } from '../native';
import { budgetSpent } from './budget';
import { Pending } from './completions';
import { Slots } from './slots';
import { Submitter } from './submit';

const ECANCELED = 125;

interface Queued {
  readonly cb: IocbInit;
  readonly pending: Pending;
}

export class RequestQueue {
  private readonly slots: Slots;
  private readonly submitter: Submitter;
  /** oldest first, from head on; the slots before head are spent */
  private items: (Queued | undefined)[] = [];
  private head = 0;

  constructor(slots: Slots, submitter: Submitter) {
    this.slots = slots;
    this.submitter = submitter;
  }

  /** Promise calls waiting to be submitted. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** A promise call: submitted now when nothing waits ahead of it, the ring has room and the budget lasts; else queued. */
  add(native: NativeContext, cb: IocbInit, pending: Pending): void {
    if (this.length === 0 && this.canSubmit() && this.submit(native, cb, pending)) return;
    this.items.push({ cb, pending });
  }

  /** Submit queued calls, oldest first, while the ring has room and the budget lasts; returns how many left the queue. */
  drain(native: NativeContext): number {
    const start = this.head;
    while (this.head < this.items.length && this.canSubmit()) {
      const q = this.items[this.head]!;
      if (!this.submit(native, q.cb, q.pending)) break;
      this.items[this.head++] = undefined;
    }
    const moved = this.head - start;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && 2 * this.head >= this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return moved;
  }

  /** destroy: the calls never submitted reject with ECANCELED. */
  close(): void {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    for (const q of rest) {
      const { syscall } = q!.pending;
      q!.pending.reject(new AioError(ECANCELED, syscall, 'the context was destroyed before this request was submitted'));
    }
  }

  private canSubmit(): boolean {
    return this.slots.outstanding < this.slots.capacity && !budgetSpent();
  }

  /**
   * Hand one call to the engine. False when the engine has no room now
   * (EAGAIN while requests are in flight, whose completions make room);
   * any other refusal rejects the call's promise.
   */
  private submit(native: NativeContext, cb: IocbInit, pending: Pending): boolean {
    try {
      this.submitter.request(native, cb, pending);
    } catch (e) {
      if (e instanceof AioError && e.code === 'EAGAIN' && this.slots.outstanding > 0) return false;
      pending.reject(e as AioError);
    }
    return true;
  }
}
