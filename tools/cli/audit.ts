// `aioring audit PATH...`: which programs and libraries use Linux AIO, and
// how: may a program be switched whole to v2 rings (AIORING_RING=v2 with
// the drop-in libaio)?
//
//   no-aio         no libaio import, no aio syscall, no ring access found
//   syscalls-only  aio through libaio's calls or raw syscalls; never reads
//                  the ring itself: safe (libaio's own reader checks the magic)
//   mixes-raw      libaio's calls, and raw io_* system calls besides io_setup
//                  (an InnoDB-style reaper): safe only where the drop-in's
//                  route for them is in place (tools/audit/rawRoutes.ts)
//   checks-magic   reads the ring and compares against the magic 0xa10a10a1
//                  (and maybe incompat_features): falls back on a v2 ring, safe
//   unchecked      reads the ring (nr, head, tail read, head written) in code
//                  that neither checks the magic nor is only called from code
//                  that does: NOT safe for v2 (it would see an empty ring)
//
// The analysis is static and heuristic; docs/CLI.md says what it can miss.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AIO_RING_MAGIC } from '../../src/index';
import { scanCode } from '../audit/codeScan';
import { EM_X86_64, ElfError, isElf, parseElf } from '../audit/elf';
import { dispatchHere, RawRoute, rawRoute } from '../audit/rawRoutes';
import { progressBar } from './progress';
import { asInputError, EXIT_FINDINGS, EXIT_OK, InputError, note, printJson, printLines } from './support';

export type Verdict = 'no-aio' | 'syscalls-only' | 'mixes-raw' | 'checks-magic' | 'unchecked';

export interface AuditReport {
  file: string;
  verdict: Verdict;
  v2Safe: boolean;
  reason: string;
  /** needed libaio (or the drop-in library) */
  linksLibaio: boolean;
  /** libaio calls imported */
  imports: string[];
  /** libaio calls defined here (libaio itself, or a replacement) */
  provides: string[];
  rawSyscalls: string[];
  /** the same by how they are made: syscall instructions of the file's own, or libc's syscall() */
  rawVia: { inline: string[]; libc: string[] };
  /** for mixes-raw: the drop-in's route that brings its raw calls to its contexts */
  rawRoute: RawRoute;
  /** instructions comparing against the magic (x86-64 code) */
  magicChecks: number;
  /** the magic as a 32-bit constant outside the code */
  magicConstants: number;
  checksIncompat: boolean;
  /** functions reading the ring: checked ones and the others */
  ringReaders: { checked: string[]; unchecked: string[] };
  /** 'x86-64 code' or 'imports and constants' (other machines) */
  analysis: string;
}

const LIBAIO_CALLS = new Set(['io_setup', 'io_submit', 'io_getevents', 'io_pgetevents', 'io_destroy', 'io_cancel', 'io_queue_init', 'io_queue_release', 'io_queue_run']);
const LIBAIO_SONAMES = /^(libaio\.so(\.\d+)*|aioring-libaio\.so)$/;

function countConstant(data: Uint8Array, value: number): number {
  const needle = Buffer.alloc(4);
  needle.writeUInt32LE(value >>> 0);
  const hay = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let n = 0;
  for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + 1)) n++;
  return n;
}

const label = (f: { start: number; name?: string }): string => f.name || `0x${f.start.toString(16)}`;

