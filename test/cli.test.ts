// 19 the CLI: the tour, doctor, conformance, bench, help and usage errors,
// run as a user runs them (the built CLI in a child process).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { legacyNr, possibleCpus } from '../src/sizing';
import { aioring, json, oneLine } from './cliRun';
import { describeKernel, describeUring, tempDir } from './helpers';
import { findFixture } from './native';

describe('19 the CLI: help and usage', () => {
  test('--help lists every command with examples; each command has its own help with examples', () => {
    const r = aioring(['--help']);
    expect(r.status).toBe(0);
    for (const c of ['doctor', 'inspect', 'convert', 'audit', 'bench', 'conformance']) expect(r.stdout).toMatch(new RegExp(`aioring ${c}`));
    expect(r.stdout).toMatch(/Exit codes: 0 fine, 1 findings or failure, 2 usage/);
    for (const c of ['doctor', 'inspect', 'convert', 'audit', 'bench', 'conformance']) {
      const h = aioring([c, '--help']);
      expect(h.status).toBe(0);
      expect(h.stdout).toMatch(/Examples:/);
    }
  });

  test('usage errors are one line and exit 2', () => {
    for (const args of [['bogus'], ['inspect'], ['convert', 'a'], ['convert', 'a', 'b', '--to', 'v3'], ['bench', 'disk'], ['--path']]) {
      const r = aioring(args);
      expect(r.status).toBe(2);
      expect(oneLine(r)).toMatch(/^aioring: /);
      expect(r.stdout).toBe('');
    }
  });
});

