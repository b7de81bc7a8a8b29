// FileHandle: an open file on a context, with node:fs FileHandle's calls,
// argument forms and position rules. Reads and writes are the context's
// pooled promise requests (context/queue.ts), so a handle's calls of one
// turn share one native submit with every other call on the context.
//
// The current position: a call without a position (null, omitted, or one
// node:fs reads as "current": a negative or non-integer number) reads or
// writes at the handle's position and moves it by the bytes it reserved,
// at the call, so concurrent calls take consecutive ranges in call order;
// a short transfer gives back what it did not move when no later call has
// reserved past it. An explicit position never moves it (pread/pwrite).
import * as fs from 'node:fs';
import { emptyReadv } from '../arguments';
import { AioContext } from '../context';
import { newRequest, PositionOwner, Reply, Request } from '../context/queue';
import { ownedFile } from '../context/submit';
import { IOV_MAX, writeInPieces } from '../context/vectors';
import { Opcode } from '../iocb';
import { handleCommit } from './commit';
import { checkAligned, DirectAlignment } from './direct';
import { AioReadStream, AioWriteStream, hasPositions, ReadStreamOptions, WriteStreamOptions } from './streams';
import { checkInteger, invalidArgType, invalidArgValue, outOfRange } from './validate';
import { readWhole, WholeOptions, writeWhole } from './whole';

/** node:fs's read() without a buffer allocates this much */
const DEFAULT_READ = 16384;

type Position = number | bigint | null | undefined;

interface ReadOptions<B extends ArrayBufferView = ArrayBufferView> {
  buffer?: B;
  offset?: number | null;
  length?: number | null;
  position?: Position;
}

export interface ReadResult<B = ArrayBufferView> {
  bytesRead: number;
  buffer: B;
}
export interface WriteResult<B = ArrayBufferView | string> {
  bytesWritten: number;
  buffer: B;
}

/** The error node:fs gives for a call on a closed FileHandle. */
function closedError(syscall: string): Error {
  return Object.assign(new Error('file closed'), { code: 'EBADF', syscall });
}

/** A position node:fs's FileHandle takes as given; anything else is the current position. */
function explicit(position: Position): position is number | bigint {
  return (typeof position === 'number' && Number.isSafeInteger(position) && position >= 0) || (typeof position === 'bigint' && position >= 0n);
}

export class FileHandle implements PositionOwner {
  readonly context: AioContext;
  readonly path: string;
  /** O_DIRECT's alignment for lengths and positions; 0 for a buffered file */
  readonly directAlignment: number;
  /** O_DIRECT's alignment for a buffer's address; 0 for a buffered file */
  readonly directMemoryAlignment: number;
  private readonly direct: DirectAlignment | null;
  private descriptor: number;
  private readonly append: boolean;
  /** the current position (node:fs's is the kernel's; this one is the handle's) */
  private position = 0;
  private inflight = 0;
  private closing: Promise<void> | undefined;
  private idle: (() => void) | undefined;
  /**
   * The descriptor's slot in a uring context's io_uring file table: the
   * handle knows the descriptor's lifetime, so it registers at its first
   * read or write and unregisters before close() closes the descriptor
   * (a table keyed by number could not tell a reused number from the old
   * file). -2: not yet tried; -1: unregistered (another backend, closed);
   * -3: the table was full, tried again once a slot was emptied (fullAt).
   */
  private fileSlot = -2;
  /** the context's fileReleases when the table was last found full */
  private fullAt = 0;

  /** direct: O_DIRECT's rules for the file (files/direct.ts), null for a buffered one */
  constructor(context: AioContext, fd: number, path: string, append: boolean, direct: DirectAlignment | null) {
    this.context = context;
    this.descriptor = fd;
    this.path = path;
    this.append = append;
    this.direct = direct;
    this.directAlignment = direct?.offset ?? 0;
    this.directMemoryAlignment = direct?.memory ?? 0;
  }

  /** The descriptor; -1 once close() was called. */
  get fd(): number {
    return this.descriptor;
  }

