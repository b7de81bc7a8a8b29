// Requests as JavaScript describes them: struct iocb's kernel layout, with
// aio_buf an offset into a buffer and aio_reserved2 naming the buffer (k + 1
// for the k-th buffer of the call, AIORING_REGISTERED_BUFFER | j for
// registered buffer j).
// The addon checks and translates each into a real iocb it keeps to itself.
import { markAsUntransferable } from 'node:worker_threads';
import { AIORING_REGISTERED_BUFFER } from './abi';
import { bitsField, dataField, fdField, positionField, sizeField } from './arguments';
import { invalid } from './errors';
import { writeU64 } from './events';
import { Iocb as L } from './layout';

/** IOCB_CMD_* of <linux/aio_abi.h> */
export const Opcode = {
  pread: 0,
  pwrite: 1,
  fsync: 2,
  fdsync: 3,
  poll: 5,
  noop: 6,
  preadv: 7,
  pwritev: 8,
} as const;
export type OpcodeName = keyof typeof Opcode;

/** A request as a plain object. */
export interface IocbInit {
  opcode: OpcodeName;
  fd: number;
  /** pread/pwrite: the buffer (use subarray for part of one) */
  buffer?: ArrayBufferView;
  /** preadv/pwritev: the buffers */
  buffers?: ArrayBufferView[];
  /** file position, a number or a bigint; default 0 (a context has no current position) */
  position?: number | bigint;
  /** returned in the event's data; default 0 */
  data?: number | bigint;
  /** poll: the events mask (POLLIN = 1, POLLOUT = 4); default POLLIN */
  events?: number;
  /** RWF_* flags (preadv2/pwritev2) */
  rwFlags?: number;
}

const WORDS = L.size / 4;

/**
 * A preallocated array of requests in an ArrayBuffer: the zero-allocation
 * form for hot loops. Buffers are referred to by their index among the
 * context's registered buffers.
 */
export class IocbArray {
  readonly capacity: number;
  readonly bytes: Uint8Array;
  private readonly u32: Uint32Array;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 20) {
      throw invalid('capacity must be an integer in [1, 2^20]', 'capacity');
    }
    this.capacity = capacity;
    this.bytes = new Uint8Array(capacity * L.size);
    this.u32 = new Uint32Array(this.bytes.buffer);
  }

  /** pread into registered buffer `buffer` at byte `bufferOffset`. */
  setRead(i: number, fd: number, buffer: number, bufferOffset: number, length: number, position: number | bigint, data: number | bigint): void {
    this.setRw(i, Opcode.pread, fd, buffer, bufferOffset, length, position, data);
  }

  /** pwrite from registered buffer `buffer` at byte `bufferOffset`. */
  setWrite(i: number, fd: number, buffer: number, bufferOffset: number, length: number, position: number | bigint, data: number | bigint): void {
    this.setRw(i, Opcode.pwrite, fd, buffer, bufferOffset, length, position, data);
  }

  /** A request with no buffer: fsync, fdsync, noop. */
  setPlain(i: number, opcode: 'fsync' | 'fdsync' | 'noop', fd: number, data: number | bigint): void {
    if (opcode !== 'fsync' && opcode !== 'fdsync' && opcode !== 'noop') throw invalid(`setPlain takes fsync, fdsync or noop`, 'opcode', 'io_submit');
    fdField(fd);
    dataField(data);
    const w = this.clear(i);
    this.u32[w + L.aio_lio_opcode / 4] = Opcode[opcode];
    this.u32[w + L.aio_fildes / 4] = fd;
    writeU64(this.u32, w + L.aio_data / 4, data);
  }

  private setRw(
    i: number,
    opcode: number,
    fd: number,
    buffer: number,
    bufferOffset: number,
    length: number,
    position: number | bigint,
    data: number | bigint,
  ): void {
    if (!Number.isInteger(buffer) || buffer < 0 || buffer >= AIORING_REGISTERED_BUFFER) throw invalid('bad buffer index', 'buffer');
    fdField(fd);
    sizeField(bufferOffset, 'bufferOffset');
    sizeField(length, 'length');
    positionField(position);
    dataField(data);
    const w = this.clear(i);
    this.u32[w + L.aio_lio_opcode / 4] = opcode;
    this.u32[w + L.aio_fildes / 4] = fd;
    writeU64(this.u32, w + L.aio_buf / 4, bufferOffset);
    writeU64(this.u32, w + L.aio_nbytes / 4, length);
    writeU64(this.u32, w + L.aio_offset / 4, position);
    writeU64(this.u32, w + L.aio_data / 4, data);
    this.u32[w + L.aio_reserved2 / 4] = (AIORING_REGISTERED_BUFFER | buffer) >>> 0;
  }

  private clear(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.capacity) throw invalid('iocb index out of range', 'index');
    const w = i * WORDS;
    this.u32.fill(0, w, w + WORDS);
    return w;
  }
}

