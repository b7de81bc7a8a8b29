// Argument checks for the public calls; nothing is coerced. Two families:
// the node:fs-shaped calls (read, write, fsync) throw what node:fs throws
// for the same bad argument (TypeError ERR_INVALID_ARG_TYPE, RangeError
// ERR_OUT_OF_RANGE, node's wording); the io_submit-shaped ones (submit,
// IocbArray, getEvents) say EINVAL and name the field, as the kernel's
// calls would.
import { inspect } from 'node:util';
import { constants } from 'node:os';
import { AioError, invalid } from './errors';

const EINVAL = constants.errno.EINVAL;

const MAX_FD = 0x7fff_ffff;
const MAX_S64 = (1n << 63n) - 1n;
const MIN_S64 = -(1n << 63n);
const MAX_U64 = (1n << 64n) - 1n;
/** setTimeout's longest delay: a longer one fires at once, with a warning */
export const MAX_TIMEOUT_MS = 0x7fff_ffff;

interface NodeStyleError extends Error {
  code: string;
}

function nodeStyle<E extends Error>(error: E, code: string): E & NodeStyleError {
  return Object.assign(error, { code });
}

/** How node's argument errors describe the value they got. */
function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'function') return value.name ? `function ${value.name}` : inspect(value);
  if (typeof value === 'object') {
    const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
    return ctor ? `an instance of ${ctor}` : inspect(value, { depth: -1 });
  }
  const shown = inspect(value, { colors: false });
  return `type ${typeof value} (${shown.length > 28 ? `${shown.slice(0, 25)}...` : shown})`;
}

/** Digits grouped by threes with '_', as node prints large numbers in range errors. */
function grouped(digits: string): string {
  const sign = digits.startsWith('-') ? '-' : '';
  const body = sign ? digits.slice(1) : digits;
  const head = body.length % 3 || 3;
  const groups = [body.slice(0, head)];
  for (let i = head; i < body.length; i += 3) groups.push(body.slice(i, i + 3));
  return sign + groups.join('_');
}

function describeReceived(value: unknown): string {
  if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) > 2 ** 32) return grouped(String(value));
  if (typeof value === 'bigint') return `${value > 1n << 32n || value < -(1n << 32n) ? grouped(String(value)) : String(value)}n`;
  return inspect(value);
}

/** node's ERR_INVALID_ARG_TYPE: `expected` reads on from 'must be' ("of type number"). */
export function invalidArgType(name: string, expected: string, value: unknown): TypeError {
  return nodeStyle(new TypeError(`The "${name}" argument must be ${expected}. Received ${describeValue(value)}`), 'ERR_INVALID_ARG_TYPE');
}

