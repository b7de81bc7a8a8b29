// The promise calls (read, write, readv, writev, fsync, datasync, and a
// FileHandle's): each is a pooled request record, queued, and the queue is
// flushed once per turn of the microtask queue, so every call made in the
// same synchronous run goes to the engine in one native submit.
//
// Backpressure as node:fs has it: a call the ring has no room for, or that
// comes after the turn's budget is spent (budget.ts), waits here instead of
// failing with EAGAIN, and is submitted as completions free room, in the
// order the calls were made (nothing overtakes a queued request). The raw
// submit and submitArray do not come here: they keep io_submit's EAGAIN.
//
// Per call, nothing is allocated but the promise (and, for a FileHandle,
// node:fs's result object): records come from a free list, the promise's
// executor is one shared function, the iocbs are encoded into one scratch.
import { AioError, systemError } from '../errors';
import { Opcode } from '../iocb';
import { NativeContext } from '../native';
import { budgetLeft, budgetSpent } from './budget';
import { Pending } from './completions';
import { Slots } from './slots';
import { Submitter } from './submit';

const ECANCELED = 125;
const EAGAIN = 'EAGAIN';
/** records kept for reuse; more in flight at once are allocated and dropped */
const POOL_LIMIT = 4096;

/** What a request's promise resolves with. */
export const Reply = {
  /** the byte count (the context's calls) */
  Count: 0,
  /** { bytesRead, buffer } */
  Read: 1,
  /** { bytesWritten, buffer } */
  Written: 2,
  /** { bytesRead, buffers } */
  ReadV: 3,
  /** { bytesWritten, buffers } */
  WrittenV: 4,
} as const;
export type Reply = (typeof Reply)[keyof typeof Reply];

/** Who is told of a request's end before its promise settles (a FileHandle: its position, its count in flight). */
export interface PositionOwner {
  /** res: the bytes moved, or a negative errno */
  settled(r: Request, res: number): void;
}

