// `aioring doctor [--path DIR|FILE]`: can this machine run the rings, and
// if kernel AIO does not work, why. Every fact comes from the running
// system (io_setup itself, /proc, /sys, statfs), not from guesses.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AioError, aioMaxNr, alignedBuffer, features, hugePageSize, kernelSetup, legacyNr, LegacyRing, pageSize, possibleCpus, setup } from '../../src/index';
import { asInputError, InputError, printJson, printLines } from './support';

export interface SizingRow {
  /** io_setup(n) */
  n: number;
  /** the nr the sizing rule predicts */
  predictedNr: number | null;
  /** the nr of the ring the kernel really mapped (null: io_setup failed) */
  kernelNr: number | null;
  /** requests the context takes: nr - 1 */
  requests: number | null;
  match: boolean;
}

export interface Mount {
  mount: string;
  fstype: string;
  sizeBytes: number;
  freeBytes: number;
}

export interface DoctorReport {
  kernel: { release: string; version: string };
  kernelAio: { works: boolean; error?: string; why?: string; aioMaxNr: number; aioNr: number | null; seccomp: string };
  /** works: the uring backend can be set up here (io_uring_setup itself, through this build) */
  ioUring: { disabled: number | null; verdict: string; works: boolean; error?: string; why?: string };
  cpus: { possible: number; online: number };
  pageSize: number;
  sizing: SizingRow[];
  hugepages: { sizeBytes: number; total: number; free: number; hugetlbfs: string[] };
  shm: { devShm: Mount | null; tmpfs: Mount[] };
  direct: { path: string; fstype: string; supported: boolean; error?: string };
  backend: { name: string; kernel: boolean; threads: number; uring: boolean; reason: string };
  findings: string[];
}

const SIZING_N = [1, 4, 128, 1024];

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function mounts(): { mount: string; fstype: string }[] {
  return (readText('/proc/mounts') ?? '')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f.length >= 3)
    .map((f) => ({ mount: f[1].replace(/\\040/g, ' '), fstype: f[2] }));
}

