// Which backend serves a context, and why, in words for BackendInfo.
import {
  AIORING_BACKEND_AUTO,
  AIORING_BACKEND_KERNEL,
  AIORING_BACKEND_KERNEL_RING,
  AIORING_BACKEND_THREADPOOL,
  AIORING_BACKEND_URING,
  AIORING_SETUP_KERNEL_RING,
} from '../abi';
import { errnoName } from '../errors';
import { NativeContextInfo } from '../native';

export type BackendName =
  | typeof AIORING_BACKEND_AUTO
  | typeof AIORING_BACKEND_KERNEL
  | typeof AIORING_BACKEND_THREADPOOL
  | typeof AIORING_BACKEND_URING;

export const BACKEND_NAMES: readonly string[] = [AIORING_BACKEND_AUTO, AIORING_BACKEND_KERNEL, AIORING_BACKEND_THREADPOOL, AIORING_BACKEND_URING];

export interface BackendInfo {
  name: BackendName | typeof AIORING_BACKEND_KERNEL_RING;
  /** a kernel AIO context serves this context */
  kernel: boolean;
  /** thread pool size (0: none) */
  threads: number;
  /** a helper thread serves part of each large run of cached reads (SetupOptions.readHelper) */
  readHelper: boolean;
  /**
   * io_uring serves this context: every request (backend 'uring'), or with
   * auto what the pool would otherwise run (its ring made at the first such request)
   */
  uring: boolean;
  reason: string;
}

export function describeBackend(requested: BackendName, flags: number, info: NativeContextInfo): BackendInfo {
  const readHelper = info.readHelper;
  const failed = info.kernelError ? `io_setup failed with ${errnoName(info.kernelError)} at the first O_DIRECT request` : '';
  const rest = `buffered I/O, fsync, poll and noop to a pool of ${info.threads} threads (buffered reads tried inline first)`;
  if (flags & AIORING_SETUP_KERNEL_RING) {
    return { name: AIORING_BACKEND_KERNEL_RING, kernel: true, threads: 0, readHelper, uring: false, reason: "the kernel's own ring, exposed directly (passthrough)" };
  }
  if (requested === AIORING_BACKEND_KERNEL) {
    return { name: AIORING_BACKEND_KERNEL, kernel: true, threads: 0, readHelper, uring: false, reason: 'kernel AIO for every request, as asked (buffered I/O runs inside io_submit)' };
  }
  if (requested === AIORING_BACKEND_URING) {
    return {
      name: AIORING_BACKEND_URING,
      kernel: false,
      threads: 0,
      readHelper,
      uring: info.uring,
      reason: 'io_uring for every request, as asked: buffered and O_DIRECT I/O asynchronous in the kernel, completions moved from its CQ in batches',
    };
  }
  if (requested === AIORING_BACKEND_THREADPOOL) {
    return { name: AIORING_BACKEND_THREADPOOL, kernel: false, threads: info.threads, readHelper, uring: false, reason: `a pool of ${info.threads} threads, as asked` };
  }
  if (info.uringAuto) {
    const made = info.uring ? 'its ring made' : 'its ring made at the first of them';
    const direct = info.kernel
      ? 'O_DIRECT reads and writes go to kernel AIO'
      : info.kernelError
        ? `${failed}: O_DIRECT reads and writes go to io_uring`
        : 'O_DIRECT reads and writes go to kernel AIO, its context made at the first one (io_setup of nrEvents)';
    return {
      name: AIORING_BACKEND_AUTO,
      kernel: info.kernel,
      threads: info.threads,
      readHelper,
      uring: true,
      reason:
        `io_uring works here: it serves buffered reads the page cache lacks (tried inline first with RWF_NOWAIT), ` +
        `buffered writes, poll and noop, ${made}; fsync and fdsync go to the pool of ${info.threads} threads; ${direct}`,
    };
  }
  // why auto is without io_uring, after what it does instead
  const why = info.uringRefused
    ? `; io_uring refused here (io_uring_setup: ${errnoName(info.uringRefused)})`
    : info.uringError
      ? `; io_uring_setup failed with ${errnoName(info.uringError)} at the first request io_uring was to serve`
      : info.threads === 1
        ? '; io_uring not used: a one-thread pool keeps submission order, io_uring does not'
        : '; io_uring not considered (AIORING_AUTO_URING=0)';
  if (!info.kernel && !info.kernelError) {
    return {
      name: AIORING_BACKEND_AUTO,
      kernel: false,
      threads: info.threads,
      readHelper,
      uring: false,
      reason: `O_DIRECT reads and writes go to kernel AIO, its context made at the first one (io_setup of nrEvents); ${rest}${why}`,
    };
  }
  if (!info.kernel) {
    return {
      name: AIORING_BACKEND_THREADPOOL,
      kernel: false,
      threads: info.threads,
      readHelper,
      uring: false,
      reason: `${failed}: a pool of ${info.threads} threads serves every request${why}`,
    };
  }
  return {
    name: AIORING_BACKEND_AUTO,
    kernel: true,
    threads: info.threads,
    readHelper,
    uring: false,
    reason: `O_DIRECT reads and writes go to kernel AIO; ${rest}${why}`,
  };
}
