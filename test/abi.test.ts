// 01 ABI drift: every constant and struct field shared by C and TypeScript
// exists on both sides with the same value, in both directions. The C side
// is enumerated, not listed: the preprocessor names every AIORING_/AIO_RING_
// macro of every header, and the debugger reads every field's offset from
// the compiled structs, so a constant or field added on one side only fails
// here.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as abi from '../src/abi';
import * as L from '../src/layout';

const root = path.join(__dirname, '..');
const includeDirs = ['native/core', 'compat/include'].map((d) => path.join(root, d));
const ABI_NAME = /^(AIORING|AIO_RING)_\w+$/;

function headers(): string[] {
  return includeDirs.flatMap((dir) =>
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.h'))
      .sort()
      .map((f) => `#include "${f}"`),
  );
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'aioring-abi-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function cc(args: string[], input?: string): string {
  return execFileSync('cc', ['-std=gnu11', '-D_GNU_SOURCE', ...includeDirs.map((d) => `-I${d}`), ...args], {
    input,
    encoding: 'utf8',
  });
}

/** Object-like AIORING_* macros with a value (include guards have none). */
function cMacroNames(): string[] {
  const defines = cc(['-dM', '-E', '-x', 'c', '-'], headers().join('\n') + '\n');
  const names = new Set<string>();
  for (const line of defines.split('\n')) {
    const m = /^#define (\w+) (.+)$/.exec(line);
    if (m && ABI_NAME.test(m[1])) names.add(m[1]);
  }
  return [...names].sort();
}

/** Each macro's value, computed by the C compiler: numbers as decimal, strings as JSON. */
function cValues(names: string[]): Record<string, number | string> {
  const src = [
    '#include <stdio.h>',
    ...headers(),
    'static void num(const char *n, unsigned long long v) { printf("%s %llu\\n", n, v); }',
    'static void str(const char *n, const char *v) { printf("%s \\"%s\\"\\n", n, v); }',
    'int main(void) {',
    ...names.map((n) => `\t_Generic((${n}), char *: str, const char *: str, default: num)("${n}", ${n});`),
    '\treturn 0;',
    '}',
  ].join('\n');
  const exe = path.join(work, 'values');
  fs.writeFileSync(`${exe}.c`, src);
  cc([`${exe}.c`, '-o', exe]);
  const out: Record<string, number | string> = {};
  for (const line of execFileSync(exe, { encoding: 'utf8' }).trim().split('\n')) {
    const space = line.indexOf(' ');
    const value = line.slice(space + 1);
    out[line.slice(0, space)] = value.startsWith('"') ? (JSON.parse(value) as string) : Number(value);
  }
  return out;
}

/** TypeScript twins: every AIORING_* export of src/abi.ts. */
function tsConstants(): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [name, value] of Object.entries(abi)) {
    if (ABI_NAME.test(name) && (typeof value === 'number' || typeof value === 'string')) out[name] = value;
  }
  return out;
}

/** The C structs TypeScript mirrors, and their TypeScript objects. */
const STRUCTS: Record<string, Record<string, number>> = {
  aio_ring: L.AioRing,
  io_event: L.IoEvent,
  iocb: L.Iocb,
  v2_ring_header: L.V2Header,
  v2_lease: L.V2Lease,
};

/** Every named field of each struct with its offset, plus `size`; padding (pad*) has no twin. */
function cStructs(): Record<string, Record<string, number>> {
  const obj = path.join(work, 'structs.o');
  const decls = Object.keys(STRUCTS).map((s, i) => `struct ${s} v${i};`);
  fs.writeFileSync(`${obj}.c`, ['#include <linux/aio_abi.h>', ...headers(), ...decls].join('\n') + '\n');
  cc(['-g', '-c', `${obj}.c`, '-o', obj]);
  const args = Object.keys(STRUCTS).flatMap((s) => ['-ex', `ptype /o struct ${s}`]);
  const text = execFileSync('gdb', ['-batch', '-nx', ...args, obj], { encoding: 'utf8' });
  const out: Record<string, Record<string, number>> = {};
  let current: Record<string, number> | undefined;
  for (const line of text.split('\n')) {
    const head = /type = struct (\w+) \{/.exec(line);
    if (head) {
      current = out[head[1]] = {};
      continue;
    }
    // a bitfield prints as "offset: bit": kept as text, so no TypeScript byte offset can pass for it
    const field = /^\/\*\s+(\d+)(:\s*\d+)?\s+\|\s+\d+ \*\/\s+.*?(\w+)(\[\d*\])?(\s*:\s*\d+)?;$/.exec(line);
    if (current && field && !field[3].startsWith('pad')) {
      (current as Record<string, number | string>)[field[3]] = field[2] ? `${field[1]}${field[2]} (a bitfield)` : Number(field[1]);
    }
    const total = /total size \(bytes\):\s+(\d+)/.exec(line);
    if (current && total) current.size = Number(total[1]);
  }
  return out;
}

describe('01 ABI: one source of truth, C and TypeScript held together both ways', () => {
  const names = cMacroNames();
  const c = cValues(names);
  const ts = tsConstants();

  test('the C headers define the ABI constants (the enumeration works)', () => {
    expect(names).toEqual(expect.arrayContaining(['AIORING_SETUP_V2', 'AIORING_V2_MAGIC', 'AIO_RING_MAGIC']));
  });

  test('every C constant has its TypeScript twin', () => {
    expect(names.filter((n) => !(n in ts))).toEqual([]);
  });

  test('every TypeScript constant has its C twin', () => {
    expect(Object.keys(ts).filter((n) => !(n in c))).toEqual([]);
  });

  test('twins have the same value', () => {
    const differ = names.filter((n) => n in ts && ts[n] !== c[n]).map((n) => ({ name: n, c: c[n], ts: ts[n] }));
    expect(differ).toEqual([]);
  });

  describe.each(Object.entries(cStructs()))('struct %s', (struct, cFields) => {
    const tsFields = STRUCTS[struct];
    test('every C field has its TypeScript twin at the same offset, and the same size', () => {
      expect(Object.fromEntries(Object.keys(cFields).map((f) => [f, tsFields[f]]))).toEqual(cFields);
    });
    test('every TypeScript field is a C field', () => {
      expect(Object.keys(tsFields).filter((f) => !(f in cFields))).toEqual([]);
    });
  });
});
