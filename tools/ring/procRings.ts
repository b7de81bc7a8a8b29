// The kernel AIO rings of live processes: each io_setup context is a
// mapping named /[aio] in /proc/PID/maps whose start is the context id;
// its bytes are read through /proc/PID/mem (ptrace access, like a
// debugger) and decoded with the same decoder as a ring file.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { CommandFailure, InputError } from '../cli/support';
import { decodeRing, RingReport } from './ringReport';

export interface LiveRing {
  /** the context id: the mapping's start address, in hex */
  context: string;
  bytes: number;
  nr: number;
  head: number;
  tail: number;
  pending: number | null;
  valid: boolean;
  report: RingReport;
}

export interface ProcessRings {
  pid: number;
  comm: string;
  uid: number;
  rings: LiveRing[];
}

/** What stands between this user and another process's memory, in words. */
const CAP_SYS_PTRACE = 19;

/** Whether this process holds an effective capability (CapEff in /proc/self/status). */
function hasCapability(bit: number): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
    return hex !== undefined && ((BigInt(`0x${hex}`) >> BigInt(bit)) & 1n) === 1n;
  } catch {
    return false;
  }
}

function permissionHelp(pid: number, path: string, code: string): string {
  let owner = -1;
  try {
    owner = fs.statSync(`/proc/${pid}`).uid;
  } catch {
    // gone meanwhile: the message still says what was denied
  }
  const me = os.userInfo().uid;
  let scope = 'no Yama LSM here (kernel.yama.ptrace_scope absent)';
  try {
    const s = fs.readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim();
    const meaning: Record<string, string> = {
      '0': 'any process of the same user may be read',
      '1': 'only descendants may be read, unless CAP_SYS_PTRACE',
      '2': 'only with CAP_SYS_PTRACE',
      '3': 'no process may be read',
    };
    scope = `kernel.yama.ptrace_scope is ${s}: ${meaning[s] ?? 'unknown'}`;
  } catch {
    // no Yama
  }
  const who =
    owner >= 0 && owner !== me
      ? `process ${pid} belongs to uid ${owner} and you are uid ${me}: reading another user's process needs root or CAP_SYS_PTRACE`
      : owner === me && !hasCapability(CAP_SYS_PTRACE)
        ? `process ${pid} is uid ${me} like you but holds capabilities you lack (you have no CAP_SYS_PTRACE): reading it needs CAP_SYS_PTRACE`
        : `reading process ${pid} needs ptrace access (same user, dumpable, or CAP_SYS_PTRACE)`;
  return `cannot read ${path} (${code}): ${who}; ${scope}`;
}

function readProc(pid: number, what: string): string {
  const path = `/proc/${pid}/${what}`;
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT' || code === 'ESRCH') throw new InputError('ESRCH', 'inspect', `no process with PID ${pid}`);
    if (code === 'EACCES' || code === 'EPERM') throw new CommandFailure(permissionHelp(pid, path, code));
    throw e;
  }
}

/** The [aio] mappings of a process: [start, end) pairs. */
function aioMappings(maps: string): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  for (const line of maps.split('\n')) {
    if (!/\s\/\[aio\]( \(deleted\))?$/.test(line)) continue;
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s/.exec(line);
    if (m) out.push([BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`)]);
  }
  return out;
}

function readMemory(pid: number, fd: number, start: bigint, length: number): Buffer {
  const buf = Buffer.alloc(length);
  try {
    const n = fs.readSync(fd, buf, 0, length, start);
    return buf.subarray(0, n);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'EACCES' || code === 'EPERM') throw new CommandFailure(permissionHelp(pid, `/proc/${pid}/mem`, code));
    if (code === 'ESRCH' || code === 'EIO') return buf.subarray(0, 0);
    throw e;
  }
}

/** Every kernel AIO ring of process pid, decoded. */
export function processRings(pid: number, options: { events?: boolean } = {}): ProcessRings {
  if (!Number.isInteger(pid) || pid <= 0) throw new InputError('EINVAL', 'inspect', `${pid} is not a process id`);
  const maps = readProc(pid, 'maps');
  const comm = readProc(pid, 'comm').trim();
  let uid = -1;
  try {
    uid = fs.statSync(`/proc/${pid}`).uid;
  } catch {
    // it exited between the two reads
  }
  const mappings = aioMappings(maps);
  const rings: LiveRing[] = [];
  if (mappings.length > 0) {
    let fd: number;
    try {
      fd = fs.openSync(`/proc/${pid}/mem`, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      if (code === 'ENOENT') throw new InputError('ESRCH', 'inspect', `no process with PID ${pid}`);
      throw new CommandFailure(permissionHelp(pid, `/proc/${pid}/mem`, code));
    }
    try {
      for (const [start, end] of mappings) {
        const bytes = readMemory(pid, fd, start, Number(end - start));
        // unmapped meanwhile (io_destroy), or cut short: nothing to show
        if (bytes.length < 32) continue;
        const report = decodeRing(bytes, `context 0x${start.toString(16)}`, options);
        const word = (offset: number): number => bytes.readUInt32LE(offset);
        rings.push({
          context: `0x${start.toString(16)}`,
          bytes: bytes.length,
          nr: word(4),
          head: word(8),
          tail: word(12),
          pending: report.pending,
          valid: report.invalidField === null,
          report,
        });
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return { pid, comm, uid, rings };
}

export interface AllProcesses {
  processes: ProcessRings[];
  /** processes whose maps could not be read (another user's, or more privileged, without CAP_SYS_PTRACE) */
  unreadable: number;
}

/** Every process with kernel AIO contexts that this user may read. */
export function allProcessRings(): AllProcesses {
  const processes: ProcessRings[] = [];
  let unreadable = 0;
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    let maps: string;
    try {
      maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') unreadable++;
      continue;
    }
    if (aioMappings(maps).length === 0) continue;
    try {
      processes.push(processRings(pid));
    } catch (e) {
      if (e instanceof CommandFailure) unreadable++;
      else if (!(e instanceof InputError)) throw e; // InputError: it exited meanwhile
    }
  }
  return { processes, unreadable };
}
