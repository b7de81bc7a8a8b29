// SetupOptions: what setup takes, checked whole before anything is mapped
// or created, then turned into the addon's arguments.
import { types } from 'node:util';
import { markAsUntransferable } from 'node:worker_threads';
import {
  AIORING_BACKEND_AUTO,
  AIORING_MAX_THREADS,
  AIORING_SETUP_KERNEL_REQS,
  AIORING_SETUP_KERNEL_RING,
  AIORING_SETUP_NO_INLINE,
  AIORING_SETUP_NO_READ_HELPER,
  AIORING_SETUP_NO_USER_REAP,
  AIORING_SETUP_V2,
} from '../abi';
import { invalidArgType } from '../arguments';
import { invalid } from '../errors';
import { mapRingFile, mapRingMemory, RingMapping } from '../memory';
import { addon, NativeContext } from '../native';
import { RingMemoryLike } from '../ringMemoryView';
import { BACKEND_NAMES, BackendName } from './backend';

/** Setup flags (native/core/engine.h). Only SETUP_V2 selects the v2 ring. */
export const SETUP_V2 = AIORING_SETUP_V2;
/** Legacy only: the context's ring is the kernel's own ring (passthrough). */
export const SETUP_KERNEL_RING = AIORING_SETUP_KERNEL_RING;
/**
 * Count requests as the kernel's context does, per CPU in batches, so
 * submit says EAGAIN exactly where io_submit would (before nr - 1 when
 * another CPU's batch holds part of the room). With SETUP_V2 the ring
 * takes what the kernel's ring for the count takes. Not with
 * SETUP_KERNEL_RING.
 */
export const SETUP_KERNEL_REQS = AIORING_SETUP_KERNEL_REQS;
/** The flags a caller may pass; the other AIORING_SETUP_* bits come from options. */
export const SETUP_FLAGS = SETUP_V2 | SETUP_KERNEL_RING | SETUP_KERNEL_REQS;

export interface SetupOptions {
  /** SETUP_* bits; an unknown bit is EINVAL */
  flags?: number;
  /**
   * Ring memory: anonymous by default; `{ path }` creates a ring file
   * (tmpfs, /dev/shm, hugetlbfs; mode 0600, O_EXCL|O_NOFOLLOW);
   * `{ path, attach: true }` adopts an existing ring file after validating
   * it; a caller-owned ArrayBuffer, SharedArrayBuffer or Buffer (v2 only).
   */
  memory?: 'anonymous' | { path: string; attach?: boolean } | RingMemoryLike;
  /** whether this process reaps from the ring itself (flaw F6); default true */
  userReap?: boolean;
  /**
   * auto (default): O_DIRECT to kernel AIO; buffered reads tried inline
   * first; syncs to the pool; the rest through io_uring where it works and is allowed (its
   * ring made at the first such request), else (or with
   * AIORING_AUTO_URING=0) to the pool. ctx.backend says which and why.
   * uring: every request through io_uring (features().backends.uring says where)
   */
  backend?: BackendName;
  /** thread pool size; default 4 */
  threads?: number;
  /**
   * Try buffered reads inline first with RWF_NOWAIT (served from the page
   * cache without a thread hop; the pool runs what would block). Default true.
   */
  inlineReads?: boolean;
  /**
   * With two CPUs or more and a pool of two threads or more, let a helper
   * thread serve part of each submit of 8 or more cached reads, so their
   * page-cache copies run on two CPUs (their events may then arrive out of
   * submission order, as from the pool's threads). It spins for about
   * 30 µs for more work before it sleeps.
   * Default true; false keeps every inline read on the submitting thread.
   */
  readHelper?: boolean;
}

export type RingMemoryArg =
  | { kind: 'anonymous' }
  | { kind: 'buffer'; buffer: RingMemoryLike }
  | { kind: 'file'; path: string; attach: boolean };

/** setup's arguments, checked. */
export interface ContextArgs {
  nrEvents: number;
  /** the caller's SETUP_* bits */
  flags: number;
  /** flags plus the private AIORING_SETUP_* bits the options ask for */
  nativeFlags: number;
  backend: BackendName;
  /** 0: the engine's default */
  threads: number;
  memory: RingMemoryArg;
}

function isRingMemory(m: unknown): m is RingMemoryLike {
  return ArrayBuffer.isView(m) || types.isAnyArrayBuffer(m);
}

