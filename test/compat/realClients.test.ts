// 32 real libaio clients through the drop-in: unmodified Debian programs
// that link libaio.so.1 (QEMU's qemu-io and qemu-img, sysbench, the
// thin-provisioning tools), each run with its own data verification in
// every mode of the drop-in and, in the same test, on Debian's libaio as
// the reference; exit status, the program's verdict and the data compared.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { shimPath } from '../../src/shim';
import { aioring, json } from '../cliRun';
import { dropInModes, libaioBindings, linkedLibaio, mappedRings, probeWhileRunning, reference, which } from '../dropIn';
import { directDir, rng } from '../helpers';

const programs = { qemuIo: which('qemu-io'), qemuImg: which('qemu-img'), sysbench: which('sysbench'), thinRestore: which('thin_restore'), thinCheck: which('thin_check'), thinDump: which('thin_dump') };
const missing = Object.entries(programs).filter(([, p]) => p === null).map(([name]) => name);
// CI sets AIORING_REQUIRE_CLIENTS=1 (.ci/run installs them): there a missing program fails instead of skipping
const required = process.env.AIORING_REQUIRE_CLIENTS === '1';
if (missing.length > 0 && !required) process.stdout.write(`skipping the real libaio clients: ${missing.join(', ')} not installed\n`);
const describeClients = missing.length === 0 || required ? describe : describe.skip;
const bin = (name: keyof typeof programs): string => programs[name] ?? name;

const digestText = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
const digest = (file: string): string => digestText(fs.readFileSync(file));

