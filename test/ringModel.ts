// The plain reference model both ring implementations (C and TypeScript)
// are held to: a FIFO of cookies with a capacity, plus where each ring's
// shared indices must stand after a given number of produces and reaps.

export class FifoModel {
  private readonly q: number[] = [];
  produced = 0;
  reaped = 0;
  constructor(readonly capacity: number) {}

  get size(): number {
    return this.q.length;
  }
  /** false when full, as the rings report it */
  produce(cookie: number): boolean {
    if (this.q.length === this.capacity) return false;
    this.q.push(cookie);
    this.produced++;
    return true;
  }
  reap(max: number): number[] {
    const out = this.q.splice(0, Math.max(0, Math.min(max, this.q.length)));
    this.reaped += out.length;
    return out;
  }
}

/** Legacy: nr entries hold nr - 1 events; indices are counts mod nr. */
export function legacyIndices(m: FifoModel, nr: number, start = 0): { head: number; tail: number } {
  return { head: (start + m.reaped) % nr, tail: (start + m.produced) % nr };
}

/** v2: entries hold entries events; indices are free-running u32 counts. */
export function v2Indices(m: FifoModel, start = 0): { head: number; tail: number } {
  return { head: (start + m.reaped) >>> 0, tail: (start + m.produced) >>> 0 };
}

/** Cookies from a [data, res] pair array as the addon returns them. */
export function cookiesOf(pairs: Float64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < pairs.length; i += 2) out.push(pairs[i]);
  return out;
}
