// readFile and writeFile: a whole file in chunks, many requests in flight
// at once (they share native submits, context/queue.ts), where node:fs
// reads and writes one chunk at a time.
import { invalidArgType } from '../arguments';
import type { FileHandle } from './handle';
import { checkEncoding, checkInteger, fileTooLarge, MAX_WHOLE } from './validate';

/** bytes per request, and requests in flight at once */
export const CHUNK = 512 * 1024;
export const DEPTH = 16;

export interface WholeOptions {
  encoding?: BufferEncoding | null;
  /** bytes per read or write request (default 512 KiB) */
  chunkSize?: number;
  /** as node:fs's: once aborted, no further request starts and the call rejects with an AbortError */
  signal?: AbortSignal;
}

/** node:fs's encoding-or-options argument, as an options object (node:fs's checks: a string or an object, a signal that is one). */
export function wholeOptions<T extends WholeOptions>(options: BufferEncoding | T | null | undefined): T {
  if (options != null && typeof options !== 'string' && typeof options !== 'object') {
    throw invalidArgType('options', 'of type string or an instance of Object', options);
  }
  const o = (typeof options === 'string' ? { encoding: options } : (options ?? {})) as T;
  checkEncoding(o.encoding);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', o.signal);
  return o;
}

/** node:fs's AbortError for a signal that was aborted: name AbortError, code ABORT_ERR, the signal's reason as cause. */
export function checkAborted(o: WholeOptions): void {
  const signal = o.signal;
  if (!signal?.aborted) return;
  const e = new Error('The operation was aborted', { cause: signal.reason }) as NodeJS.ErrnoException;
  e.name = 'AbortError';
  e.code = 'ABORT_ERR';
  throw e;
}

function chunkOf(o: WholeOptions): number {
  const chunk = o.chunkSize ?? CHUNK;
  checkInteger(chunk, 'options.chunkSize', 1);
  return chunk;
}

/** From the handle's current position to the end of the file. */
export async function readWhole(h: FileHandle, options?: BufferEncoding | WholeOptions | null): Promise<Buffer | string> {
  const o = wholeOptions(options);
  const chunk = chunkOf(o);
  checkAborted(o);
  const st = await h.stat();
  // node:fs refuses by the file's size, wherever the handle stands
  if (st.isFile() && st.size > MAX_WHOLE) throw fileTooLarge(st.size);
  const parts: Buffer[] = [];
  let total = 0;
  if (st.isFile() && st.size > 0) {
    // the size stat gave: every chunk at once, up to DEPTH in flight
    const start = h.reserve(0);
    const size = Math.max(0, st.size - start);
    const out = Buffer.allocUnsafeSlow(size);
    const count = Math.ceil(size / chunk);
    let next = 0;
    const lengths = new Array<number>(count).fill(0);
    const worker = async (): Promise<void> => {
      for (let k = next++; k < count; k = next++) {
        checkAborted(o);
        const len = Math.min(chunk, size - k * chunk);
        lengths[k] = (await h.read(out, k * chunk, len, start + k * chunk)).bytesRead;
      }
    };
    await Promise.all(Array.from({ length: Math.min(DEPTH, count) }, worker));
    // a chunk that came back short ends the file there (it shrank meanwhile)
    for (let k = 0; k < count; k++) {
      total += lengths[k];
      if (lengths[k] < Math.min(chunk, size - k * chunk)) break;
    }
    parts.push(out.subarray(0, total));
    h.reserve(total);
  }
  if (total === 0 || total === st.size) {
    // no size to go by (a pipe, /proc) or nothing read: read on until EOF
    for (;;) {
      if (st.isFile() && st.size > 0) break;
      checkAborted(o);
      const buffer = Buffer.allocUnsafeSlow(chunk);
      const { bytesRead } = await h.read(buffer, 0, chunk, null);
      if (bytesRead === 0) break;
      parts.push(buffer.subarray(0, bytesRead));
    }
  }
  const data = parts.length === 1 ? parts[0] : Buffer.concat(parts);
  return o.encoding ? data.toString(o.encoding) : data;
}

/** data written at the handle's current position (appended, in order, when it is O_APPEND). */
/**
 * writeFile's data as bytes, and its chunk size, checked before anything
 * is opened: writeFile opens a path with 'w', which truncates it, so a bad
 * argument found after the open would have emptied the file (node:fs
 * checks its data first too). A view of a resizable ArrayBuffer, which the
 * requests refuse, is copied, as node:fs writes it.
 */
export function wholeBytes(data: unknown, o: WholeOptions): { bytes: Buffer; chunk: number } {
  const chunk = chunkOf(o);
  if (typeof data === 'string') return { bytes: Buffer.from(data, o.encoding ?? 'utf8'), chunk };
  if (!ArrayBuffer.isView(data)) throw invalidArgType('data', 'of type string or an instance of Buffer, TypedArray, or DataView', data);
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { bytes: (data.buffer as { resizable?: boolean }).resizable ? Buffer.from(view) : view, chunk };
}

export async function writeWhole(
  h: FileHandle,
  data: string | ArrayBufferView,
  options?: BufferEncoding | WholeOptions | null,
  checked?: { bytes: Buffer; chunk: number },
): Promise<void> {
  const o = wholeOptions(options);
  const { bytes, chunk } = checked ?? wholeBytes(data, o);
  checkAborted(o);
  const count = Math.ceil(bytes.byteLength / chunk);
  // appends land where the kernel puts them, and a pipe or socket has no positions: one at a time keeps their order
  const depth = h.appending || !h.seekable ? 1 : DEPTH;
  const start = h.reserve(bytes.byteLength);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let k = next++; k < count; k = next++) {
      checkAborted(o);
      let at = k * chunk;
      const end = Math.min(at + chunk, bytes.byteLength);
      while (at < end) at += (await h.write(bytes, at, end - at, start + at)).bytesWritten;
    }
  };
  await Promise.all(Array.from({ length: Math.min(depth, count) }, worker));
}
