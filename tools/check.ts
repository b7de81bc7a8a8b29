// `aioring check`: what this machine offers the rings, and whether the
// kernel's ring matches the sizing rule here.
import * as fs from 'node:fs';
import { AioError } from '../src/errors';
import { kernelSetup } from '../src/kernel';
import { LegacyRing } from '../src/legacyRing';
import { hugePageSize } from '../src/memory';
import { aioMaxNr, legacyNr, possibleCpus } from '../src/sizing';
import { addon } from '../src/native';

interface KernelAioReport {
  available: boolean;
  error?: string;
  /** io_setup(4): the nr the kernel mapped vs the one legacyNr predicts */
  nr?: number;
  predictedNr?: number;
}

function readNumber(file: string): number | null {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return null;
  }
}

function probeKernelAio(): KernelAioReport {
  try {
    const ctx = kernelSetup(4);
    try {
      const ring = new LegacyRing(ctx.ring);
      return { available: true, nr: ring.nr, predictedNr: legacyNr(4) };
    } finally {
      ctx.destroy();
    }
  } catch (e) {
    if (e instanceof AioError) return { available: false, error: e.code };
    throw e;
  }
}

function hugetlbfsMounts(): string[] {
  try {
    return fs
      .readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[2] === 'hugetlbfs')
      .map((f) => f[1]);
  } catch {
    return [];
  }
}

export function runCheck(json: boolean): void {
  const meminfo = fs.readFileSync('/proc/meminfo', 'utf8');
  const freeHuge = Number(/HugePages_Free:\s+(\d+)/.exec(meminfo)?.[1] ?? 0);
  const report = {
    possibleCpus: possibleCpus(),
    pageSize: addon.systemInfo().pageSize,
    aioMaxNr: aioMaxNr(),
    aioNr: readNumber('/proc/sys/fs/aio-nr'),
    kernelAio: probeKernelAio(),
    memory: {
      anonymous: true,
      memfd: true,
      devShm: fs.existsSync('/dev/shm'),
      hugePageSize: hugePageSize(),
      hugePagesFree: freeHuge,
      hugetlbfs: hugetlbfsMounts(),
    },
    legacyNr: Object.fromEntries([1, 4, 128, 1024].map((n) => [n, legacyNr(n)])),
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  const k = report.kernelAio;
  const lines = [
    `possible CPUs      ${report.possibleCpus}`,
    `page size          ${report.pageSize}`,
    `aio-max-nr         ${report.aioMaxNr} (in use: ${report.aioNr ?? 'unknown'})`,
    k.available
      ? `kernel AIO         available; io_setup(4) mapped nr ${k.nr}, sizing rule says ${k.predictedNr}` +
        (k.nr === k.predictedNr ? ' (match)' : ' (MISMATCH)')
      : `kernel AIO         unavailable (${k.error}); the thread pool will serve`,
    `/dev/shm           ${report.memory.devShm ? 'present' : 'absent'}`,
    `huge pages         ${report.memory.hugePageSize / 1024} KiB, ${freeHuge} free, hugetlbfs at ${
      report.memory.hugetlbfs.join(', ') || 'none'
    }`,
    `legacy nr          ${Object.entries(report.legacyNr)
      .map(([n, nr]) => `io_setup(${n}) -> ${nr}`)
      .join(', ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