interface Run {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function run(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Run {
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL', maxBuffer: 64 << 20 });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** The same workload on Debian's libaio, then in each mode of the drop-in: every outcome beside the reference's. */
function differential<T>(modes: [string, NodeJS.ProcessEnv][], workload: (env: NodeJS.ProcessEnv) => T): { reference: T; modes: Record<string, T> } {
  const ref = workload(reference[1]);
  return { reference: ref, modes: Object.fromEntries(modes.map(([name, env]) => [name, workload(env)])) };
}

function expectAllSame<T>(result: { reference: T; modes: Record<string, T> }): void {
  expect(result.modes).toEqual(Object.fromEntries(Object.keys(result.modes).map((name) => [name, result.reference])));
}

const BLOCK = 4096;
const v2Modes = dropInModes.filter(([, env]) => env.AIORING_RING === 'v2');
const engineLegacyAndDefault = dropInModes.filter(([, env]) => env.AIORING_RING !== 'v2');

describeClients('32 real libaio clients through the drop-in', () => {
  const dir = directDir();

  test('each links libaio.so.1, and under LD_PRELOAD its libaio calls bind to the drop-in', () => {
    for (const p of Object.values(programs)) expect([p, linkedLibaio(p!)]).toEqual([p, expect.stringMatching(/libaio\.so\.1$/)]);
    const img = path.join(dir, 'bind.img');
    fs.writeFileSync(img, Buffer.alloc(64 * 1024));
    const symbols = ['io_setup', 'io_submit', 'io_destroy'];
    const bound = libaioBindings([bin('qemuIo'), '-f', 'raw', '--aio', 'native', '-t', 'none', '-c', 'write 0 4k', img], { LD_PRELOAD: shimPath }, dir, symbols);
    expect(bound).toEqual(Object.fromEntries(symbols.map((s) => [s, [shimPath]])));
    const xml = path.join(dir, 'bind.xml');
    fs.writeFileSync(xml, thinXml(10, 1));
    const meta = path.join(dir, 'bind.meta');
    fs.writeFileSync(meta, Buffer.alloc(8 << 20));
    const thin = libaioBindings([bin('thinRestore'), '-i', xml, '-o', meta], { LD_PRELOAD: shimPath }, dir, ['io_setup', 'io_submit', 'io_getevents']);
    expect(thin).toEqual({ io_setup: [shimPath], io_submit: [shimPath], io_getevents: [shimPath] });
    const sb = libaioBindings([bin('sysbench'), 'fileio', '--file-num=1', '--file-total-size=64K', '--file-test-mode=rndrd', '--file-io-mode=async', '--events=16', '--time=0', 'run'], { LD_PRELOAD: shimPath }, dir, ['io_queue_init', 'io_submit', 'io_getevents']);
    expect(sb).toEqual({ io_queue_init: [shimPath], io_submit: [shimPath], io_getevents: [shimPath] });
  });

  test.each([reference, ...dropInModes])("qemu-io's context in %s is the ring that mode promises", async (_name, env) => {
    const img = path.join(dir, 'rings.img');
    fs.writeFileSync(img, Buffer.alloc(64 * 1024));
    const { seen, status } = await probeWhileRunning([bin('qemuIo'), '-f', 'raw', '--aio', 'native', '-t', 'none', img], env, 'info\n', /format name: raw/, mappedRings);
    expect(status).toBe(0);
    const engine = env.AIORING_RING;
    // the default mode's context is the kernel's; AIORING_RING=v2 (buffered I/O
    // inside io_submit) hands the program's iocbs to a kernel context of its own,
    // made at io_setup as the kernel's is (the direct route); the other engine
    // contexts make theirs only at their first O_DIRECT request, and qemu-io made none yet
    const direct = engine === 'v2' && env.AIORING_ASYNC_BUFFERED !== '1';
    expect(seen).toEqual({
      dropInLoaded: env.LD_PRELOAD === shimPath,
      kernel: !engine || direct ? 1 : 0,
      legacy: engine === 'legacy' ? 1 : 0,
      v2: engine === 'v2' ? 1 : 0,
    });
  });

  describe('qemu-io: O_DIRECT writes and reads submitted without waiting, each block its own pattern, read back with -P', () => {
    const blocks = 256;
    const pattern = (i: number): number => (i * 37 + 1) & 0xff;
    function commands(depth: number, size: number): string[] {
      const c: string[] = [];
      for (const op of ['aio_write', 'aio_read']) {
        for (let i = 0; i < blocks; i++) {
          c.push('-c', `${op} -P ${pattern(i)} ${i * size} ${size}`);
          if ((i + 1) % depth === 0) c.push('-c', 'aio_flush');
        }
        c.push('-c', 'aio_flush');
      }
      return c;
    }
    function workload(depth: number, size: number) {
      return (env: NodeJS.ProcessEnv) => {
        const img = path.join(dir, `qio-${depth}-${size}.img`);
        fs.writeFileSync(img, Buffer.alloc(blocks * size));
        const r = run([bin('qemuIo'), '-f', 'raw', '--aio', 'native', '-t', 'none', ...commands(depth, size), img], env, dir);
        const lines = r.stdout.split('\n');
        return {
          status: r.status,
          signal: r.signal,
          stderr: r.stderr,
          verifyFailures: lines.filter((l) => l.startsWith('Pattern verification failed')).sort(),
          completions: lines.filter((l) => /^(wrote|read) \d+\/\d+ bytes at offset \d+$/.test(l)).sort(),
          data: digest(img),
        };
      };
    }
    test.each([
      [1, 4096],
      [16, 4096],
      [256, 4096],
      [32, 65536],
    ])('%i between flushes, %i-byte blocks: as Debian libaio, every pattern verified (v2 below)', (depth, size) => {
      const result = differential(engineLegacyAndDefault, workload(depth, size));
      expect(result.reference).toMatchObject({ status: 0, verifyFailures: [] });
      expect(result.reference.completions).toHaveLength(2 * blocks);
      expectAllSame(result);
    });
  });

  test.each([1, 8, 16])('qemu-img convert -m %i -W (O_DIRECT, out-of-order writes), verified by qemu-img compare: as Debian libaio (v2 below)', (coroutines) => {
    const size = 8 << 20;
    const src = path.join(dir, 'convert-src.img');
    const next = rng(coroutines);
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4) data.writeUInt32LE(next(), i);
    fs.writeFileSync(src, data);
    const opts = (file: string): string => `driver=raw,file.driver=file,file.filename=${file},file.aio=native,file.cache.direct=on`;
    const result = differential(engineLegacyAndDefault, (env) => {
      const dst = path.join(dir, 'convert-dst.img');
      fs.writeFileSync(dst, Buffer.alloc(size));
      const convert = run([bin('qemuImg'), 'convert', '-n', '-m', String(coroutines), '-W', '-S', '0', '--image-opts', opts(src), '--target-image-opts', opts(dst)], env, dir);
      const compare = run([bin('qemuImg'), 'compare', '--image-opts', opts(src), opts(dst)], env, dir);
      return { convert: [convert.status, convert.stderr], compare: [compare.status, compare.stdout.trim()], data: digest(dst) };
    });
    expect(result.reference).toEqual({ convert: [0, ''], compare: [0, 'Images are identical.'], data: digest(src) });
    expectAllSame(result);
  });

  test('QEMU in v2 mode: its own ring reader checks no magic (aioring audit says so) and sees no completion on a v2 ring: the documented exception', async () => {
    for (const p of [bin('qemuIo'), bin('qemuImg')]) {
      const r = json<{ results: { verdict: string; v2Safe: boolean }[] }>(aioring(['audit', p, '--json']));
      expect(r.results[0]).toMatchObject({ verdict: 'unchecked', v2Safe: false });
    }
    // the reference write completes; in v2 mode the same write never does, and the run is ended after a bound
    const img = path.join(dir, 'v2.img');
    fs.writeFileSync(img, Buffer.alloc(64 * 1024));
    const argv = [bin('qemuIo'), '-f', 'raw', '--aio', 'native', '-t', 'none', '-c', 'aio_write -P 0xab 0 4k', '-c', 'aio_flush', '-c', 'read -P 0xab 0 4k', img];
    expect(run(argv, {}, dir)).toMatchObject({ status: 0, stdout: expect.stringMatching(/^read 4096\/4096 bytes at offset 0$/m) });
    const outcomes = await Promise.all(
      v2Modes.map(
        ([, env]) =>
          new Promise<{ wrote: boolean; ended: string | null }>((resolve) => {
            const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
            let out = '';
            child.stdout.on('data', (d: Buffer) => (out += d.toString()));
            const bound = setTimeout(() => child.kill('SIGKILL'), 10000);
            child.on('exit', (_code, signal) => {
              clearTimeout(bound);
              resolve({ wrote: /^wrote /m.test(out), ended: signal });
            });
          }),
      ),
    );
    expect(outcomes).toEqual(v2Modes.map(() => ({ wrote: false, ended: 'SIGKILL' })));
  });

  describe('sysbench fileio --file-io-mode=async', () => {
    const common = ['--file-num=4', '--file-total-size=8M', `--file-block-size=${BLOCK}`];
    function sysbench(env: NodeJS.ProcessEnv, cwd: string, args: string[]): Run {
      return run([bin('sysbench'), 'fileio', ...common, ...args], env, cwd);
    }
    /** sysbench's own check of every block it wrote (checksum and offset), synchronous, without libaio. */
    function validateAll(cwd: string): Run {
      return sysbench({}, cwd, ['--validate=on', '--file-test-mode=seqrd', `--events=${(8 << 20) / BLOCK}`, '--time=0', 'run']);
    }
    /** The program's verdicts: its exit, its FATAL lines, the requests it counted. */
    function verdict(r: Run) {
      return {
        status: r.status,
        signal: r.signal,
        fatal: r.stdout.split('\n').filter((l) => l.startsWith('FATAL')),
        events: /total number of events:\s+(\d+)/.exec(r.stdout)?.[1] ?? null,
      };
    }
    function workload(backlog: number, testMode: string, extra: string[]) {
      return (env: NodeJS.ProcessEnv) => {
        const cwd = fs.mkdtempSync(path.join(dir, 'sb-'));
        const prepare = sysbench({}, cwd, ['--validate=on', 'prepare']);
        expect(prepare.status).toBe(0);
        const r = sysbench(env, cwd, [`--file-test-mode=${testMode}`, `--file-async-backlog=${backlog}`, '--events=4000', '--time=0', '--rand-seed=1', ...extra, 'run']);
        const after = verdict(validateAll(cwd));
        fs.rmSync(cwd, { recursive: true });
        return { run: verdict(r), after };
      };
    }
    const cases: [string, number, string, string[]][] = [];
    for (const backlog of [1, 8, 64]) for (const mode of ['rndrw', 'seqrewr']) cases.push([`buffered --validate=on --file-test-mode=${mode}`, backlog, mode, ['--validate=on']]);
    // sysbench checks a read's buffer, and reuses one buffer per thread for the next write, as soon as
    // io_submit returns: right only where the kernel has finished the request by then, buffered I/O.
    // With O_DIRECT it fails on Debian's libaio too, so O_DIRECT runs without --validate.
    for (const backlog of [8, 64]) cases.push(['O_DIRECT --file-test-mode=rndrd', backlog, 'rndrd', ['--file-extra-flags=direct']]);
    const syncModes = dropInModes.filter(([, env]) => env.AIORING_ASYNC_BUFFERED !== '1');
    test.each(cases)("%s, backlog %i: as Debian's libaio in every mode without asynchronous buffered completion", (_label, backlog, testMode, extra) => {
      const result = differential(syncModes, workload(backlog, testMode, extra));
      expect(result.reference).toMatchObject({ run: { status: 0, fatal: [], events: '4000' }, after: { status: 0, fatal: [] } });
      expectAllSame(result);
    });

    test("AIORING_ASYNC_BUFFERED=1 changes exactly the timing sysbench relies on: where it fails, it fails only by its own validation, never by a signal or an I/O error", () => {
      const asyncModes = dropInModes.filter(([, env]) => env.AIORING_ASYNC_BUFFERED === '1');
      const result = differential(asyncModes, workload(64, 'rndrw', ['--validate=on']));
      expect(result.reference).toMatchObject({ run: { status: 0, fatal: [] }, after: { status: 0, fatal: [] } });
      for (const outcome of Object.values(result.modes)) {
        expect(outcome.run.signal).toBeNull();
        for (const line of [...outcome.run.fatal, ...outcome.after.fatal]) expect(line).toMatch(/^FATAL: +(Validation failed|Checksum mismatch|Offset mismatch|Calculated value|Actual offset)/);
      }
    });
  });

  describe('thin-provisioning-tools: thin_restore writes metadata with O_DIRECT, hundreds of writes in flight; thin_check and thin_dump read it back', () => {
    function workload(mappings: number, devices: number) {
      const xml = path.join(dir, `thin-${mappings}-${devices}.xml`);
      fs.writeFileSync(xml, thinXml(mappings, devices));
      return (env: NodeJS.ProcessEnv) => {
        const meta = path.join(dir, 'thin.meta');
        fs.writeFileSync(meta, Buffer.alloc(32 << 20));
        const restore = run([bin('thinRestore'), '-i', xml, '-o', meta], env, dir);
        const check = run([bin('thinCheck'), meta], env, dir);
        const dump = run([bin('thinDump'), meta], env, dir);
        return { restore: [restore.status, restore.stderr], check: [check.status, check.stdout, check.stderr], dump: [dump.status, digestText(dump.stdout)], data: digest(meta) };
      };
    }
    test.each([
      [50, 1],
      [20000, 2],
      [30000, 3],
    ])("%i mappings on %i devices: as Debian's libaio in every mode, the dump the same mappings", (mappings, devices) => {
      const result = differential(dropInModes, workload(mappings, devices));
      expect(result.reference).toMatchObject({ restore: [0, ''], check: [0, expect.any(String), expect.any(String)], dump: [0, expect.any(String)] });
      expectAllSame(result);
    });
  });
});

/** A thin-pool metadata document: devices with mappings at scattered origins (seeded). */
function thinXml(mappings: number, devices: number): string {
  const next = rng(mappings * 31 + devices);
  const lines = ['<superblock uuid="" time="1" transaction="2" flags="0" version="2" data_block_size="128" nr_data_blocks="4000000">'];
  let data = 0;
  for (let dev = 0; dev < devices; dev++) {
    const origins = new Set<number>();
    while (origins.size < mappings) origins.add(next() % (1 << 22));
    lines.push(`  <device dev_id="${dev}" mapped_blocks="${mappings}" transaction="0" creation_time="0" snap_time="0">`);
    for (const o of [...origins].sort((a, b) => a - b)) lines.push(`    <single_mapping origin_block="${o}" data_block="${data++}" time="0"/>`);
    lines.push('  </device>');
  }
  lines.push('</superblock>');
  return `${lines.join('\n')}\n`;
}
