// Which backend serves a context, and why, in words for BackendInfo.
import {
  AIORING_BACKEND_AUTO,
  AIORING_BACKEND_KERNEL,
  AIORING_BACKEND_KERNEL_RING,
  AIORING_BACKEND_THREADPOOL,
  AIORING_SETUP_KERNEL_RING,
} from '../abi';
import { errnoName } from '../errors';
import { NativeContextInfo } from '../native';

export type BackendName = typeof AIORING_BACKEND_AUTO | typeof AIORING_BACKEND_KERNEL | typeof AIORING_BACKEND_THREADPOOL;

export const BACKEND_NAMES: readonly string[] = [AIORING_BACKEND_AUTO, AIORING_BACKEND_KERNEL, AIORING_BACKEND_THREADPOOL];

export interface BackendInfo {
  name: BackendName | typeof AIORING_BACKEND_KERNEL_RING;
  /** a kernel AIO context serves this context */
  kernel: boolean;
  /** thread pool size (0: none) */
  threads: number;
  /** a helper thread serves part of each large run of cached reads (SetupOptions.readHelper) */
  readHelper: boolean;
  reason: string;
}

export function describeBackend(requested: BackendName, flags: number, info: NativeContextInfo): BackendInfo {
  const readHelper = info.readHelper;
  const failed = info.kernelError ? `io_setup failed with ${errnoName(info.kernelError)}` : '';
  if (flags & AIORING_SETUP_KERNEL_RING) {
    return { name: AIORING_BACKEND_KERNEL_RING, kernel: true, threads: 0, readHelper, reason: "the kernel's own ring, exposed directly (passthrough)" };
  }
  if (requested === AIORING_BACKEND_KERNEL) {
    return { name: AIORING_BACKEND_KERNEL, kernel: true, threads: 0, readHelper, reason: 'kernel AIO for every request, as asked (buffered I/O runs inside io_submit)' };
  }
  if (requested === AIORING_BACKEND_THREADPOOL) {
    return { name: AIORING_BACKEND_THREADPOOL, kernel: false, threads: info.threads, readHelper, reason: `a pool of ${info.threads} threads, as asked` };
  }
  if (!info.kernel) {
    return {
      name: AIORING_BACKEND_THREADPOOL,
      kernel: false,
      threads: info.threads,
      readHelper,
      reason: `${failed}: a pool of ${info.threads} threads serves every request`,
    };
  }
  return {
    name: AIORING_BACKEND_AUTO,
    kernel: true,
    threads: info.threads,
    readHelper,
    reason: `O_DIRECT reads and writes go to kernel AIO; buffered I/O, fsync, poll and noop to a pool of ${info.threads} threads (buffered reads tried inline first)`,
  };
}
