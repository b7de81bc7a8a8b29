// 20 the CLI on rings: inspect of ring files and of live processes' kernel
// rings, and convert between the layouts.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EventBatch } from '../src/events';
import { LegacyRing } from '../src/legacyRing';
import { legacyNr, legacyRingBytes } from '../src/sizing';
import { FEAT_LEASES } from '../src/layout';
import { V2Ring, v2RingBytes, v2RingBytesLeased } from '../src/v2Ring';
import { aioring, json, oneLine } from './cliRun';
import { describeKernel, tempDir } from './helpers';

// root with no capabilities at all: not the owner of others' files, no ptrace of capable processes
const WITHOUT_CAPABILITIES = ['setpriv', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--'];
const dir = tempDir(fs.existsSync('/dev/shm') ? '/dev/shm' : undefined);
let n = 0;

/** A ring file of the layout holding events (data 1000 + i, res i - 2 so some are negative). */
function ringFile(layout: 'legacy' | 'v2', size: number, events: number, reaped = 0): string {
  const bytes = new Uint8Array(layout === 'legacy' ? legacyRingBytes(size, 4096) : v2RingBytes(size));
  const ring = layout === 'legacy' ? LegacyRing.format(bytes, size) : V2Ring.format(bytes, size);
  // advance first so the pending events wrap around the end of the ring
  for (let i = 0; i < reaped; i++) ring.produce({ data: 1, res: 0 });
  const sink = layout === 'legacy' ? new LegacyRing(bytes) : new V2Ring(bytes);
  sink.reap(new EventBatch(Math.max(1, reaped)), reaped);
  for (let i = 0; i < events; i++) ring.produce({ data: 1000 + i, obj: 7, res: i - 2, res2: 0 });
  const file = path.join(dir, `${layout}-${n++}`);
  fs.writeFileSync(file, bytes);
  return file;
}

describe('20 the CLI: inspect a ring file', () => {
  test('a legacy ring: every field ok, pending events listed in order, and what each legacy reader does', () => {
    const file = ringFile('legacy', 127, 5, 125);
    const r = aioring(['inspect', file, '--events']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/layout legacy, 4096 bytes: valid/);
    expect(r.stdout).toMatch(/^\s+magic\s+0xa10a10a1\s+ok/m);
    expect(r.stdout).toMatch(/^pending events\s+5$/m);
    const j = json<Record<string, any>>(aioring(['inspect', file, '--events', '--json']));
    expect(j).toMatchObject({ layout: 'legacy', invalidField: null, pending: 5 });
    expect(j.fields.every((f: { ok: boolean }) => f.ok)).toBe(true);
    expect(j.events.map((e: { data: string }) => e.data)).toEqual(['1000', '1001', '1002', '1003', '1004']);
    expect(j.events.map((e: { slot: number }) => e.slot)).toEqual([125, 126, 0, 1, 2]); // wrapped at nr
    expect(j.events[0]).toMatchObject({ res: '-2', obj: '7' });
    expect(j.readers.find((x: { reader: string }) => x.reader === 'QEMU')).toMatchObject({ outcome: 'reads', events: 5 });
    expect(j.readers.find((x: { reader: string }) => x.reader === 'CRIU dump').outcome).toBe('accepts');
  });

  test('a v2 ring: its fields, pending count, and legacy readers falling back or seeing it empty', () => {
    const file = ringFile('v2', 64, 3);
    const j = json<Record<string, any>>(aioring(['inspect', file, '--json']));
    expect(j).toMatchObject({ layout: 'v2', invalidField: null, pending: 3 });
    expect(j.events).toBeUndefined();
    expect(j.fields.find((f: { field: string }) => f.field === 'entries')).toMatchObject({ value: 64, ok: true });
    const outcomes = Object.fromEntries(j.readers.map((x: { reader: string; outcome: string }) => [x.reader, x.outcome]));
    expect(outcomes).toMatchObject({ 'fio userspace_reap': 'falls back', Seastar: 'falls back', QEMU: 'sees empty', 'CRIU dump': 'refuses' });
  });

  test('a leased v2 ring: the lease fields are checked, its events listed in place, and convert drops the lease table', () => {
    const bytes = new Uint8Array(v2RingBytesLeased(8, 2));
    const ring = V2Ring.format(bytes, 8, { leases: 2 });
    for (let i = 0; i < 3; i++) ring.produce({ data: 500 + i, res: i });
    const file = path.join(dir, `leased-${n++}`);
    fs.writeFileSync(file, bytes);
    const j = json<{ invalidField: string | null; pending: number; fields: { field: string; ok: boolean }[]; events: { data: string }[] }>(
      aioring(['inspect', file, '--events', '--json']),
    );
    expect(j.invalidField).toBeNull();
    expect(j.fields.filter((f) => !f.ok)).toEqual([]);
    expect(j.fields.map((f) => f.field)).toEqual(expect.arrayContaining(['lease_offset', 'lease_count', 'claim']));
    expect(j.events.map((e) => e.data)).toEqual(['500', '501', '502']);
    const out = path.join(dir, `unleased-${n++}`);
    expect(aioring(['convert', file, out, '--to', 'v2']).status).toBe(0);
    const converted = new V2Ring(new Uint8Array(fs.readFileSync(out)));
    expect([converted.features & FEAT_LEASES, converted.count()]).toEqual([0, 3]);
  });

  test('a ring with a bad field: the verdict names it and the exit code is 1', () => {
    const file = ringFile('legacy', 127, 2);
    const b = fs.readFileSync(file);
    b.writeUInt32LE(1, 24); // incompat_features
    fs.writeFileSync(file, b);
    const r = aioring(['inspect', file]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/INVALID \(field incompat_features\)/);
    expect(r.stdout).toMatch(/^\s+incompat_features\s+1\s+BAD/m);
    expect(json(aioring(['inspect', file, '--json']))).toMatchObject({ invalidField: 'incompat_features', pending: null });
  });

  test('missing, unreadable, truncated and random files, and a directory: one line, exit 2', () => {
    const truncated = path.join(dir, 'truncated');
    fs.writeFileSync(truncated, fs.readFileSync(ringFile('legacy', 127, 1)).subarray(0, 1000));
    const short = path.join(dir, 'short');
    fs.writeFileSync(short, Buffer.from([1, 2, 3]));
    const random = path.join(dir, 'random');
    fs.writeFileSync(random, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 2654435761) >>> 24)));
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const cases: [string, RegExp][] = [
      [fifo, /not a regular file/],
      [path.join(dir, 'nope'), /no such file/],
      [truncated, /truncated: 1000 bytes, its header describes 4096/],
      [short, /truncated: 3 bytes/],
      [random, /not a ring: magic/],
      [dir, /is a directory/],
    ];
    for (const [file, message] of cases) {
      const r = aioring(['inspect', file]);
      expect(r.status).toBe(2);
      expect(oneLine(r)).toMatch(message);
    }
    // another user's 0600 file, read by a root without capabilities (the
    // checkout itself may sit where only root may go)
    const locked = path.join(dir, 'locked');
    fs.writeFileSync(locked, fs.readFileSync(ringFile('legacy', 127, 1)), { mode: 0o600 });
    fs.chownSync(locked, 65534, 65534);
    const r = aioring(['inspect', locked], { prefix: WITHOUT_CAPABILITIES });
    expect(r.status).toBe(2);
    expect(oneLine(r)).toMatch(/permission denied/);
  });
});