/** Check setup's arguments; EINVAL names the first one at fault. */
export function parseSetup(nrEvents: number, given: SetupOptions | null): ContextArgs {
  // null is no options, as node:fs takes it; anything else not an object is refused
  if (given !== null && (typeof given !== 'object' || Array.isArray(given))) throw invalidArgType('options', 'of type object', given);
  const options: SetupOptions = given ?? {};
  const flags = options.flags ?? 0;
  if (!Number.isInteger(flags) || flags < 0 || (flags & ~SETUP_FLAGS) !== 0) {
    throw invalid('unknown setup flag bits', 'flags', 'io_setup');
  }
  if (!Number.isInteger(nrEvents) || nrEvents < 1 || nrEvents > 0xffff_ffff) {
    throw invalid('nrEvents must be a positive integer', 'nrEvents', 'io_setup');
  }
  const backend = options.backend ?? AIORING_BACKEND_AUTO;
  const threads = options.threads ?? 0;
  if (!BACKEND_NAMES.includes(backend)) throw invalid(`backend is ${BACKEND_NAMES.slice(0, -1).join(', ')} or ${BACKEND_NAMES[BACKEND_NAMES.length - 1]}`, 'backend', 'io_setup');
  if (!Number.isInteger(threads) || threads < 0 || threads > AIORING_MAX_THREADS) {
    throw invalid(`threads must be in [0, ${AIORING_MAX_THREADS}]`, 'threads', 'io_setup');
  }
  const nativeFlags =
    flags |
    (options.userReap === false ? AIORING_SETUP_NO_USER_REAP : 0) |
    (options.inlineReads === false ? AIORING_SETUP_NO_INLINE : 0) |
    (options.readHelper === false ? AIORING_SETUP_NO_READ_HELPER : 0);
  return { nrEvents, flags, nativeFlags, backend, threads, memory: parseMemory(options.memory ?? 'anonymous', flags) };
}

function parseMemory(spec: NonNullable<SetupOptions['memory']>, flags: number): RingMemoryArg {
  if (spec === 'anonymous') return { kind: 'anonymous' };
  if (isRingMemory(spec)) {
    if ((flags & SETUP_V2) === 0) throw invalid("a caller's buffer takes the v2 ring only (flags: SETUP_V2)", 'memory', 'io_setup');
    // the engine writes completions into it from its own threads: resize() could take the pages away under it
    if ((bufferOf(spec) as { resizable?: boolean }).resizable) {
      throw invalid('ring memory is a resizable ArrayBuffer, which could shrink under the ring', 'memory', 'io_setup');
    }
    return { kind: 'buffer', buffer: spec };
  }
  if (typeof spec === 'object' && spec !== null && typeof spec.path === 'string') {
    if (flags & SETUP_KERNEL_RING) throw invalid('the kernel ring cannot live in a file', 'memory', 'io_setup');
    return { kind: 'file', path: spec.path, attach: spec.attach === true };
  }
  throw invalid('memory is anonymous, { path }, or a buffer', 'memory', 'io_setup');
}

function bufferOf(memory: RingMemoryLike): ArrayBufferLike {
  return ArrayBuffer.isView(memory) ? memory.buffer : memory;
}

export interface OpenedNative {
  native: NativeContext;
  /** the ring file mapped for it, if any: the context releases it at destroy */
  mapping: RingMapping | undefined;
}

/**
 * Whether auto may choose io_uring: yes unless AIORING_AUTO_URING=0 (read at
 * each setup), which keeps auto on kernel AIO and the pool where io_uring works.
 */
export function autoUring(): boolean {
  return process.env.AIORING_AUTO_URING !== '0';
}

/** Map the ring's file if it has one, then create the native context over it. */
export function openNative(args: ContextArgs, onWake: () => void): OpenedNative {
  const { nrEvents, nativeFlags, backend, threads, memory } = args;
  let mapping: RingMapping | undefined;
  let view: ArrayBufferView | undefined;
  if (memory.kind === 'file') {
    mapping = memory.attach ? mapRingFile(memory.path) : mapRingMemory({ kind: 'file', path: memory.path }, addon.ringBytes(nrEvents, args.flags));
    view = new Uint8Array(mapping.buffer);
  } else if (memory.kind === 'buffer') {
    // the addon takes views: a SharedArrayBuffer is handed over as one
    view = ArrayBuffer.isView(memory.buffer) ? memory.buffer : new Uint8Array(memory.buffer);
    // a transfer (postMessage, structuredClone) would detach the memory the engine writes into, and
    // free it with the receiver: marked, it is copied (Node 20) or refused instead. The mark is permanent.
    const buffer = bufferOf(memory.buffer);
    if (!types.isSharedArrayBuffer(buffer)) markAsUntransferable(buffer);
  }
  try {
    const native = new addon.NativeContext(nrEvents, nativeFlags, backend, threads, view, onWake, memory.kind === 'file' && memory.attach, autoUring());
    return { native, mapping };
  } catch (e) {
    mapping?.release();
    throw e;
  }
}
