// O_DIRECT's rules, checked before a request is made: the buffer's address
// a multiple of the file's memory alignment, the length and the file
// position of its offset alignment, so a misaligned call fails with an error
// naming which one instead of the kernel's bare EINVAL at completion. Both
// are statx's STATX_DIOALIGN where the kernel (6.1+) and the filesystem
// give it, else the logical block size of the device under the file.
import * as fs from 'node:fs';
import { AioError } from '../errors';
import { addon } from '../native';

const EINVAL = 22;
/** when the device cannot be found (no block device under the filesystem): the smallest sector there is */
const FALLBACK_BLOCK = 512;

/** st_dev's major and minor numbers, as the kernel's MAJOR()/MINOR() split them for userspace. */
function devNumbers(dev: bigint): [bigint, bigint] {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return [major, minor];
}

/**
 * The logical block size of the device under fd's file: its
 * queue/logical_block_size in sysfs (a partition's is its disk's).
 */
export async function logicalBlockSize(fd: number): Promise<number> {
  const st = await new Promise<fs.BigIntStats>((resolve, reject) => fs.fstat(fd, { bigint: true }, (e, s) => (e ? reject(e) : resolve(s))));
  const [major, minor] = devNumbers(st.dev);
  const base = `/sys/dev/block/${major}:${minor}`;
  for (const file of [`${base}/queue/logical_block_size`, `${base}/../queue/logical_block_size`]) {
    const text = await fs.promises.readFile(file, 'utf8').catch(() => '');
    const n = Number.parseInt(text, 10);
    if (n > 0 && (n & (n - 1)) === 0) return n;
  }
  return FALLBACK_BLOCK;
}

/** What O_DIRECT asks of a file's requests, and who said so. */
export interface DirectAlignment {
  /** of a buffer's address */
  memory: number;
  /** of a file position and a length */
  offset: number;
  source: 'statx' | 'block size';
}

/** fd's O_DIRECT alignment: statx's STATX_DIOALIGN, else the logical block size for both. */
export async function directAlignment(fd: number): Promise<DirectAlignment> {
  const dio = addon.dioAlignment(fd);
  if (dio !== null) return { memory: dio[0], offset: dio[1], source: 'statx' };
  const block = await logicalBlockSize(fd);
  return { memory: block, offset: block, source: 'block size' };
}

function misaligned(what: 'buffer' | 'length' | 'position', detail: string, direct: DirectAlignment, syscall: string, path: string): AioError {
  const align = what === 'buffer' ? direct.memory : direct.offset;
  const rule = direct.source === 'block size' ? "the file's logical block size" : `the file's direct I/O ${what === 'buffer' ? 'memory' : 'offset'} alignment`;
  const e = new AioError(EINVAL, syscall, `O_DIRECT needs the ${what} aligned to ${align} bytes (${rule}): ${detail}`, what);
  return Object.assign(e, { path });
}

/** The error for a request that breaks O_DIRECT's alignment, or undefined. */
export function checkAligned(
  direct: DirectAlignment,
  data: ArrayBufferView | ArrayBufferView[],
  offset: number,
  length: number,
  position: number | bigint,
  syscall: string,
  path: string,
): AioError | undefined {
  const views = Array.isArray(data) ? data : [data];
  for (let i = 0; i < views.length; i++) {
    const v = views[i];
    const bytes = v instanceof DataView ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : v;
    const at = (addon.addressLowBits(bytes) + (Array.isArray(data) ? 0 : offset)) % direct.memory;
    if (at !== 0) return misaligned('buffer', `its memory starts ${at} bytes past a boundary`, direct, syscall, path);
    if (Array.isArray(data) && v.byteLength % direct.offset !== 0) {
      return misaligned('length', `buffers[${i}] is ${v.byteLength} bytes`, direct, syscall, path);
    }
  }
  if (length % direct.offset !== 0) return misaligned('length', `${length} bytes`, direct, syscall, path);
  if (BigInt(position) % BigInt(direct.offset) !== 0n) return misaligned('position', `${position}`, direct, syscall, path);
  return undefined;
}