/** Audit one ELF file's bytes. Throws ElfError when it cannot be parsed. */
export function auditElf(file: string, data: Uint8Array): AuditReport {
  const elf = parseElf(data);
  const imports = [...new Set(elf.dynsym.filter((s) => !s.defined && LIBAIO_CALLS.has(s.name)).map((s) => s.name))].sort();
  const provides = [...new Set(elf.dynsym.filter((s) => s.defined && s.isFunction && LIBAIO_CALLS.has(s.name)).map((s) => s.name))].sort();
  const linksLibaio = elf.needed.some((n) => LIBAIO_SONAMES.test(n));
  const x86 = elf.machine === EM_X86_64;
  const signals = linksLibaio || imports.length > 0 || provides.length > 0;
  // a program that turns out to use aio may read the ring anywhere: look at all of it
  let code = x86 ? scanCode(elf, signals) : null;
  if (code && !signals && (code.rawSyscalls.length > 0 || code.functions.some((f) => f.magicChecks > 0))) code = scanCode(elf, true);
  const magicChecks = code ? code.functions.reduce((n, f) => n + f.magicChecks, 0) : 0;
  let magicConstants = 0;
  for (const s of elf.sections) if (!s.executable && s.size > 0) magicConstants += countConstant(elf.bytes(s), AIO_RING_MAGIC);
  if (!code) for (const s of elf.sections) if (s.executable) magicConstants += countConstant(elf.bytes(s), AIO_RING_MAGIC);

  const rawSyscalls = code?.rawSyscalls ?? [];
  const rawVia = code?.rawVia ?? { inline: [], libc: [] };
  // a raw io_setup makes a kernel context, which every call takes: only the others need a route
  const onContexts = (calls: string[]): string[] => calls.filter((c) => c !== 'io_setup');
  const mixes = (linksLibaio || imports.length > 0) && provides.length === 0 && onContexts(rawSyscalls).length > 0;
  const route = mixes ? rawRoute({ inline: onContexts(rawVia.inline), libc: onContexts(rawVia.libc) }) : 'none';
  const usesAio = linksLibaio || imports.length > 0 || provides.length > 0 || rawSyscalls.length > 0 || magicChecks + magicConstants > 0;
  const checked: string[] = [];
  const unchecked: string[] = [];
  if (code && usesAio) {
    const byStart = new Map(code.functions.map((f) => [f.start, f]));
    const callers = new Map<number, number[]>();
    for (const f of code.functions) for (const t of f.calls) if (byStart.has(t)) callers.set(t, [...(callers.get(t) ?? []), f.start]);
    for (const f of code.functions) {
      if (!f.ringShaped) continue;
      const from = callers.get(f.start) ?? [];
      const guarded = f.magicChecks > 0 || (from.length > 0 && from.every((c) => byStart.get(c)!.magicChecks > 0));
      (guarded ? checked : unchecked).push(label(f));
    }
  }
  const checksIncompat = code?.functions.some((f) => f.checksIncompat) ?? false;
  let verdict: Verdict;
  let reason: string;
  let dispatchSafe = true;
  if (!usesAio) {
    verdict = 'no-aio';
    reason = 'no libaio import, no aio syscall and no ring access found';
  } else if (unchecked.length > 0) {
    verdict = 'unchecked';
    reason = `reads the ring in ${unchecked.join(', ')} with no magic check on the way: on a v2 ring it sees no events (not safe for v2)`;
  } else if (mixes) {
    verdict = 'mixes-raw';
    const calls = onContexts(rawSyscalls).join(', ');
    if (route === 'libc') {
      reason = `uses libaio and makes raw ${calls} through syscall() on its contexts: the drop-in's syscall() routes them to its own (the libc route; v2-safe)`;
    } else {
      const here = dispatchHere();
      dispatchSafe = here.available;
      reason = `uses libaio and makes raw ${calls} with syscall instructions of its own: ${
        here.available
          ? `syscall user dispatch routes them to the drop-in's contexts (the dispatch route; ${here.why}; v2-safe)`
          : `they need syscall user dispatch (the dispatch route), and ${here.why}: NOT safe for v2 (the drop-in refuses AIORING_RING for it and keeps the kernel's contexts)`
      }`;
    }
  } else if (magicChecks + magicConstants > 0) {
    verdict = 'checks-magic';
    reason = `reads the ring after comparing against the magic ${`0x${AIO_RING_MAGIC.toString(16)}`}${
      checksIncompat ? ' and incompat_features' : ''
    }: on a v2 ring it falls back to io_getevents (v2-safe)`;
  } else {
    verdict = 'syscalls-only';
    reason = `uses aio through ${[linksLibaio || imports.length ? 'libaio' : '', rawSyscalls.length ? 'raw syscalls' : '', provides.length ? 'its own libaio calls' : '']
      .filter(Boolean)
      .join(' and ')} and never reads the ring itself (v2-safe${rawSyscalls.length ? '; raw syscalls keep the kernel\'s own rings' : ''})`;
  }
  return {
    file,
    verdict,
    v2Safe: verdict !== 'unchecked' && dispatchSafe,
    reason,
    linksLibaio,
    imports,
    provides,
    rawSyscalls,
    rawVia,
    rawRoute: route,
    magicChecks,
    magicConstants,
    checksIncompat,
    ringReaders: { checked, unchecked },
    analysis: code ? 'x86-64 code' : 'imports and constants',
  };
}

export interface AuditRun {
  results: AuditReport[];
  summary: { files: number; elf: number; notElf: number; unreadable: number; byVerdict: Record<Verdict, number>; notV2Safe: number };
  errors: { file: string; error: string }[];
}

function readHead(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    return b.subarray(0, fs.readSync(fd, b, 0, 4, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/** Regular files under the paths; symbolic links inside directories are not followed. */
function collect(paths: string[]): { file: string; explicit: boolean }[] {
  const out: { file: string; explicit: boolean }[] = [];
  const seen = new Set<string>();
  const add = (file: string, st: fs.Stats, explicit: boolean): void => {
    const key = `${st.dev}:${st.ino}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ file, explicit });
    }
  };
  for (const p of paths) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (e) {
      return asInputError(e, p);
    }
    if (st.isFile()) {
      add(p, st, true);
      continue;
    }
    if (!st.isDirectory()) throw new InputError('EINVAL', 'audit', `${p}: not a file or directory`);
    const stack = [p];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        continue; // an unreadable directory below the one named
      }
      for (const e of entries) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) stack.push(full);
        else if (e.isFile()) {
          try {
            add(full, fs.statSync(full), false);
          } catch {
            // gone meanwhile
          }
        }
      }
    }
  }
  return out;
}

