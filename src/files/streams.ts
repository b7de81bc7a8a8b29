// Streams over a context and a descriptor: node Readable and Writable that
// keep several reads or writes in flight (depth), for sequential scans and
// log writers. Options are node:fs's where they apply (start, end,
// highWaterMark, autoClose, emitClose, encoding), checked as node:fs checks
// them; the data and the events come in node:fs's order. Reads and writes
// are positioned (pread/pwrite): from start, or without start from the
// descriptor's offset as node:fs's are, which the stream then moves past
// each chunk it delivered or wrote (lseek), so the descriptor stands where
// node:fs's read(2)s and write(2)s would leave it.
//
// Every read or write a stream issues settles before the stream closes the
// descriptor and emits 'close', on an error and on destroy() too.
import * as fs from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { checkFd, invalidArgType, outOfRange } from '../arguments';
import type { AioContext } from '../context';
import { AioError } from '../errors';
import { addon } from '../native';
import { Opcode } from '../iocb';
import type { FileSource } from './commit';
import { checkEncoding } from './validate';

const EIO = 5;
/** <limits.h>'s: the most buffers one pwritev takes */
const IOV_MAX = 1024;

/** Reads or writes a stream keeps in flight, unless told otherwise. */
export const STREAM_DEPTH = 4;

interface StreamOptions {
  /** close the descriptor when the stream ends, errors or is destroyed (default true) */
  autoClose?: boolean;
  /** emit 'close' once closed (default true) */
  emitClose?: boolean;
  highWaterMark?: number;
  encoding?: BufferEncoding;
  /** reads or writes in flight at most (default STREAM_DEPTH) */
  depth?: number;
}

export interface ReadStreamOptions extends StreamOptions {
  /** first byte to read (default 0) */
  start?: number;
  /** last byte to read, inclusive (default: to the end of the file) */
  end?: number;
}

export interface WriteStreamOptions extends StreamOptions {
  /** where the first byte goes (default 0) */
  start?: number;
}

/** node:fs's validateInteger for stream offsets. */
function offset(value: unknown, name: string): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < 0 || value > Number.MAX_SAFE_INTEGER) throw outOfRange(name, `>= 0 && <= ${Number.MAX_SAFE_INTEGER}`, value);
  return value;
}

function depthOf(depth: unknown): number {
  if (depth === undefined) return STREAM_DEPTH;
  if (typeof depth !== 'number') throw invalidArgType('depth', 'of type number', depth);
  if (!Number.isInteger(depth) || depth < 1 || depth > 1024) throw outOfRange('depth', 'an integer >= 1 && <= 1024', depth);
  return depth;
}

const SEEK_SET = 0;
const SEEK_CUR = 1;

/** fd's offset, or -1 where it has none (a pipe, a socket: ESPIPE), so a stream without start reads from 0 there. */
function currentOffset(fd: number): number {
  try {
    return addon.seek(fd, 0, SEEK_CUR);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESPIPE') return -1;
    throw e;
  }
}

/**
 * The depth a stream on fd keeps: a pipe, FIFO, socket or terminal has no
 * positions (lseek fails with ESPIPE), so whichever of several reads or
 * writes in flight runs first would take or put the next bytes, out of the
 * stream's order: there one at a time, as node:fs's streams go.
 */
function depthFor(fd: number, depth: number): number {
  return hasPositions(fd) ? depth : 1;
}

/** Whether fd has positions: false where lseek fails with ESPIPE (a descriptor lseek refuses otherwise is left to its reads). */
export function hasPositions(fd: number): boolean {
  try {
    return currentOffset(fd) >= 0;
  } catch {
    return true;
  }
}

/** Move fd's offset to at; a descriptor closed under the stream has none to move. */
function moveOffset(fd: number, at: number): void {
  try {
    addon.seek(fd, at, SEEK_SET);
  } catch {
    // the stream's own read or write reports what is wrong with the descriptor
  }
}

/** Close the descriptor if the stream owns it, then finish destroying. */
function release(fd: number, owned: boolean, err: Error | null, cb: (e: Error | null) => void): void {
  if (!owned) return cb(err);
  fs.close(fd, (e) => cb(err ?? e));
}

interface Read {
  readonly buffer: Buffer;
  readonly position: number;
  done: boolean;
  /** a read issued past a short read or the end: its result is not used */
  stale: boolean;
  bytes: number;
  error: Error | null;
}

export class AioReadStream extends Readable {
  readonly fd: number;
  bytesRead = 0;
  private readonly ctx: AioContext;
  private readonly depth: number;
  private readonly chunk: number;
  private readonly owned: boolean;
  /** last byte to read, inclusive */
  private readonly last: number;
  /** where the next read starts */
  private next: number;
  /** the reads whose results are delivered, in position order */
  private readonly queue: Read[] = [];
  private inflight = 0;
  private wanted = false;
  private ended = false;
  /** destroy waits for the reads in flight */
  private whenIdle: (() => void) | null = null;
  /** without start: the descriptor's offset is the stream's, moved past each chunk delivered */
  private readonly atOffset: boolean;
  /** the FileHandle whose stream this is: its reads run on the handle's fixed file */
  private readonly source: FileSource | undefined;

