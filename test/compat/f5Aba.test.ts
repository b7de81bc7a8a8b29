// F5, the duplicated event: a deterministic scheduler steps a producer and
// several consumers through their individual loads, copies and CASes on a
// ring reaped with compare-and-swap on head.
//  - legacy (indices < nr, wrapped with % nr): an interleaving exists in
//    which a stale event is delivered twice while a queued one is lost;
//  - v2 (free-running u32 indices, masked): an exhaustive search over every
//    interleaving of small configurations finds no duplicate and no loss.

type Layout = 'legacy' | 'v2';

interface Config {
  layout: Layout;
  /** legacy: nr (nr - 1 usable); v2: entries */
  size: number;
  consumers: number;
  events: number;
}

/** One consumer's registers between its steps. */
interface Consumer {
  pc: 0 | 1 | 2 | 3; // 0 load head, 1 load tail (compared with h at once), 2 copy slot, 3 CAS head
  h: number;
  copied: number;
}

interface State {
  slots: number[];
  head: number;
  tail: number;
  produced: number;
  consumers: Consumer[];
  delivered: number[];
}

const EMPTY = -1;

function capacity(c: Config): number {
  return c.layout === 'legacy' ? c.size - 1 : c.size;
}

function used(c: Config, s: State): number {
  return c.layout === 'legacy' ? (s.tail - s.head + c.size) % c.size : (s.tail - s.head) >>> 0;
}

function slotOf(c: Config, index: number): number {
  return c.layout === 'legacy' ? index % c.size : index & (c.size - 1);
}

function advance(c: Config, index: number): number {
  return c.layout === 'legacy' ? (index + 1) % c.size : (index + 1) >>> 0;
}

function clone(s: State): State {
  return {
    slots: [...s.slots],
    head: s.head,
    tail: s.tail,
    produced: s.produced,
    consumers: s.consumers.map((k) => ({ ...k })),
    delivered: [...s.delivered],
  };
}

/** Every state one step can lead to. The producer writes and publishes in one step (it is one thread). */
function successors(c: Config, s: State): State[] {
  const out: State[] = [];
  if (s.produced < c.events && used(c, s) < capacity(c)) {
    const n = clone(s);
    n.slots[slotOf(c, n.tail)] = n.produced++;
    n.tail = advance(c, n.tail);
    out.push(n);
  }
  s.consumers.forEach((k, i) => {
    const n = clone(s);
    const m = n.consumers[i];
    // a register no later step reads is cleared, so states that differ only
    // in dead registers are one state
    if (k.pc === 0) {
      // a consumer finding the ring empty sleeps (as in io_getevents) until it is not
      if (n.head === n.tail) return;
      m.h = n.head;
      m.pc = 1;
    } else if (k.pc === 1) {
      m.pc = m.h === n.tail ? 0 : 2;
      if (m.pc === 0) m.h = 0;
    } else if (k.pc === 2) {
      m.copied = n.slots[slotOf(c, m.h)];
      m.pc = 3;
    } else {
      if (n.head === m.h) {
        n.head = advance(c, m.h);
        n.delivered.push(m.copied);
      }
      m.pc = 0;
      m.h = 0;
      m.copied = EMPTY;
    }
    out.push(n);
  });
  return out;
}

/**
 * The state's identity. Consumers run the same code, so states that differ
 * only in which consumer is where are one state (sorted registers), and
 * only the set of delivered events matters, not their order.
 */
function key(s: State): string {
  const consumers = s.consumers.map((k) => `${k.pc}.${k.h}.${k.copied}`).sort();
  const delivered = [...s.delivered].sort((a, b) => a - b);
  return `${s.slots.join(',')}|${s.head}|${s.tail}|${s.produced}|${consumers.join(',')}|${delivered.join(',')}`;
}

function initial(c: Config, start: number): State {
  const head = c.layout === 'legacy' ? start % c.size : start >>> 0;
  return {
    slots: new Array(c.size).fill(EMPTY),
    head,
    tail: head,
    produced: 0,
    consumers: Array.from({ length: c.consumers }, () => ({ pc: 0 as const, h: 0, copied: EMPTY })),
    delivered: [],
  };
}

/** A count too long to read, as 4.76e15. */
function approx(n: bigint): string {
  const d = n.toString();
  return d.length <= 6 ? d : `${d[0]}.${d.slice(1, 3)}e${d.length - 1}`;
}

function duplicated(s: State): boolean {
  return new Set(s.delivered).size !== s.delivered.length;
}

/**
 * Walk every reachable state (each once) and count the complete
 * interleavings through them. Returns the first bad state found, if any.
 */
function explore(c: Config, start = 0): { states: number; interleavings: bigint; bad?: State; dupAndLoss?: State } {
  const paths = new Map<string, bigint>();
  let bad: State | undefined;
  let dupAndLoss: State | undefined;
  const visit = (s: State): bigint => {
    const k = key(s);
    const known = paths.get(k);
    if (known !== undefined) return known;
    if (duplicated(s)) bad ??= s;
    const next = successors(c, s);
    let total = 0n;
    if (next.length === 0) {
      // finished: everything produced must have been delivered, once
      const all = [...s.delivered].sort((a, b) => a - b);
      if (all.length !== c.events || all.some((v, i) => v !== i)) bad ??= s;
      const missing = Array.from({ length: c.events }, (_, i) => i).some((e) => !s.delivered.includes(e));
      if (duplicated(s) && missing) dupAndLoss ??= s;
      total = 1n;
    } else {
      for (const n of next) total += visit(n);
    }
    paths.set(k, total);
    return total;
  };
  const interleavings = visit(initial(c, start));
  return { states: paths.size, interleavings, bad, dupAndLoss };
}

describe('compat F5: a cmpxchg on a wrapped index (ABA)', () => {
  test('legacy: some interleaving delivers a stale event twice and loses a queued one', () => {
    const r = explore({ layout: 'legacy', size: 3, consumers: 2, events: 5 });
    expect(r.dupAndLoss).toBeDefined();
    const { delivered } = r.dupAndLoss!;
    const twice = delivered.filter((e, i) => delivered.indexOf(e) !== i);
    const lost = Array.from({ length: 5 }, (_, i) => i).filter((e) => !delivered.includes(e));
    expect(twice.length).toBeGreaterThan(0);
    expect(lost.length).toBeGreaterThan(0);
    process.stdout.write(
      `F5 legacy nr=3, 2 consumers, 5 events: delivered ${delivered.join(',')}: event ${twice.join(',')} twice, ` +
        `event ${lost.join(',')} lost; ${r.states} states, ${approx(r.interleavings)} interleavings searched\n`,
    );
  });

  // ring sizes 2 to 8, 2 and 3 consumers, 1 to 3 wraps
  const configs = [2, 4, 8].flatMap((size) => [2, 3].flatMap((consumers) => [1, 2, 3].map((wraps) => ({ size, consumers, wraps }))));

  test.each(configs)('v2 ring of $size, $consumers consumers, $wraps wrap(s): every interleaving delivers each event once', (x) => {
    const c: Config = { layout: 'v2', size: x.size, consumers: x.consumers, events: x.size * x.wraps + 1 };
    // start near 2^32 so the free-running indices wrap the u32 during the run
    const r = explore(c, 0x1_0000_0000 - x.size);
    expect(r.bad).toBeUndefined();
    process.stdout.write(`F5 v2 entries=${x.size}, ${x.consumers} consumers, ${c.events} events: ${r.states} states, ${approx(r.interleavings)} interleavings, no duplicate, no loss\n`);
  });
});