describeKernel('19 the CLI: the tour and doctor', () => {
  test('with no arguments: doctor, then both rings before, pending and after, throughput, readers, and the time taken', () => {
    const r = aioring([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^kernel AIO\s+io_setup works/m);
    expect(r.stdout).toMatch(/legacy ring .*\n\s+field\s+before\s+8 pending\s+after/);
    expect(r.stdout).toMatch(/v2 ring .*\n\s+field\s+before\s+8 pending\s+after/);
    expect(r.stdout).toMatch(/throughput: [\d,]+ reads\/s/);
    expect(r.stdout).toMatch(/QEMU\s+sees empty/);
    expect(r.stdout).toMatch(/^tour took [\d.]+ s$/m);

    const j = json<{ doctor: { kernelAio: { works: boolean } }; tour: { seconds: number; layouts: Record<string, any>[] } }>(aioring(['--json']));
    expect(j.doctor.kernelAio.works).toBe(true);
    expect(j.tour.seconds).toBeGreaterThan(0);
    const [legacy, v2] = j.tour.layouts;
    expect(legacy.header.before).toMatchObject({ head: 0, tail: 0, magic: 0xa10a10a1, pending: 0 });
    expect(legacy.header.pending).toMatchObject({ tail: 8, pending: 8 });
    expect(legacy.header.after.head).toBe(legacy.header.after.tail);
    expect(legacy.throughput.reads).toBeGreaterThan(8);
    // the v2 ring's own indices move; the legacy words stay frozen equal
    expect(v2.header.pending).toMatchObject({ tail: 8, head: 0, legacy_head: 0, legacy_tail: 0, pending: 8, magic: 0xa10a10a2 });
    expect(v2.header.after.tail).toBe(8 + v2.throughput.reads);
    expect(v2.header.after).toMatchObject({ legacy_head: 0, legacy_tail: 0 });
    const outcome = (t: Record<string, any>, reader: string): string => t.readers.find((x: { reader: string }) => x.reader === reader).outcome;
    expect(outcome(legacy, 'QEMU')).toBe('reads');
    expect(outcome(v2, 'QEMU')).toBe('sees empty');
    expect(outcome(v2, 'fio userspace_reap')).toBe('falls back');
    expect(outcome(legacy, 'CRIU dump')).toBe('accepts');
  });

  test("doctor --json: the kernel's real ring sizes match the rule; O_DIRECT is probed where --path says", () => {
    const dir = tempDir();
    const r = aioring(['doctor', '--json', '--path', dir]);
    expect(r.status).toBe(0);
    const d = json<Record<string, any>>(r);
    expect(d.cpus.possible).toBe(possibleCpus());
    for (const row of d.sizing) expect(row).toMatchObject({ kernelNr: legacyNr(row.n), predictedNr: legacyNr(row.n), requests: legacyNr(row.n) - 1, match: true });
    expect(d.direct.path).toBe(dir);
    expect(typeof d.direct.supported).toBe('boolean');
    expect(fs.readdirSync(dir)).toEqual([]); // the probe file is gone
    expect(d.backend.name).toBe('auto');
    expect(d.findings).toEqual([]);
    expect(['enabled', 'disabled']).toContain(d.ioUring.verdict.split(' ')[0]);
    const human = aioring(['check', '--path', dir]);
    expect(human.stdout).toMatch(/^verdict\s+fine$/m);
    expect(aioring(['doctor', '--path', path.join(dir, 'missing')]).status).toBe(2);
  });

  test.each(['EPERM', 'ENOSYS'])('doctor under a seccomp filter answering %s says why io_setup fails and picks the pool', (errno) => {
    const r = aioring(['doctor', '--json'], { prefix: [findFixture('deny_io_setup'), errno] });
    expect(r.status).toBe(1);
    const d = json<Record<string, any>>(r);
    expect(d.kernelAio).toMatchObject({ works: false, error: errno, seccomp: 'filter' });
    expect(d.kernelAio.why).toMatch(/seccomp/);
    expect(d.sizing.every((s: { kernelNr: number | null }) => s.kernelNr === null)).toBe(true);
    // auto makes its kernel context at the first O_DIRECT request (which io_setup's failure sends to the pool)
    expect(d.backend).toMatchObject({ name: 'auto', kernel: false });
    expect(d.findings[0]).toMatch(/kernel AIO does not work/);
    const human = aioring(['doctor'], { prefix: [findFixture('deny_io_setup'), errno] });
    expect(human.stdout).toMatch(new RegExp(`io_setup FAILS with ${errno}: .*seccomp`));
  });

  test('conformance: every check passes against the kernel, legacy and v2 providers; the table lists them', () => {
    const r = aioring(['conformance', '--json']);
    const j = json<{ results: { provider: string; check: string; pass: boolean; detail: string }[]; failed: number }>(r);
    expect(j.results.filter((x) => !x.pass)).toEqual([]);
    expect(r.status).toBe(0);
    const checks = ['layout and magic', 'sizing', 'capacity (empty-slot rule)', 'wrap', 'reap from ring memory', "legacy readers' view"];
    for (const p of ['kernel', 'legacy', 'v2']) for (const c of checks) expect(j.results).toContainEqual(expect.objectContaining({ provider: p, check: c, pass: true }));
    expect(j.results).toContainEqual(expect.objectContaining({ provider: 'v2', check: 'wrap across 2^32', pass: true }));
    const one = aioring(['conformance', '--provider', 'kernel']);
    expect(one.status).toBe(0);
    expect(one.stdout).toMatch(/^check\s+kernel$/m);
    expect(one.stdout).toMatch(/^sizing\s+pass$/m);
    expect(one.stdout).toMatch(/\d+ passed, 0 failed/);
  });
});

describe('19 the CLI: bench', () => {
  test('bench ring --quick prints the ratio table and writes an SVG chart; --json has the ratios', () => {
    const dir = tempDir();
    const svg = path.join(dir, 'ring.svg');
    const r = aioring(['bench', 'ring', '--quick', '--json', '--svg', svg], { timeout: 110000 });
    expect(r.status).toBe(0);
    const j = json<{ ratios: { label: string; value: number }[] }>(r);
    expect(j.ratios).toHaveLength(16);
    for (const x of j.ratios) expect(x.value).toBeGreaterThan(0);
    const chart = fs.readFileSync(svg, 'utf8');
    expect(chart).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect((chart.match(/<rect x="330"/g) ?? []).length).toBe(16);
    expect(r.stderr).toBe(''); // no progress bar when stderr is not a terminal
    expect(aioring(['bench', 'ring', '--svg', path.join(dir, 'no', 'such', 'dir', 'x.svg')]).status).toBe(2);
  });
});

describeUring('19 the CLI: doctor and io_uring', () => {
  test("doctor says backend 'uring' works here and auto chooses it, and why not under a seccomp filter that refuses io_uring_setup (no finding: auto keeps kernel AIO and the pool)", () => {
    const dir = tempDir();
    const here = json<Record<string, any>>(aioring(['doctor', '--json', '--path', dir]));
    expect(here.ioUring).toMatchObject({ works: true });
    expect(here.ioUring.error).toBeUndefined();
    expect(here.backend).toMatchObject({ name: 'auto', uring: true, reason: expect.stringMatching(/^io_uring works here/) });
    expect(aioring(['doctor', '--path', dir]).stdout).toMatch(/^io_uring .*backend 'uring' works; auto chooses it$/m);
    const off = aioring(['doctor', '--path', dir], { env: { AIORING_AUTO_URING: '0' } });
    expect(off.stdout).toMatch(/^io_uring .*auto does not choose it \(AIORING_AUTO_URING=0\)$/m);
    const r = aioring(['doctor', '--json', '--path', dir], { prefix: [findFixture('deny_io_setup'), '--uring', 'EPERM'] });
    const denied = json<Record<string, any>>(r);
    expect(denied.ioUring).toMatchObject({ works: false, error: 'EPERM', why: expect.stringMatching(/seccomp filter denies io_uring_setup/) });
    expect(denied.findings).toEqual([]);
    expect(denied.backend).toMatchObject({ name: 'auto', uring: false, reason: expect.stringMatching(/; io_uring refused here \(io_uring_setup: EPERM\)$/) });
    expect(r.status).toBe(0);
    const human = aioring(['doctor', '--path', dir], { prefix: [findFixture('deny_io_setup'), '--uring', 'EPERM'] });
    expect(human.stdout).toMatch(/^io_uring .*backend 'uring' unavailable: EPERM: a seccomp filter.*; auto keeps kernel AIO and the pool$/m);
    expect(human.stdout).toMatch(/^backend +auto: O_DIRECT reads and writes go to kernel AIO.*; io_uring refused here \(io_uring_setup: EPERM\)$/m);
  });
});
