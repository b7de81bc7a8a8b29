// Memory the caller chooses for a ring (flaw F7): anonymous pages, a file on
// tmpfs, /dev/shm or hugetlbfs, or a memfd, mapped shared and handed over as
// an ArrayBuffer with no copy. Callers may also bring their own
// ArrayBuffer, SharedArrayBuffer or Buffer and format a ring in it directly.
import { readFileSync } from 'node:fs';
import { invalid } from './errors';
import { AIO_RING_MAGIC, AIORING_V2_MAGIC, AIORING_V2_MAX_ENTRIES } from './abi';
import { AioRing } from './layout';
import { LegacyRing } from './legacyRing';
import { addon } from './native';
import { V2FormatOptions, V2Ring, v2RingBytes } from './v2Ring';

export type MemorySpec =
  | { kind: 'anonymous'; huge?: boolean }
  | { kind: 'memfd'; huge?: boolean }
  /** create path with O_EXCL|O_NOFOLLOW, mode 0600 (tmpfs, /dev/shm, hugetlbfs) */
  | { kind: 'file'; path: string };

export interface RingMapping {
  /** the mapping; after release() the getter throws EINVAL and earlier views read as empty */
  readonly buffer: ArrayBuffer;
  /** mapped bytes (rounded to the page or huge page size) */
  readonly length: number;
  /** the file or memfd descriptor, -1 for anonymous memory */
  readonly fd: number;
  /** unmap now; views over the buffer read as empty afterwards */
  release(): void;
}

/** Map size bytes of the memory spec describes. */
export function mapRingMemory(spec: MemorySpec, size: number): RingMapping {
  if (!Number.isSafeInteger(size) || size <= 0) throw invalid('size must be a positive integer', 'size');
  switch (spec.kind) {
    case 'anonymous':
      return new addon.RingMemory('anonymous', size, undefined, spec.huge === true);
    case 'memfd':
      return new addon.RingMemory('memfd', size, undefined, spec.huge === true);
    case 'file':
      return new addon.RingMemory('create', size, spec.path);
    default:
      throw invalid('memory kind is anonymous, memfd or file', 'kind');
  }
}

/** Map an existing ring file whole (O_NOFOLLOW); the caller validates it. */
export function mapRingFile(path: string): RingMapping {
  return new addon.RingMemory('attach', 0, path);
}

export interface MappedV2Ring {
  ring: V2Ring;
  mapping: RingMapping;
}

/** A fresh v2 ring of entries in memory of the spec's kind. */
export function createV2Ring(
  entries: number,
  memory: MemorySpec = { kind: 'anonymous' },
  options: Omit<V2FormatOptions, 'byteOffset' | 'byteLength'> = {},
): MappedV2Ring {
  if (!Number.isInteger(entries) || entries < 1 || entries > AIORING_V2_MAX_ENTRIES || (entries & (entries - 1)) !== 0) {
    throw invalid('entries must be a power of two up to 2^24', 'entries');
  }
  const mapping = mapRingMemory(memory, v2RingBytes(entries));
  try {
    return { ring: V2Ring.format(mapping.buffer, entries, options), mapping };
  } catch (e) {
    mapping.release();
    throw e;
  }
}

export interface AttachedRing {
  ring: LegacyRing | V2Ring;
  layout: 'legacy' | 'v2';
  mapping: RingMapping;
}

/**
 * Attach to a ring file of either layout, chosen by its magic; the header
 * is validated before anything else reads it.
 */
export function attachRingFile(path: string): AttachedRing {
  const mapping = mapRingFile(path);
  try {
    const u32 = new Uint32Array(mapping.buffer, 0, Math.floor(Math.min(mapping.length, AioRing.size) / 4));
    const magic = u32.length > AioRing.magic / 4 ? u32[AioRing.magic / 4] : undefined;
    if (magic === AIORING_V2_MAGIC) return { ring: new V2Ring(mapping.buffer), layout: 'v2', mapping };
    if (magic === AIO_RING_MAGIC) return { ring: new LegacyRing(mapping.buffer), layout: 'legacy', mapping };
    throw invalid(`${path} holds no ring: bad magic`, 'magic');
  } catch (e) {
    mapping.release();
    throw e;
  }
}

/** Default huge page size in bytes, 0 when the system has none. */
export function hugePageSize(): number {
  return addon.hugePageSize();
}

/** Free huge pages of the default size (/proc/meminfo HugePages_Free), 0 when unreadable. */
export function hugePagesFree(): number {
  try {
    return Number(/HugePages_Free:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