/** node's ERR_OUT_OF_RANGE: `range` reads on from 'It must be' ("an integer"). */
export function outOfRange(name: string, range: string, value: unknown): RangeError {
  return nodeStyle(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${describeReceived(value)}`), 'ERR_OUT_OF_RANGE');
}

function noFilePosition(syscall: string): AioError {
  return invalid('a context has no file position: give the position to read or write at', 'position', syscall);
}

// --- node:fs-shaped calls ---

/** fd as node:fs checks it. */
export function checkFd(fd: unknown): void {
  if (typeof fd !== 'number') throw invalidArgType('fd', 'of type number', fd);
  if (!Number.isInteger(fd)) throw outOfRange('fd', 'an integer', fd);
  if (fd < 0 || fd > MAX_FD) throw outOfRange('fd', `>= 0 && <= ${MAX_FD}`, fd);
}

/**
 * A pread/pwrite's fd, buffer and position as node:fs checks them. node:fs
 * reads null and -1 as the fd's current position; a context has none, so
 * they are EINVAL (FileHandle's positions come with open()).
 */
export function checkFsReadWrite(fd: unknown, buffer: unknown, position: unknown, syscall: string): void {
  checkFd(fd);
  if (!ArrayBuffer.isView(buffer)) throw invalidArgType('buffer', 'an instance of Buffer, TypedArray, or DataView', buffer);
  checkFsPosition(position, syscall);
}

/** node:fs's readv with no buffers: read(2)'s EINVAL. */
export function emptyReadv(): AioError {
  return new AioError(EINVAL, 'read', 'invalid argument');
}

/**
 * A preadv/pwritev's fd, buffers and position as node:fs's readv/writev
 * check them; syscall is 'read' or 'write', as node:fs names their errors.
 * A readv of no buffers is the EINVAL node:fs's read(2) gets (a writev of
 * none writes 0 bytes, as there).
 */
export function checkFsVectored(fd: unknown, buffers: unknown, position: unknown, syscall: string): void {
  checkFd(fd);
  if (!Array.isArray(buffers) || !buffers.every((b) => ArrayBuffer.isView(b))) {
    throw invalidArgType('buffers', 'an ArrayBufferView[]', buffers);
  }
  checkFsPosition(position, syscall, true);
  if (syscall === 'read' && buffers.length === 0) throw emptyReadv();
}

/**
 * node:fs's position rules, except that what it reads as the fd's current
 * position is EINVAL (a context has none): null, -1, a negative bigint
 * (node:fs checks a bigint only against the int64 range) and, for readv
 * and writev (which pass their position on unchecked), a number below -1.
 */
function checkFsPosition(position: unknown, syscall: string, vectored = false): void {
  if (typeof position === 'bigint') {
    if (position < MIN_S64 || position > MAX_S64) throw outOfRange('position', `>= ${MIN_S64} && <= ${MAX_S64}`, position);
    if (position < 0n) throw noFilePosition(syscall);
  } else if (typeof position === 'number') {
    if (!Number.isInteger(position)) throw outOfRange('position', 'an integer', position);
    if (position === -1 || (vectored && position < -1)) throw noFilePosition(syscall);
    if (position < -1 || position > Number.MAX_SAFE_INTEGER) throw outOfRange('position', `>= -1 && <= ${Number.MAX_SAFE_INTEGER}`, position);
  } else if (position === null) {
    throw noFilePosition(syscall);
  } else {
    throw invalidArgType('position', 'of type bigint or integer', position);
  }
}

// --- io_submit-shaped calls: EINVAL naming the field ---

/** A descriptor number. */
export function fdField(fd: unknown): number {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > MAX_FD) throw invalid('fd must be an integer descriptor', 'fd', 'io_submit');
  return fd;
}

/** A non-negative integer below 2^53 (a byte count or offset). */
export function sizeField(n: unknown, field: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw invalid(`${field} must be an integer >= 0`, field, 'io_submit');
  return n;
}

/** A file position: a number below 2^53 or a bigint below 2^63; never the current position. */
export function positionField(position: unknown): number | bigint {
  if (position === undefined) return 0;
  if (position === null || position === -1 || position === -1n) throw noFilePosition('io_submit');
  if (typeof position === 'bigint' && position >= 0n && position <= MAX_S64) return position;
  if (typeof position === 'number' && Number.isSafeInteger(position) && position >= 0) return position;
  throw invalid('position must be an integer >= 0 (a number below 2^53 or a bigint below 2^63)', 'position', 'io_submit');
}

/** The event's data cookie: exact, a number below 2^53 or a bigint below 2^64. */
export function dataField(data: unknown): number | bigint {
  if (data === undefined) return 0;
  if (typeof data === 'bigint' && data >= 0n && data <= MAX_U64) return data;
  if (typeof data === 'number' && Number.isSafeInteger(data) && data >= 0) return data;
  throw invalid('data must be an integer >= 0: a number below 2^53 or a bigint below 2^64', 'data', 'io_submit');
}

/** An unsigned integer field of at most bits bits (rwFlags 32, poll events 16); syscall names a refusal. */
export function bitsField(value: unknown, fallback: number, bits: number, field: string, syscall = 'io_submit'): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw invalid(`${field} must be an integer in [0, 2^${bits})`, field, syscall);
  }
  return value;
}

/** getEvents' timeout: omitted waits forever; else what setTimeout can honour. */
export function checkTimeout(timeoutMs: unknown): void {
  if (timeoutMs === undefined) return;
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
    throw invalid(`timeoutMs must be a number in [0, ${MAX_TIMEOUT_MS}] (omit it to wait forever)`, 'timeoutMs', 'io_getevents');
  }
}
