// 07 ring memory the caller supplies (F7): anonymous, memfd, files on tmpfs,
// /dev/shm and hugetlbfs, and the caller's own buffers.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AioError } from '../src/errors';
import { EventBatch } from '../src/events';
import { LegacyRing } from '../src/legacyRing';
import { attachRingFile, createV2Ring, hugePageSize, mapRingMemory } from '../src/memory';
import { V2Ring, v2RingBytes } from '../src/v2Ring';
import { hugeAvailable, hugetlbfsMount, HUGETLBFS_MAGIC, tempDir, TMPFS_MAGIC } from './helpers';

function roundTrip(ring: V2Ring | LegacyRing, n: number): number[] {
  for (let i = 0; i < n; i++) expect(ring.produce({ data: 500 + i, res: i })).toBe(true);
  const batch = new EventBatch(n);
  ring.reap(batch);
  return Array.from({ length: batch.length }, (_, i) => batch.data(i));
}

const expected = Array.from({ length: 10 }, (_, i) => 500 + i);

describe('07 ring memory', () => {
  test('anonymous shared mapping, page-rounded; release detaches the buffer', () => {
    const { ring, mapping } = createV2Ring(256);
    expect(mapping.length % 4096).toBe(0);
    expect(mapping.length).toBeGreaterThanOrEqual(v2RingBytes(256));
    expect(mapping.fd).toBe(-1);
    expect(roundTrip(ring, 10)).toEqual(expected);
    const buf = mapping.buffer;
    mapping.release();
    expect(buf.byteLength).toBe(0);
    mapping.release();
  });

  test('memfd', () => {
    const { ring, mapping } = createV2Ring(64, { kind: 'memfd' });
    expect(mapping.fd).toBeGreaterThanOrEqual(0);
    expect(fs.readlinkSync(`/proc/self/fd/${mapping.fd}`)).toMatch(/^\/memfd:aioring/);
    expect(roundTrip(ring, 10)).toEqual(expected);
    mapping.release();
  });

  test('a file in /dev/shm (tmpfs): mode 0600, O_EXCL, O_NOFOLLOW, and another process writes into it', () => {
    const dir = tempDir('/dev/shm');
    expect(fs.statfsSync(dir).type).toBe(TMPFS_MAGIC);
    const file = path.join(dir, 'ring');
    const { ring, mapping } = createV2Ring(128, { kind: 'file', path: file });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(() => mapRingMemory({ kind: 'file', path: file }, 4096)).toThrow(
      expect.objectContaining({ code: 'EEXIST', syscall: 'open' }),
    );
    fs.symlinkSync(file, path.join(dir, 'link'));
    expect(() => mapRingMemory({ kind: 'file', path: path.join(dir, 'link') }, 4096)).toThrow(
      expect.objectContaining({ code: 'EEXIST' }),
    );
    expect(() => attachRingFile(path.join(dir, 'link'))).toThrow(expect.objectContaining({ code: 'ELOOP' }));

    execFileSync(process.execPath, [path.join(__dirname, 'workers', 'produceInto.js'), file, '7000', '100']);
    const batch = new EventBatch(128);
    expect(ring.reap(batch)).toBe(100);
    expect(Array.from({ length: 100 }, (_, i) => batch.data(i))).toEqual(Array.from({ length: 100 }, (_, i) => 7000 + i));
    mapping.release();

    const again = attachRingFile(file);
    expect(again.layout).toBe('v2');
    expect((again.ring as V2Ring).count()).toBe(0);
    again.mapping.release();
  });

  test('a legacy ring in a file on a fresh tmpfs and on the temp directory filesystem', () => {
    const dirs = [tempDir()];
    const mnt = tempDir();
    // root can mount a tmpfs of its own; others have /dev/shm, tested above
    const mounted = process.getuid?.() === 0;
    if (mounted) {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'aioring-test', mnt]);
      expect(fs.statfsSync(mnt).type).toBe(TMPFS_MAGIC);
      dirs.push(mnt);
    }
    try {
      checkLegacyFiles(dirs);
    } finally {
      if (mounted) execFileSync('umount', [mnt]);
    }
  });

  function checkLegacyFiles(dirs: string[]): void {
    for (const dir of dirs) {
      const file = path.join(dir, 'legacy-ring');
      const mapping = mapRingMemory({ kind: 'file', path: file }, 32 + 127 * 32);
      LegacyRing.format(mapping.buffer, 127);
      mapping.release();
      const attached = attachRingFile(file);
      expect(attached.layout).toBe('legacy');
      expect(roundTrip(attached.ring, 10)).toEqual(expected);
      attached.mapping.release();
    }
  }

  (hugeAvailable('hugetlbfs ring memory') ? test : test.skip)('hugetlbfs file and anonymous huge pages', () => {
    const size = hugePageSize();
    const file = path.join(hugetlbfsMount()!, `aioring-test-${process.pid}`);
    try {
      const { ring, mapping } = createV2Ring(1024, { kind: 'file', path: file });
      expect(fs.statfsSync(file).type).toBe(HUGETLBFS_MAGIC);
      expect(mapping.length % size).toBe(0);
      expect(roundTrip(ring, 10)).toEqual(expected);
      mapping.release();
      const attached = attachRingFile(file);
      expect(attached.layout).toBe('v2');
      attached.mapping.release();
    } finally {
      fs.rmSync(file, { force: true });
    }
    const anon = createV2Ring(1024, { kind: 'anonymous', huge: true });
    expect(anon.mapping.length).toBe(size);
    expect(roundTrip(anon.ring, 10)).toEqual(expected);
    anon.mapping.release();
  });

  test.each([
    ['ArrayBuffer', () => new ArrayBuffer(v2RingBytes(32))],
    ['SharedArrayBuffer', () => new SharedArrayBuffer(v2RingBytes(32))],
    ['Buffer', () => Buffer.alloc(v2RingBytes(32))],
  ])("the caller's own %s", (_name, make) => {
    const mem = make();
    expect(roundTrip(V2Ring.format(mem, 32), 10)).toEqual(expected);
    expect(roundTrip(new V2Ring(mem), 10)).toEqual(expected);
  });

  test("a ring placed inside the caller's buffer at an offset, and misplaced ones", () => {
    const buf = new ArrayBuffer(8192);
    const ring = V2Ring.format(buf, 16, { byteOffset: 1024, byteLength: v2RingBytes(16) });
    expect(roundTrip(ring, 10)).toEqual(expected);
    expect(() => V2Ring.format(buf, 16, { byteOffset: 4 })).toThrow(expect.objectContaining({ field: 'byteOffset' }));
    expect(() => V2Ring.format(buf, 16, { byteOffset: 8000 })).toThrow(expect.objectContaining({ field: 'entries' }));
    expect(() => V2Ring.format(buf, 16, { byteOffset: 9000 })).toThrow(expect.objectContaining({ field: 'byteOffset' }));
    expect(() => V2Ring.format(new Uint8Array(buf, 3, 4000), 16)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => V2Ring.format('x' as unknown as ArrayBuffer, 16)).toThrow(AioError);
  });

  test('attaching validates first: garbage, empty and truncated files are typed errors', () => {
    const dir = tempDir('/dev/shm');
    const garbage = path.join(dir, 'garbage');
    fs.writeFileSync(garbage, Buffer.alloc(4096, 0x5a));
    expect(() => attachRingFile(garbage)).toThrow(expect.objectContaining({ code: 'EINVAL', field: 'magic' }));
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '');
    expect(() => attachRingFile(empty)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const { mapping } = createV2Ring(256, { kind: 'file', path: path.join(dir, 'full') });
    mapping.release();
    fs.truncateSync(path.join(dir, 'full'), 4096);
    expect(() => attachRingFile(path.join(dir, 'full'))).toThrow(expect.objectContaining({ code: 'EINVAL', field: 'size' }));
    expect(() => attachRingFile(path.join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => mapRingMemory({ kind: 'anonymous' }, 0)).toThrow(expect.objectContaining({ field: 'size' }));
  });
});