  /** node:fs's read(buffer, offset?, length?, position?), read(buffer, options?) and read(options?). */
  read<B extends ArrayBufferView = Buffer>(
    buffer?: B | ReadOptions<B> | null,
    offset?: number | ReadOptions | null,
    length?: number | null,
    position?: Position,
  ): Promise<ReadResult<B>> {
    if (this.descriptor === -1) return Promise.reject(closedError('read'));
    let buf: ArrayBufferView;
    try {
      if (!ArrayBuffer.isView(buffer)) {
        if (buffer !== undefined && (typeof buffer !== 'object' || Array.isArray(buffer))) throw invalidArgType('options', 'of type object', buffer);
        const o = (buffer ?? {}) as ReadOptions;
        // node:fs's defaults stand in for undefined only: buffer null is refused
        buf = o.buffer === undefined ? Buffer.alloc(DEFAULT_READ) : o.buffer;
        if (!ArrayBuffer.isView(buf)) throw invalidArgType('buffer', 'an instance of Buffer, TypedArray, or DataView', buf);
        offset = o.offset ?? 0;
        length = o.length ?? buf.byteLength - offset;
        position = o.position ?? null;
      } else {
        buf = buffer;
      }
      if (offset !== null && typeof offset === 'object') {
        const o = offset;
        offset = o.offset ?? 0;
        length = o.length ?? buf.byteLength - offset;
        position = o.position ?? null;
      }
      if (offset == null) offset = 0;
      else checkInteger(offset, 'offset', 0);
      length ??= buf.byteLength - offset;
      if (length === 0) return Promise.resolve({ bytesRead: 0, buffer: buf as B });
      if (buf.byteLength === 0) throw invalidArgValue('buffer', buf, 'is empty and cannot be written');
      if (offset < 0) throw outOfRange('offset', '>= 0', offset);
      if (length < 0) throw outOfRange('length', '>= 0', length);
      if (offset + length > buf.byteLength) throw outOfRange('length', `<= ${buf.byteLength - offset}`, length);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.transfer(Opcode.pread, 'read', buf, offset, length, position, Reply.Read, buf);
  }

  /**
   * node:fs's write(buffer, offset?, length?, position?), write(buffer,
   * options?) and write(string, position?, encoding?).
   */
  write<B extends ArrayBufferView | string>(
    buffer: B,
    offset?: number | ReadOptions | null,
    length?: number | BufferEncoding | null,
    position?: Position,
  ): Promise<WriteResult<B>> {
    if (this.descriptor === -1) return Promise.reject(closedError('write'));
    if (typeof buffer !== 'string' && (buffer as ArrayBufferView | undefined)?.byteLength === 0) return Promise.resolve({ bytesWritten: 0, buffer });
    try {
      if (ArrayBuffer.isView(buffer)) {
        if (typeof offset === 'object') {
          const o = offset ?? {};
          offset = o.offset ?? 0;
          length = o.length ?? buffer.byteLength - offset;
          position = o.position ?? null;
        }
        if (offset == null) offset = 0;
        else checkInteger(offset, 'offset', 0);
        if (typeof length !== 'number') length = buffer.byteLength - offset;
        if (offset > buffer.byteLength) throw outOfRange('offset', `<= ${buffer.byteLength}`, offset);
        if (length > buffer.byteLength - offset) throw outOfRange('length', `<= ${buffer.byteLength - offset}`, length);
        if (length < 0) throw outOfRange('length', '>= 0', length);
        checkInteger(length, 'length', 0, 0x7fff_ffff);
        return this.transfer(Opcode.pwrite, 'write', buffer, offset, length, position, Reply.Written, buffer);
      }
      if (typeof buffer !== 'string') throw invalidArgType('buffer', 'of type string or an instance of Buffer, TypedArray, or DataView', buffer);
      const encoding = typeof length === 'string' ? length : 'utf8';
      if (!Buffer.isEncoding(encoding)) throw invalidArgValue('encoding', encoding, 'is invalid encoding');
      const bytes = Buffer.from(buffer, encoding);
      return this.transfer(Opcode.pwrite, 'write', bytes, 0, bytes.byteLength, offset as Position, Reply.Written, buffer);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** node:fs's readv(buffers, position?). */
  readv<B extends ArrayBufferView[]>(buffers: B, position?: Position): Promise<{ bytesRead: number; buffers: B }> {
    return this.vectored(Opcode.preadv, 'readv', buffers, position, Reply.ReadV);
  }

  /** node:fs's writev(buffers, position?). */
  writev<B extends ArrayBufferView[]>(buffers: B, position?: Position): Promise<{ bytesWritten: number; buffers: B }> {
    if (this.descriptor !== -1 && Array.isArray(buffers) && buffers.length === 0) return Promise.resolve({ bytesWritten: 0, buffers });
    return this.vectored(Opcode.pwritev, 'writev', buffers, position, Reply.WrittenV);
  }

  /**
   * fdatasync through the context, shared (group commit, files/commit.ts):
   * calls made while a sync of this file runs are served by the next one,
   * which starts after it; resolves undefined once a sync that began after
   * this call covered the file.
   */
  datasync(): Promise<void> {
    return this.grouped('fdatasync', false);
  }

  /** fsync through the context, shared as datasync is. */
  sync(): Promise<void> {
    return this.grouped('fsync', true);
  }

  /**
   * node:fs FileHandle's createReadStream: several reads in flight
   * (options.depth); autoClose closes this handle. Without start it reads
   * from the handle's current position and leaves it past what it read.
   */
  createReadStream(options: Omit<ReadStreamOptions, 'autoClose'> & { autoClose?: boolean } = {}): AioReadStream {
    const fd = this.liveFd('read');
    const current = options.start === undefined;
    const start = current ? this.position : options.start;
    // node:fs without start: end counts from there (a bad end is left for the stream's own check)
    const counted = current && Number.isSafeInteger(options.end) && (options.end as number) >= 0;
    const end = counted ? this.position + (options.end as number) : options.end;
    const stream = new AioReadStream(this.context, fd, { ...options, start, end }, this);
    if (current) stream.once('end', () => (this.position = (start as number) + stream.bytesRead));
    return this.closesWith(stream, options.autoClose ?? true);
  }

  /**
   * node:fs FileHandle's createWriteStream: several writes in flight
   * (options.depth); autoClose closes this handle. Without start it writes
   * from the handle's current position and leaves it past what it wrote.
   */
  createWriteStream(options: Omit<WriteStreamOptions, 'autoClose'> & { autoClose?: boolean } = {}): AioWriteStream {
    const fd = this.liveFd('write');
    const current = options.start === undefined && !this.append;
    const start = current ? this.position : options.start;
    const stream = new AioWriteStream(this.context, fd, { ...options, start }, this);
    if (current) stream.once('finish', () => (this.position = (start as number) + stream.bytesWritten));
    return this.closesWith(stream, options.autoClose ?? true);
  }

  stat(options?: fs.StatOptions & { bigint?: false }): Promise<fs.Stats>;
  stat(options: fs.StatOptions & { bigint: true }): Promise<fs.BigIntStats>;
  stat(options?: fs.StatOptions): Promise<fs.Stats | fs.BigIntStats> {
    if (this.descriptor === -1) return Promise.reject(closedError('fstat'));
    return this.node((done) => fs.fstat(this.descriptor, options ?? { bigint: false }, done));
  }

  /** ftruncate to len bytes (default 0; a negative len is 0, as node:fs has it). */
  truncate(len = 0): Promise<void> {
    if (this.descriptor === -1) return Promise.reject(closedError('ftruncate'));
    return this.node((done) => fs.ftruncate(this.descriptor, len, done));
  }

  /** Close once the handle's requests in flight have completed; later calls are EBADF. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.descriptor === -1) return Promise.resolve();
    const fd = this.descriptor;
    this.descriptor = -1;
    const drained = this.inflight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.idle = resolve));
    this.closing = drained
      .then(() => {
        // nothing of the handle's is in flight: the slot lets go of the file, then the number closes
        if (this.fileSlot >= 0) this.context.unregisterFile(this.fileSlot);
        this.fileSlot = -1;
        return new Promise<void>((resolve, reject) => fs.close(fd, (e) => (e ? reject(e) : resolve())));
      })
      .finally(() => (this.closing = undefined));
    return this.closing;
  }

  /** The file from the current position to its end, many reads in flight (whole.ts). */
  readFile(options?: WholeOptions): Promise<Buffer | string> {
    return readWhole(this, options);
  }

  /** data written from the current position, many writes in flight. */
  writeFile(data: string | ArrayBufferView, options?: WholeOptions): Promise<void> {
    return writeWhole(this, data, options);
  }

  /** @internal readFile/writeFile: reserve length bytes at the current position; returns where they start. */
  reserve(length: number): number {
    const start = this.position;
    this.position += length;
    return start;
  }

  /** @internal whether writes go to the end whatever their position (O_APPEND) */
  get appending(): boolean {
    return this.append;
  }

  /** @internal whether the descriptor has positions (a pipe, FIFO, socket or terminal has none: lseek fails with ESPIPE) */
  get seekable(): boolean {
    return this.descriptor === -1 || hasPositions(this.descriptor);
  }

  /** context/queue.ts: one of this handle's requests completed (res: bytes, or a negative errno). */
  settled(r: Request, res: number): void {
    if (this.append && res >= 0 && (r.opcode === Opcode.pwrite || r.opcode === Opcode.pwritev) && this.descriptor !== -1) {
      // O_APPEND put the bytes at the end, wherever the handle stood: the
      // current position is the end now, as the kernel's is after write(2)
      try {
        this.position = fs.fstatSync(this.descriptor).size;
      } catch {
        // a descriptor closed under the handle: its position no longer matters
      }
    } else if (r.atCurrent) {
      const end = (r.position as number) + r.length;
      if (this.position === end) this.position = (r.position as number) + Math.max(res, 0);
    }
    this.done();
  }

  private transfer<T>(
    opcode: number,
    syscall: string,
    data: ArrayBufferView | ArrayBufferView[],
    offset: number,
    length: number,
    position: Position,
    reply: Reply,
    replyBuffer: unknown,
  ): Promise<T> {
    const r = newRequest();
    r.opcode = opcode;
    r.fd = this.descriptor;
    r.file = this.fileRef();
    r.data = data;
    r.offset = offset;
    r.length = length;
    r.syscall = syscall;
    r.reply = reply;
    r.replyBuffer = replyBuffer;
    r.path = this.path;
    r.owner = this;
    if (explicit(position)) {
      r.position = position;
    } else {
      r.position = this.reserve(length);
      r.atCurrent = true;
    }
    if (this.direct !== null) {
      const bad = checkAligned(this.direct, data, offset, length, r.position, syscall, this.path);
      if (bad && !this.atEndUnaligned(opcode, data, offset, length, r.position, syscall)) {
        if (r.atCurrent) this.position -= length;
        r.owner = undefined;
        const p = r.promise<T>();
        r.reject(bad);
        return p;
      }
    }
    this.inflight++;
    return this.context.enqueue<T>(r);
  }

  /**
   * A read whose only misalignment is its position, at or past the end of
   * the file: the kernel answers it with 0 bytes, as read(2) on the O_DIRECT
   * descriptor does, so a loop reading at the current position until 0
   * ends at a file whose size is not a multiple of the block (the short
   * read before left the position there).
   */
  private atEndUnaligned(opcode: number, data: ArrayBufferView | ArrayBufferView[], offset: number, length: number, position: number | bigint, syscall: string): boolean {
    if (opcode !== Opcode.pread || checkAligned(this.direct!, data, offset, length, 0, syscall, this.path)) return false;
    try {
      return BigInt(position) >= BigInt(fs.fstatSync(this.descriptor).size);
    } catch {
      return false;
    }
  }

  private vectored<T>(opcode: number, syscall: string, buffers: ArrayBufferView[], position: Position, reply: Reply): Promise<T> {
    if (this.descriptor === -1) return Promise.reject(closedError(syscall));
    if (!Array.isArray(buffers) || !buffers.every((b) => ArrayBuffer.isView(b))) {
      return Promise.reject(invalidArgType('buffers', 'an ArrayBufferView[]', buffers));
    }
    if (opcode === Opcode.preadv && buffers.length === 0) return Promise.reject(Object.assign(emptyReadv(), { path: this.path }));
    let length = 0;
    for (const b of buffers) length += b.byteLength;
    // node:fs reports a vectored call's errors as read's and write's
    const reported = opcode === Opcode.preadv ? 'read' : 'write';
    // a bigint is a position, as read's and write's (node:fs 20 takes it for the current one: docs/API.md)
    const at: Position = typeof position === 'number' || typeof position === 'bigint' ? position : null;
    if (buffers.length <= IOV_MAX) return this.transfer(opcode, reported, buffers.slice(), 0, length, at, reply, buffers);
    // as node:fs (context/vectors.ts): readv fills the first IOV_MAX, writev writes IOV_MAX at a time
    if (opcode === Opcode.preadv) {
      const first = buffers.slice(0, IOV_MAX);
      let firstLength = 0;
      for (const b of first) firstLength += b.byteLength;
      return this.transfer(opcode, reported, first, 0, firstLength, at, reply, buffers);
    }
    if (explicit(at)) {
      return writeInPieces(buffers.slice(), at, (piece, p) =>
        this.vectored<{ bytesWritten: number }>(opcode, syscall, piece, p, reply).then((r) => r.bytesWritten),
      ).then((bytesWritten) => ({ bytesWritten, buffers }) as T);
    }
    // at the current position: the whole call's range is reserved now, as one writev's would be, so
    // calls made with it take the ranges after it; the pieces go at explicit offsets inside it
    const start = this.reserve(length);
    const giveBack = (bytes: number): void => {
      // what was not written, as settled() gives it back: only if no later call reserved past it
      if (this.position === start + length) this.position = start + bytes;
    };
    return writeInPieces(buffers.slice(), start, (piece, p) =>
      this.vectored<{ bytesWritten: number }>(opcode, syscall, piece, p, reply).then((r) => r.bytesWritten),
    ).then(
      (bytesWritten) => {
        giveBack(bytesWritten);
        return { bytesWritten, buffers } as T;
      },
      (e: unknown) => {
        giveBack(0);
        throw e;
      },
    );
  }

  /**
   * @internal A request's word on the handle's descriptor (submit.ts,
   * ownedFile): its fixed-file slot + 1 (0: none), registered at the first request, by the handle's
   * own calls, its streams and its syncs alike. A handle that found the
   * table full asks again only after some slot was emptied, so a full table
   * costs a request one comparison.
   */
  fileRef(): number {
    let slot = this.fileSlot;
    if (slot < -1 && this.descriptor !== -1 && !this.context.destroyed && (slot === -2 || this.context.fileReleases !== this.fullAt)) {
      const releases = this.context.fileReleases;
      slot = this.fileSlot = this.context.registerFile(this.descriptor);
      if (slot === -3) this.fullAt = releases;
    }
    // and the handle's word that its descriptor is open, O_DIRECT or not (the engine asks the kernel nothing)
    return ownedFile(slot, this.direct !== null);
  }

  private liveFd(syscall: string): number {
    if (this.descriptor === -1) throw closedError(syscall);
    return this.descriptor;
  }

  private closesWith<S extends AioReadStream | AioWriteStream>(stream: S, autoClose: boolean): S {
    if (autoClose) stream.once('close', () => void this.close());
    return stream;
  }

  private grouped(syscall: string, full: boolean): Promise<void> {
    if (this.descriptor === -1) return Promise.reject(closedError(syscall));
    this.inflight++;
    return handleCommit(this.context, this.descriptor, full, this).then(
      () => this.done(),
      (e: Error & { path?: string }) => {
        this.done();
        if (e.path === undefined) e.path = this.path;
        throw e;
      },
    );
  }

  /** A node:fs callback call on the descriptor, counted in flight so close waits for it. */
  private node<T>(call: (done: (e: NodeJS.ErrnoException | null, value?: T) => void) => void): Promise<T> {
    this.inflight++;
    return new Promise<T>((resolve, reject) => {
      try {
        call((e, value) => {
          this.done();
          if (e) reject(Object.assign(e, { path: this.path }));
          else resolve(value as T);
        });
      } catch (e) {
        this.done();
        reject(e);
      }
    });
  }

  private done(): void {
    if (--this.inflight === 0 && this.idle) {
      this.idle();
      this.idle = undefined;
    }
  }
}