function statMount(m: { mount: string; fstype: string }): Mount {
  try {
    const s = fs.statfsSync(m.mount);
    return { ...m, sizeBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  } catch {
    return { ...m, sizeBytes: 0, freeBytes: 0 };
  }
}

/** The filesystem a path lives on: the longest mount point that prefixes it. */
function fstypeOf(p: string): string {
  let best = { mount: '', fstype: 'unknown' };
  for (const m of mounts()) {
    const inside = p === m.mount || p.startsWith(m.mount.endsWith('/') ? m.mount : `${m.mount}/`);
    if (inside && m.mount.length >= best.mount.length) best = m;
  }
  return best.fstype;
}

function seccompMode(): string {
  const mode = /Seccomp:\s+(\d)/.exec(readText('/proc/self/status') ?? '')?.[1];
  return mode === '2' ? 'filter' : mode === '1' ? 'strict' : mode === '0' ? 'none' : 'unknown';
}

/** Why io_setup fails, in words, from its errno and the system's state. */
function explainIoSetup(code: string, maxNr: number, nr: number | null, seccomp: string): string {
  switch (code) {
    case 'EAGAIN':
      return `the system-wide limit is reached: aio-nr ${nr} + the request would pass aio-max-nr ${maxNr} (raise /proc/sys/fs/aio-max-nr)`;
    case 'EPERM':
      return seccomp === 'filter'
        ? 'a seccomp filter denies io_setup (container runtimes do this); allow io_setup/io_submit/io_getevents/io_destroy in the profile'
        : 'io_setup is not permitted here (an LSM or seccomp policy)';
    case 'ENOSYS':
      return seccomp === 'filter'
        ? 'a seccomp filter answers ENOSYS for io_setup (or the kernel has no AIO); check the container profile'
        : 'the kernel was built without AIO (CONFIG_AIO=n) or /proc/sys/fs/aio-max-nr is 0';
    case 'ENOMEM':
      return 'the kernel could not allocate the ring (memory, or the memlock limit)';
    default:
      return `io_setup failed with ${code}`;
  }
}

/** Why io_uring_setup fails, in words, from its errno and the system's state. */
function explainIoUring(code: string, disabled: number | null, seccomp: string): string {
  switch (code) {
    case 'EPERM':
      if (disabled === 2) return 'io_uring is disabled for everyone (/proc/sys/kernel/io_uring_disabled is 2)';
      if (disabled === 1) return 'io_uring is restricted to CAP_SYS_ADMIN and the io_uring_group (/proc/sys/kernel/io_uring_disabled is 1)';
      return seccomp === 'filter'
        ? 'a seccomp filter denies io_uring_setup (container runtimes\' default profiles do); allow io_uring_setup/io_uring_enter/io_uring_register'
        : 'io_uring_setup is not permitted here (an LSM or seccomp policy)';
    case 'ENOSYS':
      return seccomp === 'filter'
        ? 'a seccomp filter answers ENOSYS for io_uring_setup, or this build has no liburing'
        : 'this build has no liburing (liburing-dev absent when it was built), or the kernel has no io_uring (CONFIG_IO_URING=n)';
    case 'ENOMEM':
      return 'the kernel could not allocate the ring (memory, or the memlock limit)';
    default:
      return `io_uring_setup failed with ${code}`;
  }
}

function probeSizing(): { rows: SizingRow[]; error?: string } {
  const rows: SizingRow[] = [];
  let error: string | undefined;
  for (const n of SIZING_N) {
    let predictedNr: number | null = null;
    try {
      predictedNr = legacyNr(n);
    } catch {
      predictedNr = null;
    }
    let kernelNr: number | null = null;
    if (error === undefined) {
      try {
        const ctx = kernelSetup(n);
        try {
          kernelNr = new LegacyRing(ctx.ring).nr;
        } finally {
          ctx.destroy();
        }
      } catch (e) {
        if (!(e instanceof AioError)) throw e;
        error = e.code;
      }
    }
    rows.push({ n, predictedNr, kernelNr, requests: kernelNr === null ? null : kernelNr - 1, match: kernelNr !== null && kernelNr === predictedNr });
  }
  return { rows, error };
}

function probeDirect(p: string): DoctorReport['direct'] {
  const abs = path.resolve(p);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (e) {
    return asInputError(e, p);
  }
  // opening a FIFO or a device would block, or probe the wrong thing
  if (!st.isDirectory() && !st.isFile()) throw new InputError('EINVAL', 'open', `${p}: not a directory or a regular file`);
  const fstype = fstypeOf(fs.realpathSync(abs));
  const buf = alignedBuffer(4096);
  const flags = fs.constants.O_DIRECT;
  let probe: string | undefined;
  try {
    let fd: number;
    if (st.isDirectory()) {
      probe = path.join(abs, `.aioring-doctor-${process.pid}`);
      fd = fs.openSync(probe, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | flags, 0o600);
      try {
        fs.writeSync(fd, buf, 0, 4096, 0);
      } finally {
        fs.closeSync(fd);
      }
    } else {
      fd = fs.openSync(abs, fs.constants.O_RDONLY | flags);
      try {
        fs.readSync(fd, buf, 0, 4096, 0);
      } finally {
        fs.closeSync(fd);
      }
    }
    return { path: abs, fstype, supported: true };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    if (code === 'EACCES' || code === 'EROFS') return asInputError(e, p);
    return { path: abs, fstype, supported: false, error: code };
  } finally {
    if (probe) fs.rmSync(probe, { force: true });
  }
}

function chosenBackend(): DoctorReport['backend'] {
  const ctx = setup(8);
  try {
    const b = ctx.backend;
    return { name: b.name, kernel: b.kernel, threads: b.threads, uring: b.uring, reason: b.reason };
  } finally {
    ctx.destroy();
  }
}

export function doctor(directPath: string): DoctorReport {
  const maxNr = aioMaxNr();
  const nrText = readText('/proc/sys/fs/aio-nr');
  const aioNr = nrText === null ? null : Number(nrText);
  const seccomp = seccompMode();
  const sizing = probeSizing();
  const disabledText = readText('/proc/sys/kernel/io_uring_disabled');
  const disabled = disabledText === null ? null : Number(disabledText);
  const ioUringVerdict =
    disabled === null
      ? 'enabled unless the kernel lacks it (no io_uring_disabled sysctl: kernel before 6.6)'
      : ['enabled', 'restricted to the io_uring_group and CAP_SYS_ADMIN', 'disabled'][disabled] ?? `io_uring_disabled ${disabled}`;
  const { uring, uringError } = features().backends;
  const meminfo = readText('/proc/meminfo') ?? '';
  const all = mounts();
  const shm = all.find((m) => m.mount === '/dev/shm');
  const report: DoctorReport = {
    kernel: { release: os.release(), version: os.version() },
    kernelAio: {
      works: sizing.error === undefined,
      ...(sizing.error ? { error: sizing.error, why: explainIoSetup(sizing.error, maxNr, aioNr, seccomp) } : {}),
      aioMaxNr: maxNr,
      aioNr,
      seccomp,
    },
    ioUring: {
      disabled,
      verdict: ioUringVerdict,
      works: uring,
      ...(uringError ? { error: uringError, why: explainIoUring(uringError, disabled, seccomp) } : {}),
    },
    cpus: { possible: possibleCpus(), online: os.cpus().length },
    pageSize: pageSize(),
    sizing: sizing.rows,
    hugepages: {
      sizeBytes: hugePageSize(),
      total: Number(/HugePages_Total:\s+(\d+)/.exec(meminfo)?.[1] ?? 0),
      free: Number(/HugePages_Free:\s+(\d+)/.exec(meminfo)?.[1] ?? 0),
      hugetlbfs: all.filter((m) => m.fstype === 'hugetlbfs').map((m) => m.mount),
    },
    shm: {
      devShm: shm ? statMount(shm) : null,
      tmpfs: [...new Set(all.filter((m) => m.fstype === 'tmpfs').map((m) => m.mount))].map((mount) => statMount({ mount, fstype: 'tmpfs' })),
    },
    direct: probeDirect(directPath),
    backend: chosenBackend(),
    findings: [],
  };
  if (!report.kernelAio.works) report.findings.push(`kernel AIO does not work: ${report.kernelAio.why}`);
  for (const r of report.sizing) {
    if (r.kernelNr !== null && !r.match) report.findings.push(`io_setup(${r.n}) mapped nr ${r.kernelNr}, the sizing rule says ${r.predictedNr}`);
  }
  if (!report.direct.supported) report.findings.push(`O_DIRECT does not work on ${report.direct.path} (${report.direct.error})`);
  return report;
}

const mib = (b: number): string => `${(b / (1 << 20)).toFixed(0)} MiB`;

export function formatDoctor(r: DoctorReport): string[] {
  const k = r.kernelAio;
  const lines = [
    `kernel          Linux ${r.kernel.release} (${r.kernel.version})`,
    `kernel AIO      ${k.works ? 'io_setup works' : `io_setup FAILS with ${k.error}: ${k.why}`}`,
    `                aio-nr ${k.aioNr ?? 'unknown'} of aio-max-nr ${k.aioMaxNr}; seccomp ${k.seccomp}`,
    `io_uring        ${r.ioUring.verdict}; ${
      r.ioUring.works
        ? `backend 'uring' works; ${r.backend.uring ? 'auto chooses it' : 'auto does not choose it (AIORING_AUTO_URING=0)'}`
        : `backend 'uring' unavailable: ${r.ioUring.error}: ${r.ioUring.why}; auto keeps kernel AIO and the pool`
    }`,
    `CPUs            ${r.cpus.possible} possible, ${r.cpus.online} online; page size ${r.pageSize}`,
    'io_setup(n)     n     rule nr  kernel nr  requests',
  ];
  for (const s of r.sizing) {
    lines.push(
      `                ${String(s.n).padEnd(5)} ${String(s.predictedNr ?? '-').padStart(7)}  ${String(s.kernelNr ?? '-').padStart(9)}  ${String(
        s.requests ?? '-',
      ).padStart(8)}${s.kernelNr === null ? '' : s.match ? '  match' : '  MISMATCH'}`,
    );
  }
  const h = r.hugepages;
  lines.push(
    `huge pages      ${h.sizeBytes ? `${h.sizeBytes / 1024} KiB` : 'none'}: ${h.total} reserved, ${h.free} free; hugetlbfs at ${h.hugetlbfs.join(', ') || 'none'}`,
    `/dev/shm        ${r.shm.devShm ? `${r.shm.devShm.fstype}, ${mib(r.shm.devShm.freeBytes)} free of ${mib(r.shm.devShm.sizeBytes)}` : 'absent'}`,
    `tmpfs mounts    ${r.shm.tmpfs.map((m) => m.mount).join(', ') || 'none'}`,
    `O_DIRECT        ${r.direct.path} (${r.direct.fstype}): ${r.direct.supported ? 'works' : `does not work (${r.direct.error})`}`,
    `backend         ${r.backend.name}: ${r.backend.reason}`,
  );
  lines.push(r.findings.length === 0 ? 'verdict         fine' : `verdict         ${r.findings.length} finding(s):`);
  for (const f of r.findings) lines.push(`                - ${f}`);
  return lines;
}

export function runDoctor(directPath: string, json: boolean): number {
  const r = doctor(directPath);
  if (json) printJson(r);
  else printLines(formatDoctor(r));
  return r.findings.length === 0 ? 0 : 1;
}
