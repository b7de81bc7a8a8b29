// The plain reference model both ring implementations (C and TypeScript)
// are held to: a FIFO of cookies with a capacity, plus where each ring's
// shared indices must stand after a given number of produces and reaps;
// and what every call on a ring whose buffer shrank under it must throw.
import { AioError } from '../src/errors';

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

/** A resizable ArrayBuffer of n bytes (growable to 64 KiB): the rings' tests shrink one under a ring. */
export function resizable(n: number): ArrayBuffer & { resize(n: number): void } {
  const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void };
  return new Resizable(n, { maxByteLength: 1 << 16 });
}

/** Each call on a ring whose buffer shrank to shrunk bytes throws an AioError EINVAL naming the buffer. */
export function expectShrunkRefused(shrunk: number, calls: Record<string, () => unknown>): void {
  for (const [name, call] of Object.entries(calls)) {
    let e: unknown;
    try {
      call();
    } catch (err) {
      e = err;
    }
    expect({ name, shrunk, error: e instanceof AioError ? { code: e.code, field: e.field } : String(e) }).toEqual({ name, shrunk, error: { code: 'EINVAL', field: 'buffer' } });
  }
}