  /** source: @internal (FileHandle.createReadStream) */
  constructor(ctx: AioContext, fd: number, options: ReadStreamOptions = {}, source?: FileSource) {
    checkFd(fd);
    let start = options.start === undefined ? 0 : offset(options.start, 'start');
    let end = options.end === undefined || options.end === Infinity ? Infinity : offset(options.end, 'end');
    if (start > end) throw outOfRange('start', `<= "end" (here: ${end})`, start);
    const current = options.start === undefined ? currentOffset(fd) : -1;
    // node:fs without start: end counts from where the descriptor stands
    if (current > 0) {
      start = current;
      end += current;
    }
    const depth = depthFor(fd, depthOf(options.depth));
    checkEncoding(options.encoding);
    const autoClose = options.autoClose ?? true;
    super({
      highWaterMark: options.highWaterMark ?? 64 * 1024,
      encoding: options.encoding,
      emitClose: options.emitClose ?? true,
      autoDestroy: autoClose,
    });
    this.ctx = ctx;
    this.fd = fd;
    this.depth = depth;
    this.chunk = this.readableHighWaterMark;
    // a FileHandle's stream closes the handle (FileHandle.closesWith), not the descriptor under it
    this.owned = autoClose && source === undefined;
    this.next = start;
    this.last = end;
    this.atOffset = current >= 0;
    this.source = source;
  }

  _read(): void {
    // node:fs reads highWaterMark bytes at a time, so at 0 it reads none: the stream ends at once
    if (this.chunk === 0) return void (this.ended || this.finish());
    this.wanted = true;
    this.fill();
  }

  private fill(): void {
    while (this.wanted && !this.ended && !this.destroyed && this.queue.length < this.depth && this.next <= this.last) {
      const length = Math.min(this.chunk, this.last - this.next + 1);
      const r: Read = { buffer: Buffer.allocUnsafeSlow(length), position: this.next, done: false, stale: false, bytes: 0, error: null };
      this.next += length;
      this.queue.push(r);
      this.inflight++;
      const read = this.source === undefined ? this.ctx.read(this.fd, r.buffer, r.position) : this.ctx.transferOn(this.source.fileRef(), Opcode.pread, this.fd, r.buffer, r.position, 'read');
      read.then(
        (bytes) => this.settled(r, bytes, null),
        (e: Error) => this.settled(r, 0, e),
      );
    }
    if (!this.ended && this.queue.length === 0 && this.next > this.last) this.finish();
  }

  private settled(r: Read, bytes: number, error: Error | null): void {
    r.done = true;
    r.bytes = bytes;
    r.error = error;
    if (--this.inflight === 0 && this.whenIdle) this.whenIdle();
    if (!r.stale) this.deliver();
  }

  /** Push what has arrived, in position order. */
  private deliver(): void {
    while (!this.destroyed && this.queue.length > 0 && this.queue[0].done) {
      const r = this.queue.shift()!;
      if (r.error) return void this.destroy(r.error);
      if (r.bytes === 0) return this.finish();
      if (r.bytes < r.buffer.length) {
        // a short read: what was asked after it starts past what it got
        this.dropQueue();
        this.next = r.position + r.bytes;
      }
      this.bytesRead += r.bytes;
      if (this.atOffset) moveOffset(this.fd, r.position + r.bytes);
      if (!this.push(r.bytes < r.buffer.length ? r.buffer.subarray(0, r.bytes) : r.buffer)) this.wanted = false;
    }
    this.fill();
  }

  private dropQueue(): void {
    for (const q of this.queue.splice(0)) q.stale = true;
  }

  private finish(): void {
    this.ended = true;
    this.dropQueue();
    this.push(null);
  }

  _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.dropQueue();
    const done = (): void => release(this.fd, this.owned, err, cb);
    if (this.inflight === 0) return done();
    this.whenIdle = done;
  }
}

export class AioWriteStream extends Writable {
  readonly fd: number;
  bytesWritten = 0;
  private readonly ctx: AioContext;
  private readonly depth: number;
  private readonly owned: boolean;
  private position: number;
  private inflight = 0;
  private failed: Error | null = null;
  /** the callback of the write that filled the depth, until one completes */
  private held: ((e?: Error | null) => void) | null = null;
  /** _final or _destroy, waiting for the writes in flight */
  private whenIdle: (() => void) | null = null;
  /** without start: the descriptor's offset is the stream's, moved past what was written */
  private readonly atOffset: boolean;
  /** the end of the bytes written from the start on without a gap */
  private written: number;
  /** writes ended (or failed) out of order: their ends, until the gap before them fills */
  private readonly ended = new Map<number, number>();
  /** the FileHandle whose stream this is: its writes run on the handle's fixed file */
  private readonly source: FileSource | undefined;

