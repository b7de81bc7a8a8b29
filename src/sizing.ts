// The kernel's ring sizing (fs/aio.c ioctx_alloc + aio_setup_ring).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { AioError, invalid } from './errors';
import { AioRing, IoEvent } from './layout';

/** Largest doubled request count the kernel accepts (0x10000000 / 32). */
const MAX_DOUBLED_EVENTS = 0x10000000 / IoEvent.size;

/** num_possible_cpus(), from /sys/devices/system/cpu/possible ("0-3,8-11"). */
export function possibleCpus(): number {
  try {
    const text = fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    let count = 0;
    for (const range of text.split(',')) {
      const [lo, hi = lo] = range.split('-').map(Number);
      if (Number.isInteger(lo) && Number.isInteger(hi) && hi >= lo) count += hi - lo + 1;
    }
    if (count > 0) return count;
  } catch {
    // fall through to the configured count
  }
  return Math.max(1, os.cpus().length);
}

export function aioMaxNr(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/fs/aio-max-nr', 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

export interface LegacyNrOptions {
  /** possible CPUs; default: this machine's */
  cpus?: number;
  /** page size in bytes; default 4096 */
  pageSize?: number;
  /** the aio-max-nr limit; default: this machine's, 0 for none */
  aioMaxNr?: number;
}

/**
 * nr of the ring that io_setup(nrEvents) maps. Throws AioError EINVAL for
 * nrEvents 0 or too large once doubled, EAGAIN past aio-max-nr.
 */
export function legacyNr(nrEvents: number, options: LegacyNrOptions = {}): number {
  const cpus = options.cpus ?? possibleCpus();
  const pageSize = options.pageSize ?? 4096;
  const maxNr = options.aioMaxNr ?? aioMaxNr();
  if (!Number.isInteger(nrEvents) || nrEvents < 0 || nrEvents > 0xffff_ffff) {
    throw invalid('nrEvents must be a u32', 'nrEvents', 'io_setup');
  }
  if (!Number.isInteger(cpus) || cpus < 1) throw invalid('cpus must be >= 1', 'cpus');
  if (!Number.isInteger(pageSize) || pageSize < AioRing.size || (pageSize & (pageSize - 1)) !== 0) {
    throw invalid('pageSize must be a power of two >= 32', 'pageSize');
  }
  if (nrEvents === 0) throw invalid('nrEvents must be > 0', 'nrEvents', 'io_setup');
  // Up to half the slots may sit in other CPUs' counters: double.
  const doubled = 2 * Math.max(nrEvents, 4 * cpus);
  if (doubled > MAX_DOUBLED_EVENTS) throw invalid('nrEvents too large', 'nrEvents', 'io_setup');
  if (maxNr > 0 && nrEvents > maxNr) {
    throw new AioError(os.constants.errno.EAGAIN, 'io_setup', `nrEvents exceeds aio-max-nr (${maxNr})`);
  }
  // "1 is required, 2 for good luck", then rounded up to whole pages.
  const bytes = AioRing.size + (doubled + 2) * IoEvent.size;
  const pages = Math.ceil(bytes / pageSize);
  return Math.floor((pages * pageSize - AioRing.size) / IoEvent.size);
}

/** Bytes the kernel maps for a legacy ring of nr entries. */
export function legacyRingBytes(nr: number, pageSize = 4096): number {
  return Math.ceil((AioRing.size + nr * IoEvent.size) / pageSize) * pageSize;
}
