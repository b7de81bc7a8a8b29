// Running unmodified libaio programs through the drop-in: its modes, the
// proof that a program's libaio calls reach it, and which rings it made.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AIO_RING_MAGIC, AIORING_V2_MAGIC, V2Header } from '../src/layout';
import { shimPath } from '../src/shim';
import { tempDir } from './helpers';

/** Every mode of the drop-in, each beside Debian's libaio: a name and the environment that selects it. */
export const dropInModes: [string, NodeJS.ProcessEnv][] = [
  ["the drop-in, default (the kernel's contexts)", { LD_PRELOAD: shimPath }],
  ['the drop-in, AIORING_RING=legacy', { LD_PRELOAD: shimPath, AIORING_RING: 'legacy' }],
  ['the drop-in, AIORING_RING=v2', { LD_PRELOAD: shimPath, AIORING_RING: 'v2' }],
  ['the drop-in, AIORING_RING=legacy AIORING_ASYNC_BUFFERED=1', { LD_PRELOAD: shimPath, AIORING_RING: 'legacy', AIORING_ASYNC_BUFFERED: '1' }],
  ['the drop-in, AIORING_RING=v2 AIORING_ASYNC_BUFFERED=1', { LD_PRELOAD: shimPath, AIORING_RING: 'v2', AIORING_ASYNC_BUFFERED: '1' }],
];

export const reference: [string, NodeJS.ProcessEnv] = ["Debian's libaio (reference)", {}];

/** The path of the libaio.so.1 a program loads without a preload (ldd), or null. */
export function linkedLibaio(program: string): string | null {
  const r = spawnSync('ldd', [program], { encoding: 'utf8' });
  return /^\s*libaio\.so\.1 => (\S+)/m.exec(r.stdout ?? '')?.[1] ?? null;
}

/** The full path of a program on PATH (or its sbin directories), or null. */
export function which(program: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    const p = path.join(dir, program);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Which file each of the given libaio symbols was bound to when the
 * program ran with env (the dynamic linker's own record, LD_DEBUG=bindings):
 * symbol -> the files it was bound to.
 */
export function libaioBindings(argv: string[], env: NodeJS.ProcessEnv, cwd: string, symbols: string[]): Record<string, string[]> {
  const out = path.join(tempDir(), 'ld');
  spawnSync(argv[0], argv.slice(1), { cwd, env: { ...process.env, ...env, LD_DEBUG: 'bindings', LD_DEBUG_OUTPUT: out }, stdio: 'ignore', timeout: 60000 });
  const found: Record<string, Set<string>> = Object.fromEntries(symbols.map((s) => [s, new Set<string>()]));
  for (const f of fs.readdirSync(path.dirname(out)).filter((n) => n.startsWith('ld.'))) {
    for (const line of fs.readFileSync(path.join(path.dirname(out), f), 'utf8').split('\n')) {
      const m = /binding file .* to (\S+) \[\d+\]: normal symbol `([a-z_]+)'/.exec(line);
      if (m && m[2] in found) found[m[2]].add(m[1]);
    }
  }
  return Object.fromEntries(symbols.map((s) => [s, [...found[s]].sort()]));
}

/** The rings a live process has mapped: kernel contexts ([aio]) and the drop-in's, by their header's magic. */
export interface MappedRings {
  kernel: number;
  legacy: number;
  v2: number;
  dropInLoaded: boolean;
}

export function mappedRings(pid: number): MappedRings {
  const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
  const rings: MappedRings = { kernel: 0, legacy: 0, v2: 0, dropInLoaded: maps.some((l) => l.endsWith(` ${shimPath}`)) };
  const mem = fs.openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (const line of maps) {
      const m = /^([0-9a-f]+)-[0-9a-f]+ rw-s /.exec(line);
      if (!m) continue;
      if (/\/\[aio\]( \(deleted\))?$/.test(line)) {
        rings.kernel++;
        continue;
      }
      const word = Buffer.alloc(4);
      if (fs.readSync(mem, word, 0, 4, BigInt(`0x${m[1]}`) + BigInt(V2Header.magic)) !== 4) continue;
      const magic = word.readUInt32LE(0);
      if (magic === AIORING_V2_MAGIC) rings.v2++;
      else if (magic === AIO_RING_MAGIC) rings.legacy++;
    }
  } finally {
    fs.closeSync(mem);
  }
  return rings;
}

/**
 * Start an interactive program, send it input, wait until its output
 * matches ready, look at it with probe, then close its input and wait for
 * its exit: what probe saw, and the exit status.
 */
export async function probeWhileRunning<T>(
  argv: string[],
  env: NodeJS.ProcessEnv,
  input: string,
  ready: RegExp,
  probe: (pid: number) => T,
): Promise<{ seen: T; status: number | null }> {
  const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const seen = await new Promise<T>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', () => reject(new Error(`${argv[0]} exited before it printed ${ready}: ${out}`)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        try {
          resolve(probe(child.pid!));
        } catch (e) {
          reject(e);
        }
      }
    });
    child.stdin.write(input);
  });
  child.removeAllListeners('exit');
  const status = await new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
    child.stdin.end();
  });
  return { seen, status };
}