  /** source: @internal (FileHandle.createWriteStream) */
  constructor(ctx: AioContext, fd: number, options: WriteStreamOptions = {}, source?: FileSource) {
    checkFd(fd);
    const current = options.start === undefined ? currentOffset(fd) : -1;
    const start = options.start === undefined ? Math.max(current, 0) : offset(options.start, 'start');
    const depth = depthFor(fd, depthOf(options.depth));
    checkEncoding(options.encoding);
    const autoClose = options.autoClose ?? true;
    super({
      highWaterMark: options.highWaterMark,
      defaultEncoding: options.encoding,
      emitClose: options.emitClose ?? true,
      autoDestroy: autoClose,
      decodeStrings: true,
    });
    this.ctx = ctx;
    this.fd = fd;
    this.depth = depth;
    // a FileHandle's stream closes the handle (FileHandle.closesWith), not the descriptor under it
    this.owned = autoClose && source === undefined;
    this.position = start;
    this.atOffset = current >= 0;
    this.written = start;
    this.source = source;
  }

  _write(chunk: Buffer, _encoding: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.issue([chunk], cb);
  }

  _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    this.issue(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  private issue(buffers: Buffer[], cb: (e?: Error | null) => void): void {
    if (this.failed) return cb(this.failed);
    let length = 0;
    for (const b of buffers) length += b.length;
    const position = this.position;
    this.position += length;
    this.inflight++;
    this.writeAll(buffers, position).then(
      () => this.settled(position, length, null),
      (e: Error) => this.settled(position, 0, e),
    );
    if (this.inflight < this.depth) cb();
    else this.held = cb;
  }

  /** Write all of buffers at position, IOV_MAX at a time, again from where a short write stopped. */
  private async writeAll(buffers: Buffer[], position: number): Promise<void> {
    let rest = buffers.filter((b) => b.length > 0);
    while (rest.length > 0) {
      const some = rest.length > IOV_MAX ? rest.slice(0, IOV_MAX) : rest;
      const wrote = await this.writeSome(some, position);
      position += wrote;
      rest = after(rest, wrote);
    }
  }

  /** One write or writev (at most IOV_MAX buffers), on the handle's fixed file when the stream is a handle's. */
  private writeSome(some: Buffer[], position: number): Promise<number> {
    const source = this.source;
    if (source === undefined) return some.length === 1 ? this.ctx.write(this.fd, some[0], position) : this.ctx.writev(this.fd, some, position);
    const file = source.fileRef();
    if (some.length === 1) return this.ctx.transferOn(file, Opcode.pwrite, this.fd, some[0], position, 'write');
    return this.ctx.transferOn(file, Opcode.pwritev, this.fd, some.slice(), position, 'write');
  }

  private settled(position: number, length: number, error: Error | null): void {
    this.inflight--;
    this.bytesWritten += length;
    if (this.atOffset && !error) this.advance(position, length);
    if (error && !this.failed) this.failed = error;
    const held = this.held;
    this.held = null;
    if (held) held(this.failed);
    else if (this.failed && !this.whenIdle && !this.destroyed) this.destroy(this.failed);
    if (this.inflight === 0 && this.whenIdle) this.whenIdle();
  }

  /** Move the descriptor's offset past what was written without a gap, as write(2)s in order would. */
  private advance(position: number, length: number): void {
    this.ended.set(position, position + length);
    const before = this.written;
    for (let end = this.ended.get(this.written); end !== undefined; end = this.ended.get(this.written)) {
      this.ended.delete(this.written);
      this.written = end;
    }
    if (this.written !== before) moveOffset(this.fd, this.written);
  }

  _final(cb: (e?: Error | null) => void): void {
    const done = (): void => {
      this.whenIdle = null;
      cb(this.failed);
    };
    if (this.inflight === 0) return done();
    this.whenIdle = done;
  }

  _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    const done = (): void => {
      this.whenIdle = null;
      release(this.fd, this.owned, err, cb);
    };
    if (this.inflight === 0) return done();
    this.whenIdle = done;
  }
}

/** The buffers after the first bytes of them; a write of nothing is EIO rather than a loop. */
function after(buffers: Buffer[], bytes: number): Buffer[] {
  if (bytes === 0) throw new AioError(EIO, 'write', 'a write wrote nothing');
  const rest: Buffer[] = [];
  for (const b of buffers) {
    if (bytes >= b.length) bytes -= b.length;
    else {
      rest.push(bytes > 0 ? b.subarray(bytes) : b);
      bytes = 0;
    }
  }
  return rest;
}

/** A Readable of fd's bytes from start to end, depth reads in flight. */
export function createReadStream(ctx: AioContext, fd: number, options?: ReadStreamOptions): AioReadStream {
  return new AioReadStream(ctx, fd, options);
}

/** A Writable writing at start on, depth writes in flight. */
export function createWriteStream(ctx: AioContext, fd: number, options?: WriteStreamOptions): AioWriteStream {
  return new AioWriteStream(ctx, fd, options);
}
