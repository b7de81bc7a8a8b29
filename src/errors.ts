// Errors carry code, errno and syscall like node:fs errors, plus the ring
// header field at fault when a validator rejected one.
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}
/** Structure needs cleaning: Linux's errno for corrupt ring indices (not in node's table). */
export const EUCLEAN = 117;
errnoNames.set(EUCLEAN, 'EUCLEAN');

/** The errno name for a positive errno value ('EINVAL' for 22). */
export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/** libuv's description of each errno, the text node:fs's messages use. */
const descriptions = getSystemErrorMap();

/** A failed call's description as node:fs gives it ('bad file descriptor' for EBADF). */
export function errnoDescription(errno: number): string {
  return descriptions.get(-Math.abs(errno))?.[1] ?? errnoName(errno);
}

export class AioError extends Error {
  /** errno name, e.g. 'EINVAL' */
  readonly code: string;
  /** negative errno, as node:fs reports it */
  readonly errno: number;
  readonly syscall: string;
  /** the ring header field a validator rejected, when there is one */
  readonly field?: string;

  constructor(errno: number, syscall: string, message: string, field?: string) {
    const code = errnoName(errno);
    super(`${code}: ${message}, ${syscall}`);
    this.name = 'AioError';
    this.code = code;
    this.errno = -Math.abs(errno);
    this.syscall = syscall;
    if (field !== undefined) this.field = field;
  }
}

const EINVAL = constants.errno.EINVAL;

/**
 * A call the system refused (errno), as node:fs reports it: the message
 * 'EBADF: bad file descriptor, read', code, errno and syscall.
 */
export function systemError(errno: number, syscall: string): AioError {
  return new AioError(errno, syscall, errnoDescription(errno));
}

export function invalid(message: string, field?: string, syscall = 'aioring'): AioError {
  return new AioError(EINVAL, syscall, message, field);
}

/** Counts passed to ring calls: integers in [0, 2^32). */
export function checkCount(n: number, field: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw invalid(`${field} must be an integer count`, field);
}
