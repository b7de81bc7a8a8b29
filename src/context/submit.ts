// Every way a request reaches the native submit: a batch of objects
// (submit), a preallocated IocbArray (submitArray), and the promise calls
// (read, write, readv, writev, fsync, datasync: queue.ts), which submit one
// object each and are settled by its completion (completions.ts). Each
// request queued is a unit of the turn's budget (budget.ts), and a large
// buffer one more per BYTES_PER_UNIT: a cached read is served inside the call.
import { checkCount, invalid } from '../errors';
import { encodeIocb, IocbArray, IocbInit } from '../iocb';
import { Iocb as IocbLayout } from '../layout';
import { NativeContext } from '../native';
import { BYTES_PER_UNIT, spend } from './budget';
import { Completions, Pending } from './completions';
import { Slots } from './slots';

export class Submitter {
  private readonly slots: Slots;
  private readonly completions: Completions;
  /** the object path's requests, encoded as the addon reads them */
  private scratch = new Uint32Array(16 * (IocbLayout.size / 4));

  constructor(slots: Slots, completions: Completions) {
    this.slots = slots;
    this.completions = completions;
  }

  /** submit(IocbInit[]): the number queued; AioError when the first is not. */
  objects(native: NativeContext, iocbs: IocbInit[]): number {
    if (!Array.isArray(iocbs)) throw invalid('submit takes an array of iocbs', 'iocbs', 'io_submit');
    return this.encoded(native, iocbs, undefined);
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

  /** A promise call's request: pending settles when it completes; throws when it is not queued. */
  request(native: NativeContext, cb: IocbInit, pending: Pending): void {
    this.encoded(native, [cb], pending);
  }

  private encoded(native: NativeContext, iocbs: IocbInit[], pending: Pending | undefined): number {
    const n = iocbs.length;
    if (n === 0) return 0;
    const take = this.slots.room(n);
    if (this.scratch.length < take * (IocbLayout.size / 4)) this.scratch = new Uint32Array(take * (IocbLayout.size / 4));
    const buffers: unknown[] = [];
    for (let k = 0; k < take; k++) buffers.push(encodeIocb(this.scratch, k, iocbs[k], k + 1));
    const queued = this.slots.submit(native, new Uint8Array(this.scratch.buffer, 0, take * IocbLayout.size), take, buffers);
    let units = queued;
    for (let k = 0; k < queued; k++) {
      this.completions.expect(this.slots.hold(k, buffers[k]), iocbs[k], pending);
      const bytes = iocbs[k].buffer?.byteLength ?? 0;
      if (bytes > BYTES_PER_UNIT) units += Math.floor(bytes / BYTES_PER_UNIT);
    }
    spend(units);
    return queued;
  }
}
