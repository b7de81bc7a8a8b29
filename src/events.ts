// A preallocated batch of struct io_event that reapers copy into, so the
// reap path allocates nothing per event. Fields read as numbers; data and
// obj also as bigint for cookies past 2^53.
import { markAsUntransferable } from 'node:worker_threads';
import { invalid } from './errors';
import { IoEvent } from './layout';

const TWO_32 = 0x1_0000_0000;
const WORDS = IoEvent.size / 4;

/** One event to produce. data and obj are u64, res and res2 s64. */
export interface IoEventInit {
  data: number | bigint;
  obj?: number | bigint;
  res: number | bigint;
  res2?: number | bigint;
}

export class EventBatch {
  /** events held after the last reap */
  length = 0;
  readonly capacity: number;
  /** the raw struct io_event array */
  readonly bytes: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 24) {
      throw invalid('batch capacity must be an integer in [1, 2^24]', 'capacity');
    }
    this.capacity = capacity;
    this.bytes = new Uint8Array(capacity * IoEvent.size);
    // a reap consumes events from the ring into it: a transfer that
    // detached it would lose them (Node 20 copies instead, later Node throws)
    markAsUntransferable(this.bytes.buffer);
    this.u32 = new Uint32Array(this.bytes.buffer);
    this.i32 = new Int32Array(this.bytes.buffer);
  }

  /** data as a number (exact below 2^53) */
  data(i: number): number {
    return readU64(this.u32, i * WORDS + IoEvent.data / 4);
  }
  dataBigInt(i: number): bigint {
    return readU64BigInt(this.u32, i * WORDS + IoEvent.data / 4);
  }
  /** data exactly: a number up to 2^53 - 1, a bigint past it */
  dataExact(i: number): number | bigint {
    const word = i * WORDS + IoEvent.data / 4;
    // the high word below 2^21: the whole value is a safe integer
    return this.u32[word + 1] < 0x200000 ? readU64(this.u32, word) : readU64BigInt(this.u32, word);
  }
  obj(i: number): number {
    return readU64(this.u32, i * WORDS + IoEvent.obj / 4);
  }
  /** res: bytes transferred, or a negative errno */
  res(i: number): number {
    return readS64(this.u32, this.i32, i * WORDS + IoEvent.res / 4);
  }
  res2(i: number): number {
    return readS64(this.u32, this.i32, i * WORDS + IoEvent.res2 / 4);
  }

  /** Copy event j of another batch into slot i of this one (no allocation). */
  copyEvent(i: number, from: EventBatch, j: number): void {
    const dst = i * WORDS;
    const src = j * WORDS;
    for (let w = 0; w < WORDS; w++) this.u32[dst + w] = from.u32[src + w];
  }

  /** Write an event into slot i. */
  setEvent(i: number, ev: IoEventInit): void {
    writeEvent(this.u32, i * WORDS, ev);
  }
}

export function readU64(u32: Uint32Array, word: number): number {
  return u32[word] + u32[word + 1] * TWO_32;
}

export function readU64BigInt(u32: Uint32Array, word: number): bigint {
  return BigInt(u32[word]) | (BigInt(u32[word + 1]) << 32n);
}

export function readS64(u32: Uint32Array, i32: Int32Array, word: number): number {
  return u32[word] + i32[word + 1] * TWO_32;
}

/** Write a u64 (number or bigint) as two little-endian u32 words. */
export function writeU64(u32: Uint32Array, word: number, value: number | bigint): void {
  if (typeof value === 'bigint') {
    u32[word] = Number(value & 0xffff_ffffn);
    u32[word + 1] = Number((value >> 32n) & 0xffff_ffffn);
  } else {
    u32[word] = value >>> 0;
    u32[word + 1] = Math.floor(value / TWO_32) >>> 0;
  }
}

/** Write one event into the u32 view at event index slot. */
export function writeEvent(u32: Uint32Array, firstWord: number, ev: IoEventInit): void {
  writeU64(u32, firstWord + IoEvent.data / 4, ev.data);
  writeU64(u32, firstWord + IoEvent.obj / 4, ev.obj ?? 0);
  writeU64(u32, firstWord + IoEvent.res / 4, ev.res);
  writeU64(u32, firstWord + IoEvent.res2 / 4, ev.res2 ?? 0);
}
