// The argument checks node:fs's FileHandle makes that the context's calls
// do not (arguments.ts has the shared ones): the same error class, code
// and wording.
import { inspect } from 'node:util';
import { invalidArgType, outOfRange } from '../arguments';

export { invalidArgType, outOfRange };

/** node's validateInteger: a number, an integer, within [min, max]. */
export function checkInteger(value: unknown, name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
}

/** node's ERR_INVALID_ARG_VALUE. */
export function invalidArgValue(name: string, value: unknown, reason: string): TypeError {
  return Object.assign(new TypeError(`The argument '${name}' ${reason}. Received ${inspect(value)}`), { code: 'ERR_INVALID_ARG_VALUE' });
}

/** node's assertEncoding: a named encoding must be one Buffer knows. */
export function checkEncoding(encoding: unknown): void {
  if (encoding && !Buffer.isEncoding(encoding as string)) throw invalidArgValue('encoding', encoding, 'is invalid encoding');
}

/** node:fs's kIoMaxLength: the largest file its readFile reads whole. */
export const MAX_WHOLE = 2 ** 31 - 1;

/** node's ERR_FS_FILE_TOO_LARGE: readFile of a file larger than MAX_WHOLE. */
export function fileTooLarge(size: number): RangeError {
  return Object.assign(new RangeError(`File size (${size}) is greater than 2 GiB`), { code: 'ERR_FS_FILE_TOO_LARGE' });
}
