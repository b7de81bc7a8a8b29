// Typed views over the memory a ring lives in: an ArrayBuffer (including an
// external one over a mapping), a SharedArrayBuffer, or any view of one
// such as a Buffer. Index words are read and written with Atomics.
import { types } from 'node:util';
import { AIORING_MEMORY_ALIGN } from './abi';
import { AioError, invalid } from './errors';

export type RingMemoryLike = ArrayBuffer | SharedArrayBuffer | ArrayBufferView;

export interface RingViewOptions {
  /** where the ring starts inside the buffer (multiple of 8); default 0 */
  byteOffset?: number;
  /** bytes the ring may use; default: to the end of the buffer */
  byteLength?: number;
}

export interface RingViews {
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly byteLength: number;
}

/**
 * A ring call whose memory is no longer there: its resizable ArrayBuffer
 * was shrunk below the ring, or its buffer detached. The views are then
 * out of bounds (byteLength 0): JavaScript would throw a TypeError from
 * Atomics, or drop the writes.
 */
export function memoryGone(): AioError {
  return invalid('the ring memory is gone: its buffer was shrunk below the ring, or detached', 'buffer');
}

export function ringViews(memory: RingMemoryLike, options: RingViewOptions = {}): RingViews {
  let buffer: ArrayBufferLike;
  let base = 0;
  let available: number;
  if (ArrayBuffer.isView(memory)) {
    buffer = memory.buffer;
    base = memory.byteOffset;
    available = memory.byteLength;
  } else if (types.isAnyArrayBuffer(memory)) {
    buffer = memory;
    available = memory.byteLength;
  } else {
    throw invalid('ring memory must be an ArrayBuffer, SharedArrayBuffer or ArrayBufferView', 'buffer');
  }
  const offset = options.byteOffset ?? 0;
  if (!Number.isInteger(offset) || offset < 0 || offset > available) {
    throw invalid('byteOffset is outside the buffer', 'byteOffset');
  }
  const length = options.byteLength ?? available - offset;
  if (!Number.isInteger(length) || length < 0 || offset + length > available) {
    throw invalid('byteLength runs past the buffer', 'byteLength');
  }
  if ((base + offset) % AIORING_MEMORY_ALIGN !== 0) throw invalid(`ring memory must be ${AIORING_MEMORY_ALIGN}-byte aligned`, 'byteOffset');
  const words = Math.floor(length / 4);
  return {
    u8: new Uint8Array(buffer, base + offset, length),
    u32: new Uint32Array(buffer, base + offset, words),
    byteLength: length,
  };
}
