// 21 the CLI: audit. Binaries compiled here from test/fixtures/audit_subject.c
// (raw syscalls, libaio's calls, ring readers with and without checks) and
// test/fixtures/raw_reap.c (libaio plus raw io_* calls of its own), the
// project's own C readers, fio from the distribution, and bad input.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { aioring, json, oneLine, release } from './cliRun';
import { tempDir } from './helpers';
import { findFixture } from './native';

const source = path.join(__dirname, 'fixtures', 'audit_subject.c');
const dir = tempDir();

interface Report {
  file: string;
  verdict: string;
  v2Safe: boolean;
  imports: string[];
  rawSyscalls: string[];
  magicChecks: number;
  checksIncompat: boolean;
  ringReaders: { checked: string[]; unchecked: string[] };
}

function auditOne(file: string): Report {
  const r = json<{ results: Report[] }>(aioring(['audit', file, '--json']));
  expect(r.results).toHaveLength(1);
  return r.results[0];
}

/** Compile the fixture; it must also run and reap every request once. */
function compile(name: string, flags: string[]): string {
  const out = path.join(dir, name);
  execFileSync('cc', ['-O2', '-o', out, source, ...flags]);
  expect(execFileSync(out, { encoding: 'utf8' })).toBe('ok 4\n');
  return out;
}

const libaio = fs.existsSync('/lib/x86_64-linux-gnu/libaio.so.1') || fs.existsSync('/usr/lib/x86_64-linux-gnu/libaio.so.1');

