// open(), readFile() and writeFile() on the module, as node:fs/promises has
// them: a FileHandle on the context given, or on the environment's shared
// default context, made at the first call and remade after a destroy.
// The descriptor comes from node:fs's own open (its flags, modes and
// errors, path included); the I/O then goes through the context.
import * as fs from 'node:fs';
import { AioContext, setup } from '../context';
import { directAlignment } from './direct';
import { FileHandle } from './handle';
import { invalidArgType } from './validate';
import { checkAborted, readWhole, wholeBytes, WholeOptions, wholeOptions, writeWhole } from './whole';

/** the default context's size: requests in flight before the promise calls queue */
export const DEFAULT_CONTEXT_EVENTS = 128;

let shared: AioContext | undefined;

/** The context open() uses when it is given none (one per main thread or worker). */
export function defaultContext(): AioContext {
  if (shared === undefined || shared.destroyed) shared = setup(DEFAULT_CONTEXT_EVENTS);
  return shared;
}

export interface ContextOption {
  /** the context the handle's I/O goes through (default: defaultContext()) */
  context?: AioContext;
}

export interface OpenOptions extends ContextOption {
  /** open with O_DIRECT as well, whatever form flags take (default false) */
  direct?: boolean;
}

const C = fs.constants;
/** node:fs's string flags as the numbers its open gives the kernel (node's "File system flags") */
const STRING_FLAGS: Record<string, number> = {
  r: C.O_RDONLY,
  rs: C.O_RDONLY | C.O_SYNC,
  sr: C.O_RDONLY | C.O_SYNC,
  'r+': C.O_RDWR,
  'rs+': C.O_RDWR | C.O_SYNC,
  'sr+': C.O_RDWR | C.O_SYNC,
  w: C.O_TRUNC | C.O_CREAT | C.O_WRONLY,
  wx: C.O_TRUNC | C.O_CREAT | C.O_WRONLY | C.O_EXCL,
  xw: C.O_TRUNC | C.O_CREAT | C.O_WRONLY | C.O_EXCL,
  'w+': C.O_TRUNC | C.O_CREAT | C.O_RDWR,
  'wx+': C.O_TRUNC | C.O_CREAT | C.O_RDWR | C.O_EXCL,
  'xw+': C.O_TRUNC | C.O_CREAT | C.O_RDWR | C.O_EXCL,
  a: C.O_APPEND | C.O_CREAT | C.O_WRONLY,
  ax: C.O_APPEND | C.O_CREAT | C.O_WRONLY | C.O_EXCL,
  xa: C.O_APPEND | C.O_CREAT | C.O_WRONLY | C.O_EXCL,
  as: C.O_APPEND | C.O_CREAT | C.O_WRONLY | C.O_SYNC,
  sa: C.O_APPEND | C.O_CREAT | C.O_WRONLY | C.O_SYNC,
  'a+': C.O_APPEND | C.O_CREAT | C.O_RDWR,
  'ax+': C.O_APPEND | C.O_CREAT | C.O_RDWR | C.O_EXCL,
  'xa+': C.O_APPEND | C.O_CREAT | C.O_RDWR | C.O_EXCL,
  'as+': C.O_APPEND | C.O_CREAT | C.O_RDWR | C.O_SYNC,
  'sa+': C.O_APPEND | C.O_CREAT | C.O_RDWR | C.O_SYNC,
};

/**
 * flags with O_DIRECT added: a string becomes its number; one node:fs does
 * not know stays as it is, so node:fs's open gives its own error for it.
 */
function withDirect(flags: string | number | undefined | null): string | number {
  if (typeof flags === 'number') return flags | C.O_DIRECT;
  const n = STRING_FLAGS[flags ?? 'r'];
  return n === undefined ? (flags as string) : n | C.O_DIRECT;
}

function openFd(path: fs.PathLike, flags: string | number | undefined, mode: fs.Mode | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    try {
      fs.open(path, flags, mode, (e, fd) => (e ? reject(e) : resolve(fd)));
    } catch (e) {
      reject(e);
    }
  });
}

/**
 * node:fs/promises' open(path, flags?, mode?): a FileHandle whose reads and
 * writes go through the context. flags as node:fs's (a string, or a number
 * of fs.constants); O_DIRECT as a number (fs.constants.O_DIRECT) or, with
 * any form of flags, options.direct.
 */
export async function open(path: fs.PathLike, flags?: string | number, mode?: fs.Mode, options: OpenOptions = {}): Promise<FileHandle> {
  if (options.direct !== undefined && typeof options.direct !== 'boolean') throw invalidArgType('options.direct', 'of type boolean', options.direct);
  const context = options.context ?? defaultContext();
  if (options.direct) flags = withDirect(flags);
  const fd = await openFd(path, flags, mode);
  const direct = typeof flags === 'number' && (flags & fs.constants.O_DIRECT) !== 0;
  const append = typeof flags === 'number' ? (flags & fs.constants.O_APPEND) !== 0 : typeof flags === 'string' && flags.includes('a');
  const align = direct ? await directAlignment(fd) : null;
  return new FileHandle(context, fd, String(path), append, align);
}

export interface ReadFileOptions extends WholeOptions, ContextOption {
  /** default 'r' */
  flag?: string | number;
}

export interface WriteFileOptions extends WholeOptions, ContextOption {
  /** default 'w' */
  flag?: string | number;
  /** default 0o666 */
  mode?: fs.Mode;
}

/** node:fs/promises' readFile: a path (opened and closed here) or a FileHandle (from its position). */
export function readFile(file: fs.PathLike | FileHandle, options?: (ReadFileOptions & { encoding?: null }) | null): Promise<Buffer>;
export function readFile(file: fs.PathLike | FileHandle, options: BufferEncoding | (ReadFileOptions & { encoding: BufferEncoding })): Promise<string>;
export function readFile(file: fs.PathLike | FileHandle, options?: BufferEncoding | ReadFileOptions | null): Promise<Buffer | string>;
export async function readFile(file: fs.PathLike | FileHandle, options?: BufferEncoding | ReadFileOptions | null): Promise<Buffer | string> {
  const o = wholeOptions<ReadFileOptions>(options);
  checkAborted(o);
  if (file instanceof FileHandle) return readWhole(file, o);
  const h = await open(file, o.flag ?? 'r', undefined, o);
  try {
    return await readWhole(h, o);
  } finally {
    await h.close();
  }
}

/** node:fs/promises' writeFile: a path (opened and closed here) or a FileHandle (at its position). */
export async function writeFile(file: fs.PathLike | FileHandle, data: string | ArrayBufferView, options?: BufferEncoding | WriteFileOptions | null): Promise<void> {
  const o = wholeOptions<WriteFileOptions>(options);
  // before the open, which truncates
  const checked = wholeBytes(data, o);
  checkAborted(o);
  if (file instanceof FileHandle) return writeWhole(file, data, o, checked);
  const h = await open(file, o.flag ?? 'w', o.mode ?? 0o666, o);
  try {
    await writeWhole(h, data, o, checked);
  } finally {
    await h.close();
  }
}
