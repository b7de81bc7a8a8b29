// The kernel's ring sizing (fs/aio.c ioctx_alloc + aio_setup_ring).
import * as os from 'node:os';
import { AIORING_LEGACY_MAX_EVENTS_BYTES } from './abi';
import { AioError, invalid } from './errors';
import { AioRing, IoEvent } from './layout';
import { addon } from './native';

/** Largest doubled request count the kernel accepts. */
const MAX_DOUBLED_EVENTS = AIORING_LEGACY_MAX_EVENTS_BYTES / IoEvent.size;

/** num_possible_cpus(), as the kernel counts them for ring sizing. */
export function possibleCpus(): number {
  return addon.systemInfo().possibleCpus;
}

/** The page size the kernel rounds a legacy ring up to. */
export function pageSize(): number {
  return addon.systemInfo().pageSize;
}

/** /proc/sys/fs/aio-max-nr (0 when unreadable). */
export function aioMaxNr(): number {
  return addon.systemInfo().aioMaxNr;
}

export interface LegacyNrOptions {
  /** possible CPUs; default: this machine's */
  cpus?: number;
  /** page size in bytes; default: this machine's */
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
  const pageSize = options.pageSize ?? addon.systemInfo().pageSize;
  const maxNr = options.aioMaxNr ?? aioMaxNr();
  if (!Number.isInteger(nrEvents) || nrEvents < 0 || nrEvents > 0xffff_ffff) {
    throw invalid('nrEvents must be a u32', 'nrEvents', 'io_setup');
  }
  if (!Number.isInteger(cpus) || cpus < 1) throw invalid('cpus must be >= 1', 'cpus');
  if (!Number.isInteger(pageSize) || pageSize < AioRing.size || (pageSize & (pageSize - 1)) !== 0) {
    throw invalid('pageSize must be a power of two >= 32', 'pageSize');
  }
  if (nrEvents === 0) throw invalid('nrEvents must be > 0', 'nrEvents', 'io_setup');
  // Up to half the slots may sit in other CPUs' counters: double, in the
  // kernel's unsigned int, which wraps from 2^31 on (aio-max-nr then refuses).
  const doubled = (2 * Math.max(nrEvents, 4 * cpus)) >>> 0;
  if (doubled > MAX_DOUBLED_EVENTS) throw invalid('nrEvents too large', 'nrEvents', 'io_setup');
  if (doubled === 0 || (maxNr > 0 && nrEvents > maxNr)) {
    throw new AioError(os.constants.errno.EAGAIN, 'io_setup', `nrEvents exceeds aio-max-nr (${maxNr})`);
  }
  // "1 is required, 2 for good luck", then rounded up to whole pages.
  const bytes = AioRing.size + (doubled + 2) * IoEvent.size;
  const pages = Math.ceil(bytes / pageSize);
  return Math.floor((pages * pageSize - AioRing.size) / IoEvent.size);
}

/** Bytes the kernel maps for a legacy ring of nr entries. */
export function legacyRingBytes(nr: number, pageSize = addon.systemInfo().pageSize): number {
  return Math.ceil((AioRing.size + nr * IoEvent.size) / pageSize) * pageSize;
}