describe('21 the CLI: audit', () => {
  test.each([
    ['raw syscalls only', ['-DREADER=0'], { verdict: 'syscalls-only', v2Safe: true, rawSyscalls: ['io_destroy', 'io_getevents', 'io_setup', 'io_submit'] }],
    ['a ring reader that checks nothing', ['-DREADER=1'], { verdict: 'unchecked', v2Safe: false, magicChecks: 0 }],
    ['a ring reader that checks the magic', ['-DREADER=2'], { verdict: 'checks-magic', v2Safe: true, checksIncompat: false }],
    ['a ring reader that checks the magic and incompat_features', ['-DREADER=3'], { verdict: 'checks-magic', v2Safe: true, checksIncompat: true }],
  ])('%s', (_name, flags, expected) => {
    const r = auditOne(compile(`subject${flags.join('')}`, flags as string[]));
    expect(r).toMatchObject(expected);
    if (r.verdict === 'unchecked') expect(r.ringReaders.unchecked[0]).toMatch(/^ring_reap/);
    if (r.verdict === 'checks-magic') expect(r.ringReaders.checked[0]).toMatch(/^ring_reap/);
  });

  (libaio || process.env.AIORING_REQUIRE_FIO === '1' ? test : test.skip)('libaio users: through its calls only, and with an unchecked reader of their own', () => {
    const calls = auditOne(compile('libaio-calls', ['-DLIBAIO', '-DREADER=0', '-l:libaio.so.1']));
    expect(calls).toMatchObject({ verdict: 'syscalls-only', imports: ['io_destroy', 'io_getevents', 'io_setup', 'io_submit'], rawSyscalls: [] });
    expect(auditOne(compile('libaio-unchecked', ['-DLIBAIO', '-DREADER=1', '-l:libaio.so.1']))).toMatchObject({ verdict: 'unchecked' });
  });

  test("the project's C readers: QEMU's model reads unchecked, so ring_readers as a whole is not v2-safe; the drop-in libaio checks", () => {
    const readers = auditOne(findFixture('ring_readers'));
    expect(readers).toMatchObject({ verdict: 'unchecked', v2Safe: false, checksIncompat: true });
    expect(readers.ringReaders.unchecked).toEqual(['reader_qemu']);
    expect(readers.ringReaders.checked).toContain('reader_chunks');
    expect(auditOne(path.join(release, 'aioring-libaio.so'))).toMatchObject({ verdict: 'checks-magic' });
    // it calls libaio and, to compare, the raw system calls through syscall(): the libc route covers those
    expect(auditOne(findFixture('libaio_semantics'))).toMatchObject({ verdict: 'mixes-raw', v2Safe: true, rawRoute: 'libc' });
    expect(auditOne(findFixture('deny_io_setup'))).toMatchObject({ verdict: 'no-aio', v2Safe: true });
    const human = aioring(['audit', findFixture('ring_readers')]);
    expect(human.status).toBe(1);
    expect(human.stdout).toMatch(/unchecked\s+NOT safe for v2: reads the ring in reader_qemu/);
  });

  test('libaio plus raw io_* calls of its own (InnoDB-style): the route is named, and a route that cannot be had here is a finding (exit 1)', () => {
    const raw = path.join(__dirname, 'fixtures', 'raw_reap.c');
    const deny = path.join(dir, 'deny_dispatch');
    const inline = path.join(dir, 'raw_reap_inline');
    execFileSync('cc', ['-O2', '-DREAP_INLINE=1', raw, '-o', inline, '-laio', '-lpthread']);
    execFileSync('cc', ['-O2', path.join(__dirname, 'fixtures', 'deny_dispatch.c'), '-o', deny]);
    const here = aioring(['audit', inline]);
    expect(here.status).toBe(0);
    expect(here.stdout).toMatch(/mixes-raw\s+v2-safe: uses libaio and makes raw io_destroy, io_getevents, io_pgetevents, io_submit with syscall instructions of its own: syscall user dispatch routes them/);
    expect(here.stdout).toMatch(/1 mixes-raw/);
    const denied = aioring(['audit', inline], { prefix: [deny, 'all'] });
    expect(denied.status).toBe(1);
    expect(denied.stdout).toMatch(/mixes-raw\s+NOT safe for v2: .*a seccomp filter is in force here/);
  });

  const fio = spawnSync('which', ['fio'], { encoding: 'utf8' }).stdout.trim();
  (fio || process.env.AIORING_REQUIRE_FIO === '1' ? test : test.skip)('fio from the distribution checks the magic before its userspace_reap: v2-safe', () => {
    const r = auditOne(fio);
    expect(r).toMatchObject({ verdict: 'checks-magic', v2Safe: true, checksIncompat: false });
    expect(r.imports).toEqual(expect.arrayContaining(['io_getevents', 'io_submit']));
    expect(r.ringReaders.unchecked).toEqual([]);
    expect(aioring(['audit', fio]).status).toBe(0);
  });

  test('a directory of 10,000 files finishes, counts what it skipped, and finds the one ELF file in it', () => {
    const big = path.join(dir, 'many');
    fs.mkdirSync(big);
    for (let i = 0; i < 100; i++) {
      const sub = path.join(big, `d${i}`);
      fs.mkdirSync(sub);
      for (let k = 0; k < 100; k++) fs.writeFileSync(path.join(sub, `f${k}`), k % 2 ? `text ${i} ${k}\n` : Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]));
    }
    fs.copyFileSync(findFixture('ring_readers'), path.join(big, 'd0', 'f0'));
    fs.symlinkSync('/usr/bin', path.join(big, 'not-followed'));
    const r = aioring(['audit', big, '--json']);
    expect(r.status).toBe(1);
    const j = json<{ results: Report[]; summary: Record<string, any>; errors: unknown[] }>(r);
    expect(j.summary).toMatchObject({ files: 10000, elf: 5000, notElf: 5000 });
    expect(j.results.map((x) => x.verdict)).toEqual(['unchecked']);
    expect(j.errors).toHaveLength(4999); // ELF magic, then nothing: malformed, reported, not fatal
    expect(r.stderr).toBe(''); // no progress bar without a terminal
  });

  test('bad input: a missing path, a file that is not ELF, a truncated ELF: one line, exit 2', () => {
    const truncated = path.join(dir, 'truncated-elf');
    fs.writeFileSync(truncated, fs.readFileSync(findFixture('ring_readers')).subarray(0, 200));
    for (const [file, message] of [
      [path.join(dir, 'missing'), /no such file/],
      [__filename, /not an ELF file/],
      [truncated, /malformed ELF: truncated/],
    ] as [string, RegExp][]) {
      const r = aioring(['audit', file]);
      expect(r.status).toBe(2);
      expect(oneLine(r)).toMatch(message);
    }
  });
});
