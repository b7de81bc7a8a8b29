// The event loop's share: how much work the library does before it lets
// the loop turn. Reads served from the page cache complete inside the call
// that submits them, so a loop of awaited reads (or of getEvents and
// submit) would otherwise run forever in microtasks, and no timer, socket
// or setImmediate of anyone else would run.
//
// One budget per environment (main thread or worker), shared by all its
// contexts: TURN_BUDGET units of work, a unit being one event reaped from a
// ring (plus one per BYTES_PER_UNIT it moved) or one request submitted.
// Once it is spent, work waits for a setImmediate, which refills it; timers
// and I/O callbacks run first.
// Spending and checking are a subtraction and a compare: nothing is
// allocated until the budget runs out.

/** Units of work (events reaped, requests submitted) between two turns of the event loop. */
export const TURN_BUDGET = 512;
/**
 * An event that moved more bytes costs one more unit per this many: a
 * cached read is a copy on the thread that submits it, so a turn of large
 * reads is bounded by bytes (about TURN_BUDGET * 64 KiB), not by count.
 */
export const BYTES_PER_UNIT = 64 * 1024;

let left = TURN_BUDGET;
/** work that found the budget spent, run in order by the next refill */
let waiting: (() => void)[] = [];
let refillScheduled = false;

/** Units left in this turn (may be negative: a batch already under way finishes). */
export function budgetLeft(): number {
  return left;
}

/** Whether this turn's budget is used up. */
export function budgetSpent(): boolean {
  return left <= 0;
}

export function spend(units: number): void {
  left -= units;
}

/**
 * Run resume once the event loop has turned, with a full budget. A caller
 * asks at most once per refill (it keeps its own flag).
 */
export function afterTurn(resume: () => void): void {
  waiting.push(resume);
  if (!refillScheduled) {
    refillScheduled = true;
    setImmediate(refill);
  }
}

function refill(): void {
  refillScheduled = false;
  left = TURN_BUDGET;
  const run = waiting;
  waiting = [];
  for (let i = 0; i < run.length; i++) {
    try {
      run[i]();
    } catch (e) {
      // the others still get their turn; the error goes where a callback's goes
      for (const resume of run.slice(i + 1)) afterTurn(resume);
      throw e;
    }
  }
}