export function audit(paths: string[]): AuditRun {
  const files = collect(paths);
  const run: AuditRun = {
    results: [],
    summary: { files: files.length, elf: 0, notElf: 0, unreadable: 0, byVerdict: { 'no-aio': 0, 'syscalls-only': 0, 'mixes-raw': 0, 'checks-magic': 0, unchecked: 0 }, notV2Safe: 0 },
    errors: [],
  };
  const bar = progressBar('audit');
  try {
    files.forEach(({ file, explicit }, i) => {
      bar.update(i, files.length, path.basename(file));
      let data: Buffer;
      try {
        if (!isElf(readHead(file))) {
          if (explicit) throw new InputError('ENOEXEC', 'audit', `${file}: not an ELF file`);
          run.summary.notElf++;
          return;
        }
        data = fs.readFileSync(file);
      } catch (e) {
        if (e instanceof InputError) throw e;
        if (explicit) return asInputError(e, file);
        run.summary.unreadable++;
        return;
      }
      run.summary.elf++;
      try {
        const r = auditElf(file, data);
        run.results.push(r);
        run.summary.byVerdict[r.verdict]++;
        if (!r.v2Safe) run.summary.notV2Safe++;
      } catch (e) {
        if (!(e instanceof ElfError)) throw e;
        if (explicit) throw new InputError('ENOEXEC', 'audit', `${file}: malformed ELF: ${e.message}`);
        run.errors.push({ file, error: e.message });
      }
    });
  } finally {
    bar.end();
  }
  return run;
}

function safety(r: AuditReport): string {
  if (r.verdict === 'no-aio') return 'not relevant';
  return r.v2Safe ? 'v2-safe' : 'NOT safe for v2';
}

export function runAudit(paths: string[], json: boolean): number {
  const run = audit(paths);
  if (json) {
    printJson(run);
  } else {
    const lines: string[] = [];
    const single = run.results.length === 1 && run.summary.files === 1;
    for (const r of run.results) {
      if (r.verdict === 'no-aio' && !single) continue;
      lines.push(`${r.file}`, `  ${r.verdict.padEnd(14)} ${safety(r)}: ${r.reason}`);
      const facts = [
        r.linksLibaio ? 'links libaio' : '',
        r.imports.length ? `imports ${r.imports.join(' ')}` : '',
        r.provides.length ? `provides ${r.provides.join(' ')}` : '',
        r.rawVia.inline.length ? `raw syscalls ${r.rawVia.inline.join(' ')}` : '',
        r.rawVia.libc.length ? `raw syscalls through syscall() ${r.rawVia.libc.join(' ')}` : '',
        r.magicChecks ? `${r.magicChecks} magic compare(s)` : '',
        r.magicConstants ? `${r.magicConstants} magic constant(s)` : '',
        r.checksIncompat ? 'checks incompat_features' : '',
        r.ringReaders.checked.length ? `checked ring readers: ${r.ringReaders.checked.join(' ')}` : '',
      ].filter(Boolean);
      if (facts.length) lines.push(`  ${facts.join('; ')}`);
    }
    const s = run.summary;
    lines.push(
      `${s.files} files: ${s.elf} ELF (${Object.entries(s.byVerdict)
        .map(([v, n]) => `${n} ${v}`)
        .join(', ')}), ${s.notElf} not ELF, ${s.unreadable} unreadable, ${run.errors.length} malformed`,
    );
    printLines(lines);
    for (const e of run.errors) note(`aioring: ${e.file}: malformed ELF: ${e.error}`);
  }
  return run.summary.notV2Safe > 0 ? EXIT_FINDINGS : EXIT_OK;
}