describe('20 the CLI: convert', () => {
  test('legacy -> v2 -> legacy keeps the pending events in order; IN is never modified; the legacy output meets the CRIU invariants', () => {
    const input = ringFile('legacy', 127, 6, 124);
    const before = fs.readFileSync(input);
    const v2 = path.join(dir, 'converted.v2');
    const r = aioring(['convert', input, v2, '--to', 'v2']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/converted legacy ring .* 6 pending events -> a v2 ring of 128 entries/);
    expect(fs.readFileSync(input).equals(before)).toBe(true);
    const events = (file: string): string[] => json<{ events: { data: string; res: string }[] }>(aioring(['inspect', file, '--events', '--json'])).events.map((e) => `${e.data}:${e.res}`);
    expect(events(v2)).toEqual(events(input));
    const back = path.join(dir, 'converted.legacy');
    const j = json<Record<string, any>>(aioring(['convert', v2, back, '--to', 'legacy', '--json']));
    expect(j).toMatchObject({ from: 'v2', to: 'legacy', pending: 6, written: true });
    expect(events(back)).toEqual(events(input));
    const out = fs.readFileSync(back);
    const word = (o: number): number => out.readUInt32LE(o);
    expect(word(28)).toBe(32); // header_length
    expect(word(4)).toBe((out.length - 32) / 32); // nr == (size - 32) / 32
    expect(word(8)).toBeLessThan(word(4));
    expect(word(12)).toBeLessThan(word(4));
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('refuses with the counts when the events do not fit; --dry-run writes nothing; OUT is never half-written', () => {
    const input = ringFile('v2', 256, 200);
    const out = path.join(dir, 'small');
    const r = aioring(['convert', input, out, '--to', 'legacy', '--nr', '100']);
    expect(r.status).toBe(1);
    expect(oneLine(r)).toMatch(/refused: 200 pending events .* do not fit a legacy ring of nr 127 \(126 events at most\)/);
    expect(fs.existsSync(out)).toBe(false);
    const dry = aioring(['convert', input, out, '--to', 'legacy', '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toMatch(/^would convert v2 ring .* 200 pending events -> a legacy ring of nr 383/);
    expect(fs.existsSync(out)).toBe(false);
    fs.writeFileSync(out, 'keep me');
    expect(oneLine(aioring(['convert', input, out, '--to', 'legacy']))).toMatch(/exists \(--force replaces it\)/);
    expect(fs.readFileSync(out, 'utf8')).toBe('keep me');
    expect(aioring(['convert', input, out, '--to', 'legacy', '--force']).status).toBe(0);
    expect(json(aioring(['inspect', out, '--json']))).toMatchObject({ layout: 'legacy', pending: 200 });
  });

  test('bad input: a bad ring, IN as OUT, a wrong size option: one line, exit 2', () => {
    const input = ringFile('legacy', 127, 1);
    for (const args of [
      ['convert', input, input, '--to', 'v2', '--force'],
      ['convert', input, path.join(dir, 'x'), '--to', 'v2', '--entries', '100'],
      ['convert', input, path.join(dir, 'x'), '--to', 'legacy', '--entries', '128'],
      ['convert', path.join(dir, 'random-missing'), path.join(dir, 'x'), '--to', 'v2'],
    ]) {
      const r = aioring(args);
      expect(r.status).toBe(2);
      oneLine(r);
    }
  });
});

describeKernel("20 the CLI: inspect a live process's kernel rings", () => {
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill('SIGKILL'));

  async function holder(pending: number): Promise<{ pid: number; context: string }> {
    child = spawn(process.execPath, ['-r', path.join(__dirname, 'workers', 'tsRequire.js'), path.join(__dirname, 'workers', 'holdAioContext.ts'), String(pending)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const id = await new Promise<string>((resolve, reject) => {
      child!.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
      child!.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
    });
    return { pid: child.pid!, context: `0x${id}` };
  }

  test('--pid finds the [aio] mapping, reads its header through /proc/PID/mem, and counts the pending completions', async () => {
    const { pid, context } = await holder(5);
    const j = json<Record<string, any>>(aioring(['inspect', '--pid', String(pid), '--events', '--json']));
    expect(j).toMatchObject({ pid, comm: 'node', uid: 0 });
    expect(j.rings).toHaveLength(1);
    expect(j.rings[0]).toMatchObject({ context, nr: legacyNr(32), head: 0, tail: 5, pending: 5, valid: true });
    expect(j.rings[0].events.map((e: { data: string }) => e.data)).toEqual(['100', '101', '102', '103', '104']);
    const human = aioring(['inspect', '--pid', String(pid)]);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^${pid}\\s+node\\s+${context}\\s+${legacyNr(32)}\\s+0\\s+5\\s+5\\s+valid$`, 'm'));
    const all = json<{ processes: { pid: number }[] }>(aioring(['inspect', '--all', '--json']));
    expect(all.processes.map((p) => p.pid)).toContain(pid);
    const watch = aioring(['inspect', '--pid', String(pid), '--watch', '--interval', '0.1', '--count', '2', '--json']);
    const samples = watch.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(samples).toHaveLength(2);
    for (const s of samples) expect(s).toMatchObject({ pid, rings: [expect.objectContaining({ pending: 5 })] });
  });

  test("a root without capabilities is told what is missing to read a full root process's rings", async () => {
    const { pid } = await holder(1);
    const r = aioring(['inspect', '--pid', String(pid)], { prefix: WITHOUT_CAPABILITIES });
    expect(r.status).toBe(1);
    expect(oneLine(r)).toMatch(
      new RegExp(`cannot read /proc/${pid}/(maps|mem) \\((EACCES|EPERM)\\): process ${pid} is uid 0 like you but holds capabilities you lack \\(you have no CAP_SYS_PTRACE\\).*; .*ptrace_scope`),
    );
    const all = aioring(['inspect', '--all'], { prefix: WITHOUT_CAPABILITIES });
    expect(all.status).toBe(0);
    expect(all.stdout).toMatch(/processes could not be read: other users' or more privileged ones/);
  });

  test('a PID that does not exist, or is not a number: one line, exit 2', () => {
    for (const pid of ['4194304', 'abc', '-3']) {
      const r = aioring(['inspect', '--pid', pid]);
      expect(r.status).toBe(2);
      oneLine(r);
    }
  });
});
