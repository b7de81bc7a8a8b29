// Group commit: datasync and fsync calls that share their sync.
//
// On a context whose syncs run in the engine's pool (auto, threadpool:
// ctx.poolCommits) the engine groups them (engine_pool.h): each call is a
// grouped request (AIORING_RWF_GROUP), and the worker whose sync ended
// starts the next one for the calls that waited, with no trip through
// JavaScript; groupWrite's write and its commit are one request, run on
// one worker. Elsewhere (uring, kernel) the grouping is done here, with
// the same rules:
//
// Per context and descriptor, at most one sync runs at a time. A call made
// while none runs starts one at once; calls made while one runs wait, and
// all of them are served by the next sync, started when the running one
// ends. A caller's writes completed before its call, and the sync that
// serves it is submitted after the call, so it starts after those writes
// completed: each call resolves only once a sync that began after its
// writes has ended. A group with an fsync call in it runs fsync, which
// serves its datasync calls too. A failed sync rejects every call it was
// to serve, each with an error of its own.
import { checkFd, checkFsReadWrite, checkFsVectored, invalidArgType } from '../arguments';
import { AioContext } from '../context';
import { IOV_MAX } from '../context/vectors';
import { AioError, systemError } from '../errors';
import { Opcode } from '../iocb';

/**
 * A FileHandle, for the requests made on its descriptor by others: its
 * fixed-file slot + 1 (0: none), registering the file if it has not yet.
 */
export interface FileSource {
  fileRef(): number;
}

/** <linux/fs.h>'s RWF_DSYNC: the write is durable (as after fdatasync) when it completes. */
const RWF_DSYNC = 0x2;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: AioError) => void;
  /** fsync, not fdatasync */
  readonly full: boolean;
  readonly syscall: string;
  /** the FileHandle that asked, if one did */
  readonly source: FileSource | undefined;
}

/** A descriptor's calls: kept only while a sync runs or calls wait. */
interface FileCommits {
  running: boolean;
  waiting: Waiter[];
}

const contexts = new WeakMap<AioContext, Map<number, FileCommits>>();

function startSync(ctx: AioContext, fd: number, files: Map<number, FileCommits>, file: FileCommits): void {
  const group = file.waiting;
  file.waiting = [];
  file.running = true;
  const full = group.some((w) => w.full);
  // a handle's call runs the sync on its fixed file (the engine checks that the slot still holds fd's file)
  const source = group.find((w) => w.source !== undefined)?.source;
  const sync =
    source === undefined
      ? full
        ? ctx.fsync(fd)
        : ctx.datasync(fd)
      : ctx.transferOn(source.fileRef(), full ? Opcode.fsync : Opcode.fdsync, fd, undefined, 0, full ? 'fsync' : 'fdatasync');
  sync.then(
    () => {
      next(ctx, fd, files, file);
      for (const w of group) w.resolve();
    },
    (e: AioError) => {
      next(ctx, fd, files, file);
      for (const w of group) w.reject(systemError(-e.errno, w.syscall));
    },
  );
}

function next(ctx: AioContext, fd: number, files: Map<number, FileCommits>, file: FileCommits): void {
  file.running = false;
  if (file.waiting.length > 0 && ctx.destroyed) {
    // calls made before destroy that waited for this sync: cancelled, as the context's own queued calls are
    const group = file.waiting;
    file.waiting = [];
    for (const w of group) w.reject(systemError(ECANCELED, w.syscall));
  }
  if (file.waiting.length > 0) startSync(ctx, fd, files, file);
  else files.delete(fd);
}

const ECANCELED = 125;

/** ctx must be a context (node-style ERR_INVALID_ARG_TYPE, thrown into the promise). */
function checkContext(ctx: unknown): void {
  if (!(ctx instanceof AioContext)) throw invalidArgType('ctx', 'an instance of AioContext', ctx);
}

const nothing = (): void => undefined;

function commit(ctx: AioContext, fd: number, full: boolean, syscall: string, source: FileSource | undefined): Promise<void> {
  try {
    checkContext(ctx);
    checkFd(fd);
  } catch (e) {
    return Promise.reject(e);
  }
  // the pool runs a request on its descriptor: a handle's fixed file is io_uring's only
  if (ctx.poolCommits) return ctx.groupCommit(fd, full).then(nothing);
  return new Promise((resolve, reject) => {
    let files = contexts.get(ctx);
    if (files === undefined) contexts.set(ctx, (files = new Map()));
    let file = files.get(fd);
    if (file === undefined) files.set(fd, (file = { running: false, waiting: [] }));
    file.waiting.push({ resolve, reject, full, syscall, source });
    if (!file.running) startSync(ctx, fd, files, file);
  });
}

/**
 * fdatasync through ctx, shared with the calls for fd made while a sync of
 * it runs. Resolves (undefined) once a sync that began after this call
 * has ended: the writes that completed before the call are durable.
 */
export function groupDatasync(ctx: AioContext, fd: number): Promise<void> {
  return commit(ctx, fd, false, 'fdatasync', undefined);
}

/** As groupDatasync, with fsync: the file's metadata too. */
export function groupFsync(ctx: AioContext, fd: number): Promise<void> {
  return commit(ctx, fd, true, 'fsync', undefined);
}

/** @internal FileHandle's datasync (full: false) and sync: as groupDatasync, on the handle's fixed file. */
export function handleCommit(ctx: AioContext, fd: number, full: boolean, source: FileSource): Promise<void> {
  return commit(ctx, fd, full, full ? 'fsync' : 'fdatasync', source);
}

/**
 * A write (one buffer) or writev (an array) with RWF_DSYNC: durable when
 * it resolves, with no sync call at all. Resolves with the bytes written.
 */
export function dsyncWrite(ctx: AioContext, fd: number, buffer: ArrayBufferView | ArrayBufferView[], position: number | bigint): Promise<number> {
  try {
    checkContext(ctx);
  } catch (e) {
    return Promise.reject(e);
  }
  return ctx.pwritev2(fd, buffer, position, RWF_DSYNC);
}

/**
 * A write (one buffer) or writev (an array) at position, then
 * groupDatasync: resolves with the bytes written once a sync that began
 * after the write completed has ended. On a context with a thread pool the
 * two are one request, run on one worker (no trip through JavaScript
 * between them); elsewhere, the write and then groupDatasync.
 */
export function groupWrite(ctx: AioContext, fd: number, buffer: ArrayBufferView | ArrayBufferView[], position: number | bigint): Promise<number> {
  const vectored = Array.isArray(buffer);
  try {
    checkContext(ctx);
    if (vectored) checkFsVectored(fd, buffer, position, 'write');
    else checkFsReadWrite(fd, buffer, position, 'write');
  } catch (e) {
    return Promise.reject(e);
  }
  // past IOV_MAX buffers ctx.writev writes in pieces: those take the two steps
  if (ctx.poolCommits && !(vectored && buffer.length > IOV_MAX)) return ctx.groupCommit(fd, false, buffer, position);
  const written = vectored ? ctx.writev(fd, buffer, position) : ctx.write(fd, buffer, position);
  // written before a destroy, its sync cancelled by it: ECANCELED, as for the calls waiting for a sync
  return written.then((n) => (ctx.destroyed ? Promise.reject(systemError(ECANCELED, 'fdatasync')) : groupDatasync(ctx, fd).then(() => n)));
}
