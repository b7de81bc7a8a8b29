// What every aioring command shares: exit codes, the typed error for bad
// input, reading the user's files, and printing data (stdout) apart from
// progress and diagnostics (stderr).
import * as fs from 'node:fs';
import { constants } from 'node:os';
import { AioError } from '../../src/index';

/** Exit codes: documented in docs/CLI.md. */
export const EXIT_OK = 0;
/** findings (an unsafe binary, a failed check, an invalid ring field) or a failure */
export const EXIT_FINDINGS = 1;
/** usage: bad arguments or bad input (missing, unreadable or malformed files, no such process) */
export const EXIT_USAGE = 2;

/** Bad input from the user: one line on stderr and EXIT_USAGE. */
export class InputError extends AioError {
  constructor(code: keyof typeof constants.errno, syscall: string, message: string) {
    super(constants.errno[code], syscall, message);
    this.name = 'InputError';
  }
}

/** A failure that is not the input's fault (permissions on a live process, io_setup): EXIT_FINDINGS. */
export class CommandFailure extends Error {}

const INPUT_CODES = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EEXIST']);

/** node:fs errors on a path the user gave are bad input; anything else is rethrown. */
export function asInputError(e: unknown, path: string): never {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && INPUT_CODES.has(err.code)) {
    const what: Record<string, string> = {
      ENOENT: 'no such file or directory',
      EACCES: 'permission denied',
      EPERM: 'operation not permitted',
      EISDIR: 'is a directory',
      ENOTDIR: 'a path component is not a directory',
      ELOOP: 'too many symbolic links (or a link where none is allowed)',
      ENAMETOOLONG: 'name too long',
      EEXIST: 'already exists',
    };
    throw new InputError(err.code as keyof typeof constants.errno, err.syscall ?? 'open', `${path}: ${what[err.code]}`);
  }
  throw e;
}

/** The whole of a regular file the user named, as a private copy (never a mapping of it). */
export function readUserFile(path: string): Buffer {
  try {
    const st = fs.statSync(path);
    if (st.isDirectory()) throw Object.assign(new Error('dir'), { code: 'EISDIR', syscall: 'read' });
    // a FIFO or a device would block or never end: only regular files hold rings
    if (!st.isFile()) throw new InputError('EINVAL', 'read', `${path}: not a regular file`);
    return fs.readFileSync(path);
  } catch (e) {
    return asInputError(e, path);
  }
}

/** Data for scripts: one JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}

export function printLines(lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Progress and diagnostics: stderr, so stdout stays data. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Left-aligned columns, two spaces apart. */
export function table(rows: (string | number)[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, String(c).length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? String(c) : String(c).padEnd(widths[i]))).join('  ').trimEnd());
}

export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

/**
 * The exit code and the one line to print for an error a command threw:
 * bad input is usage, a rejected ring header or a known failure is a
 * finding; anything else is reported in one line too (no stack trace
 * unless AIORING_DEBUG=1).
 */
export function describeFailure(e: unknown): { code: number; line: string } {
  if (e instanceof InputError) return { code: EXIT_USAGE, line: e.message };
  if (e instanceof AioError) return { code: EXIT_FINDINGS, line: `${e.message}${e.field ? ` (field ${e.field})` : ''}` };
  if (e instanceof CommandFailure) return { code: EXIT_FINDINGS, line: e.message };
  const err = e as Error;
  return { code: EXIT_FINDINGS, line: `internal error: ${err?.message ?? String(e)}` };
}