/**
 * The view the addon is given for a caller's buffer (a DataView as bytes),
 * its ArrayBuffer marked untransferable: a postMessage or structuredClone
 * that lists it copies it (Node 20) or throws (Node 21 and later) instead
 * of detaching memory the I/O writes into. The mark is permanent. syscall
 * names a refusal: io_submit for the raw calls, node:fs's name (read,
 * write) for a promise call's.
 */
export function pinned(view: unknown, field: string, syscall = 'io_submit'): ArrayBufferView {
  if (!ArrayBuffer.isView(view)) throw invalid(`${field} must be a Buffer, TypedArray or DataView`, field, syscall);
  // a resizable ArrayBuffer could shrink under the I/O, which no mark prevents
  if ((view.buffer as { resizable?: boolean }).resizable) throw invalid(`${field} is a resizable ArrayBuffer, which could shrink under the I/O`, field, syscall);
  markAsUntransferable(view.buffer);
  return view instanceof DataView ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : view;
}

function hasOpcode(name: unknown): name is OpcodeName {
  return typeof name === 'string' && Object.hasOwn(Opcode, name);
}

/**
 * Write a plain-object request as the addon reads it, into slot k of
 * scratch; returns what its slot holds until its event is delivered: the
 * buffer, a copy of the buffers array (the caller may empty its own), or
 * undefined.
 */
export function encodeIocb(u32: Uint32Array, k: number, cb: IocbInit, bufferRef: number): ArrayBufferView | ArrayBufferView[] | undefined {
  const w = k * WORDS;
  u32.fill(0, w, w + WORDS);
  if (cb === null || typeof cb !== 'object') throw invalid('an iocb must be an object', 'iocb', 'io_submit');
  if (!hasOpcode(cb.opcode)) throw invalid(`unknown opcode ${String(cb.opcode)}`, 'opcode', 'io_submit');
  u32[w + L.aio_lio_opcode / 4] = Opcode[cb.opcode];
  u32[w + L.aio_fildes / 4] = fdField(cb.fd);
  u32[w + L.aio_rw_flags / 4] = bitsField(cb.rwFlags, 0, 32, 'rwFlags');
  writeU64(u32, w + L.aio_offset / 4, positionField(cb.position));
  writeU64(u32, w + L.aio_data / 4, dataField(cb.data));
  switch (cb.opcode) {
    case 'pread':
    case 'pwrite': {
      const buffer = pinned(cb.buffer, 'buffer');
      writeU64(u32, w + L.aio_nbytes / 4, buffer.byteLength);
      u32[w + L.aio_reserved2 / 4] = bufferRef;
      return buffer;
    }
    case 'preadv':
    case 'pwritev': {
      if (!Array.isArray(cb.buffers)) throw invalid(`${cb.opcode} needs buffers`, 'buffers', 'io_submit');
      const buffers = cb.buffers.map((b) => pinned(b, 'buffers'));
      writeU64(u32, w + L.aio_nbytes / 4, buffers.length);
      u32[w + L.aio_reserved2 / 4] = bufferRef;
      return buffers;
    }
    case 'poll':
      writeU64(u32, w + L.aio_buf / 4, bitsField(cb.events, 1, 16, 'events'));
      return undefined;
    default:
      return undefined;
  }
}
