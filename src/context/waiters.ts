// getEvents callers waiting for events, and the wake path that serves them.
//
// Waiting follows io_uring: the consumer sets AIORING_V2_WAITER in the wait
// word (the v2 header's, or the engine's control page for a legacy ring),
// looks at the ring once more, and sleeps; a producer rings (uv_async) only
// when that bit is set, so a consumer that keeps up costs it nothing. While
// armed, the native context holds the event loop open: for waiters, and for
// promise calls queued or whose completions have yet to arrive.
//
// Several getEvents at once are served in call order: the first fills
// first (up to its max) and resolves once it holds its min, then the next
// fills; a later call takes nothing while an earlier one waits; a waiter
// whose timeout fires takes what is ready then. An event is moved to one
// waiter (or the queue), never copied, so none goes to two and none is lost.
//
// Every way in (a promise call, getEvents, the producer's wake) serves
// within the turn's budget (budget.ts): past it, the rest is served after
// the event loop has turned.
import { AIORING_V2_WAITER } from '../abi';
import { NativeContext } from '../native';
import { afterTurn, budgetLeft, budgetSpent, spend } from './budget';
import { Completions, EventSink, IoEventResult } from './completions';
import { RequestQueue } from './queue';

interface Waiter extends EventSink {
  readonly min: number;
  readonly resolve: (events: IoEventResult[]) => void;
  readonly reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export class Waiters {
  /** the context's native half, null once destroyed (read it on each use) */
  private readonly native: () => NativeContext | null;
  private readonly wait: Uint32Array;
  private readonly waitIndex: number;
  private readonly completions: Completions;
  private readonly requests: RequestQueue;
  /** in arrival order; only the first may be partly filled */
  private readonly list: Waiter[] = [];
  private armed = false;
  /** serving waits for the next turn (budget.ts) */
  private deferred = false;

  constructor(
    native: () => NativeContext | null,
    wait: Uint32Array,
    waitIndex: number,
    completions: Completions,
    requests: RequestQueue,
  ) {
    this.native = native;
    this.wait = wait;
    this.waitIndex = waitIndex;
    this.completions = completions;
    this.requests = requests;
  }

  /** Times a producer rang because a waiter had announced itself. */
  get wakeups(): number {
    return Atomics.load(this.wait, this.waitIndex + 1);
  }

  /**
   * Events now when min are ready (or timeoutMs is 0); else wait for them.
   * Earlier waiters are served first: while one still waits, what is ready
   * is theirs, and this call waits behind them (or, with timeoutMs 0,
   * resolves with nothing). Once the turn's budget is spent, the answer
   * comes in a later turn.
   */
  getEvents(min: number, max: number, timeoutMs: number | undefined): Promise<IoEventResult[]> {
    // past the turn's budget, a call that may be answered with none is answered after the loop has turned
    if (min === 0 && budgetSpent()) {
      // destroyed meanwhile: answered as destroy answers its waiters, with what has arrived (none)
      return new Promise((resolve) => afterTurn(() => resolve(this.native() === null ? [] : this.getEvents(min, max, timeoutMs))));
    }
    const out: IoEventResult[] = [];
    if (!budgetSpent()) {
      try {
        if (this.list.length > 0) this.serve();
        if (this.list.length === 0) this.completions.drain(out, max);
      } catch (e) {
        // a ring whose indices are corrupt (EUCLEAN): this call fails with it
        return Promise.reject(e);
      }
      if (out.length >= min || timeoutMs === 0) {
        // an answer of none is a unit too (events reaped are theirs): a loop of getEvents(0, ...) lets the event loop turn
        if (out.length === 0) spend(1);
        return Promise.resolve(out);
      }
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = { min, max, out, resolve, reject };
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => this.finish(w), timeoutMs);
      }
      this.list.push(w);
      this.arm();
    });
  }

  /** Announce a waiter, look again, and hold the loop until woken. */
  arm(): void {
    const native = this.native();
    if (!this.armed && native !== null) {
      this.armed = true;
      Atomics.or(this.wait, this.waitIndex, AIORING_V2_WAITER);
      native.holdLoop(true);
    }
    this.serve();
    this.disarmIfIdle();
  }

  /** The producer rang. */
  wake(): void {
    this.serve();
    this.disarmIfIdle();
  }

  /** destroy's last look: reap everything ready, budget or not, and submit nothing more. */
  pump(): void {
    try {
      this.deliver(Infinity);
    } catch (e) {
      this.fail(e as Error);
    }
  }

  /**
   * Within the turn's budget: reap (promises settle, waiters fill), and
   * submit queued promise calls as that frees room; what is left waits for
   * the next turn.
   */
  private serve(): void {
    const native = this.native();
    if (native === null) return;
    try {
      do this.deliver(budgetLeft());
      while (this.requests.length > 0 && this.requests.drain(native) > 0);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    if (budgetSpent() && this.armed && !this.deferred) {
      this.deferred = true;
      afterTurn(this.resume);
    }
  }

  private readonly resume = (): void => {
    this.deferred = false;
    this.serve();
    this.disarmIfIdle();
  };

  /** Reap up to limit events: promises settle, waiters fill in order, the rest queues. */
  private deliver(limit: number): void {
    // with nothing queued, events go straight to the first waiter while it
    // has room; once it is full, the rest queue behind (it stays full)
    const queue = this.completions.queue;
    const w0 = queue.length === 0 ? this.list[0] : undefined;
    this.completions.collect(w0, limit);
    // with the budget spent, a waiter that asked for none is not answered with none in this turn
    if (w0 !== undefined && w0.out.length >= w0.min) this.finish(w0);
    while (this.list.length > 0 && queue.length > 0) {
      const w = this.list[0];
      while (w.out.length < w.max && queue.length > 0) w.out.push(queue.shift()!);
      if (w.out.length >= w.min) this.finish(w);
      else break;
    }
  }

  /**
   * The ring could not be read (its shared indices are corrupt: EUCLEAN,
   * written by someone else): nothing waiting on it can be answered, so
   * every waiter, every promise call in flight and every one still queued
   * rejects with that error, here and not as an uncaught exception on the
   * wake path. Later calls meet the same error when they next read the ring.
   */
  private fail(e: Error): void {
    for (const w of this.list.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(e);
    }
    this.completions.failPending(e);
    this.requests.fail(e);
    this.disarmIfIdle();
  }

  /**
   * destroy, before the native half goes: every waiter resolves with what
   * has arrived, every promise call still queued rejects.
   */
  close(): void {
    for (const w of this.list.splice(0)) this.settle(w);
    this.requests.close();
  }

  private finish(w: Waiter): void {
    const i = this.list.indexOf(w);
    if (i >= 0) this.list.splice(i, 1);
    this.settle(w);
    this.disarmIfIdle();
  }

  private settle(w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    // a waiter that timed out still takes what is ready now
    if (this.native() !== null) this.completions.drain(w.out, w.max);
    w.resolve(w.out);
  }

  private disarmIfIdle(): void {
    const native = this.native();
    const idle = this.list.length === 0 && this.completions.pendingCount === 0 && this.requests.length === 0;
    if (this.armed && idle && native !== null) {
      this.armed = false;
      Atomics.and(this.wait, this.waitIndex, ~AIORING_V2_WAITER);
      native.holdLoop(false);
    }
  }
}
