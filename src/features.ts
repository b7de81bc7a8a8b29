// What this build and this machine support, for callers choosing options
// and for `aioring doctor`.
import { AioError, errnoName } from './errors';
import { hugePagesFree } from './memory';
import { addon } from './native';
import { SETUP_FLAGS, SETUP_KERNEL_REQS, SETUP_KERNEL_RING, SETUP_V2 } from './context/options';

export interface Features {
  /** setup flags this build understands; any other bit is EINVAL */
  flags: { SETUP_V2: number; SETUP_KERNEL_RING: number; SETUP_KERNEL_REQS: number; all: number };
  layouts: ('legacy' | 'v2')[];
  /**
   * uring: io_uring can be set up here (built with liburing, not refused by
   * io_uring_disabled, seccomp or the container); uringError the errno
   * name where not (ENOSYS also for a build without liburing)
   */
  backends: { kernel: boolean; kernelError?: string; threadpool: true; uring: boolean; uringError?: string };
  memory: ('anonymous' | 'file' | 'buffer')[];
  hugepages: { size: number; free: number };
}

// io_setup either works in this process or does not: probe it once
let kernelProbe: { ok: boolean; error?: string } | undefined;

/** What this build and this machine support. */
export function features(): Features {
  if (kernelProbe === undefined) {
    try {
      new addon.KernelContext(1).destroy();
      kernelProbe = { ok: true };
    } catch (e) {
      kernelProbe = { ok: false, error: e instanceof AioError ? e.code : String(e) };
    }
  }
  const uringErrno = addon.uringProbe();
  return {
    flags: { SETUP_V2, SETUP_KERNEL_RING, SETUP_KERNEL_REQS, all: SETUP_FLAGS },
    layouts: ['legacy', 'v2'],
    backends: {
      kernel: kernelProbe.ok,
      ...(kernelProbe.error ? { kernelError: kernelProbe.error } : {}),
      threadpool: true,
      uring: uringErrno === 0,
      ...(uringErrno ? { uringError: errnoName(uringErrno) } : {}),
    },
    memory: ['anonymous', 'file', 'buffer'],
    hugepages: { size: addon.hugePageSize(), free: hugePagesFree() },
  };
}