let capturedResolve: (value: unknown) => void;
let capturedReject: (e: unknown) => void;
function capture(resolve: (value: unknown) => void, reject: (e: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** One promise call, from the call to its completion; reused afterwards. */
export class Request implements Pending {
  opcode: number = Opcode.pread;
  fd = 0;
  /**
   * a FileHandle's word on its descriptor (submit.ts, ownedFile): its
   * io_uring fixed-file slot + 1 (0: none), and that it is open and
   * O_DIRECT or not, so the engine asks the kernel nothing; 0: nothing known
   */
  file = 0;
  /** pread/pwrite: the buffer; preadv/pwritev: a copy of the buffers array */
  data: ArrayBufferView | ArrayBufferView[] | undefined = undefined;
  /** pread/pwrite: where in the buffer, and how many bytes */
  offset = 0;
  length = 0;
  position: number | bigint = 0;
  rwFlags = 0;
  syscall = '';
  reply: Reply = Reply.Count;
  /** what the result object names as its buffer (a string write's string) */
  replyBuffer: unknown = undefined;
  /** set on every error, as node:fs does for calls given a path */
  path: string | undefined = undefined;
  owner: PositionOwner | undefined = undefined;
  /** at its owner's current position, which it reserved length bytes of */
  atCurrent = false;
  private onResolve: ((value: unknown) => void) | undefined = undefined;
  private onReject: ((e: unknown) => void) | undefined = undefined;

  /** This request's promise; settling it returns the record to the pool. */
  promise<T>(): Promise<T> {
    const p = new Promise(capture);
    this.onResolve = capturedResolve;
    this.onReject = capturedReject;
    return p as Promise<T>;
  }

  resolve(res: number): void {
    const resolve = this.onResolve!;
    if (this.owner !== undefined) this.owner.settled(this, res);
    let value: unknown;
    switch (this.reply) {
      case Reply.Count:
        value = res;
        break;
      case Reply.Read:
        value = { bytesRead: res, buffer: this.replyBuffer };
        break;
      case Reply.Written:
        value = { bytesWritten: res, buffer: this.replyBuffer };
        break;
      case Reply.ReadV:
        value = { bytesRead: res, buffers: this.replyBuffer };
        break;
      case Reply.WrittenV:
        value = { bytesWritten: res, buffers: this.replyBuffer };
        break;
    }
    this.recycle();
    resolve(value);
  }

  reject(e: AioError): void {
    const reject = this.onReject!;
    if (this.owner !== undefined) this.owner.settled(this, e.errno);
    if (this.path !== undefined) (e as AioError & { path?: string }).path = this.path;
    this.recycle();
    reject(e);
  }

  private recycle(): void {
    this.data = undefined;
    this.replyBuffer = undefined;
    this.path = undefined;
    this.owner = undefined;
    this.atCurrent = false;
    this.file = 0;
    this.onResolve = undefined;
    this.onReject = undefined;
    this.rwFlags = 0;
    this.offset = 0;
    this.length = 0;
    if (pool.length < POOL_LIMIT) pool.push(this);
  }
}

const pool: Request[] = [];

/** A blank request record. */
export function newRequest(): Request {
  return pool.pop() ?? new Request();
}

/**
 * The engine's refusal of a promise call (io_submit's EBADF, say) as that
 * call's error, as node:fs reports it: named for the call (read, write,
 * fsync, fdatasync), never io_submit; an argument check (it names a field)
 * keeps its words and field under the call's name.
 */
function refusal(e: AioError, syscall: string): AioError {
  if (!(e instanceof AioError) || e.syscall !== 'io_submit') return e;
  if (e.field === undefined) return systemError(-e.errno, syscall);
  return new AioError(-e.errno, syscall, e.message.slice(e.code.length + 2, -', io_submit'.length), e.field);
}

export class RequestQueue {
  private readonly slots: Slots;
  private readonly submitter: Submitter;
  /** oldest first, from head on; the entries before head are spent */
  private items: (Request | undefined)[] = [];
  private head = 0;
  private flushQueued = false;
  /** after a batch the engine refused whole, try one at a time to find whose fault it was */
  private single = false;
  private readonly flush: () => void;

  /** onFlush serves the context: reaps, then drains this queue (waiters.ts) */
  constructor(slots: Slots, submitter: Submitter, onFlush: () => void) {
    this.slots = slots;
    this.submitter = submitter;
    this.flush = (): void => {
      this.flushQueued = false;
      onFlush();
    };
  }

  /** Promise calls waiting to be submitted. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** A promise call: queued, and submitted with the rest of this turn's at the end of it. */
  add(r: Request): void {
    this.items.push(r);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flush);
    }
  }

  /**
   * Submit queued calls, oldest first, as many per native call as the ring
   * has room for and the budget lasts; returns how many left the queue.
   */
  drain(native: NativeContext): number {
    const start = this.head;
    while (this.head < this.items.length && this.canSubmit()) {
      const room = this.slots.capacity - this.slots.outstanding;
      const take = this.single ? 1 : Math.min(this.items.length - this.head, room, Math.max(1, budgetLeft()));
      let queued: number;
      try {
        queued = this.submitter.requests(native, this.items as Request[], this.head, take);
        this.single = false;
      } catch (e) {
        if (e instanceof AioError && e.code === EAGAIN && this.slots.outstanding > 0) break;
        if (take > 1 && !this.single) {
          this.single = true;
          continue;
        }
        this.single = false;
        const r = this.items[this.head++]!;
        r.reject(refusal(e as AioError, r.syscall));
        continue;
      }
      if (queued === 0) break;
      for (let k = 0; k < queued; k++) this.items[this.head++] = undefined;
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
  /** The context's ring cannot be read: every call still queued rejects with e. */
  fail(e: Error): void {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    for (const r of rest) r!.reject(e as AioError);
  }

  close(): void {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    for (const r of rest) r!.reject(new AioError(ECANCELED, r!.syscall, 'the context was destroyed before this request was submitted'));
  }

  private canSubmit(): boolean {
    return this.slots.outstanding < this.slots.capacity && !budgetSpent();
  }
}
