// 29 raw io_* system calls on the drop-in's contexts (issue 12 item 4, row
// 10 of its table). An InnoDB-style program (test/fixtures/raw_reap.c,
// built here with -laio) sets up and submits through libaio and reaps with
// the raw io_getevents system call from threads, verifies its data, then
// makes the raw calls' edge cases. Built twice: through libc's syscall()
// (the drop-in's libc route) and with syscall instructions of its own (the
// dispatch route). Each is run against Debian's libaio and with the drop-in
// preloaded in every mode, and every line must match, but the one that says
// whether the context is the kernel's (asserted on its own). Then where the
// dispatch route cannot be had (a seccomp filter fails its prctl): the
// switch is refused with one line on stderr and the kernel's contexts are
// kept; where only the inclusive mode is missing (kernels before 6.17) the
// exclusive one serves. And what `aioring audit` says of these binaries.
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { aioring, json } from '../cliRun';
import { describeKernel, directDir, tempDir } from '../helpers';
import { Side, sideEnv } from './sides';

const FIXTURES = path.join(__dirname, '..', 'fixtures');

type Variant = 'syscall()' | 'inline';
const VARIANTS: Variant[] = ['syscall()', 'inline'];
const DROP_IN_SIDES: Side[] = ['drop-in', 'legacy', 'v2'];
const KERNEL_RING = /^kernel ring=/;

let built: { exe: Record<Variant, string>; deny: string; dir: string } | undefined;

function fixtures(): { exe: Record<Variant, string>; deny: string; dir: string } {
  if (!built) {
    const out = tempDir();
    const cc = (source: string, exe: string, defines: string[], libs: string[] = []): string => {
      const file = path.join(out, exe);
      execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', ...defines, path.join(FIXTURES, source), '-o', file, ...libs]);
      return file;
    };
    built = {
      exe: {
        'syscall()': cc('raw_reap.c', 'raw_reap_libc', ['-DREAP_INLINE=0'], ['-laio', '-lpthread']),
        inline: cc('raw_reap.c', 'raw_reap_inline', ['-DREAP_INLINE=1'], ['-laio', '-lpthread']),
      },
      deny: cc('deny_dispatch.c', 'deny_dispatch', []),
      dir: directDir(),
    };
  }
  return built;
}

interface Run {
  lines: string[];
  stderr: string;
  kernelRing: string | undefined;
}

/** The fixture on one side; deny runs it under deny_dispatch with that mode. */
function run(variant: Variant, side: Side, deny?: 'all' | 'inclusive'): Run {
  const { exe, dir, deny: launcher } = fixtures();
  const env = sideEnv(side);
  const [command, args] = deny ? [launcher, [deny, exe[variant], dir]] : [exe[variant], [dir]];
  const r = spawnSync(command, args, { env, encoding: 'utf8', timeout: 120000, killSignal: 'SIGKILL' });
  // a failed raw reap prints why as its last line (EINVAL: the kernel does not know the context)
  expect({ status: r.status, signal: r.signal, last: r.status === 0 ? '' : r.stdout.trimEnd().split('\n').pop() }).toEqual({ status: 0, signal: null, last: '' });
  const all = r.stdout.trimEnd().split('\n');
  return { lines: all.filter((l) => !KERNEL_RING.test(l)), stderr: r.stderr, kernelRing: all.find((l) => KERNEL_RING.test(l)) };
}

const reference = new Map<Variant, Run>();
function libaio(variant: Variant): Run {
  if (!reference.has(variant)) {
    const r = run(variant, 'libaio');
    expect(r).toMatchObject({ stderr: '', kernelRing: 'kernel ring=1' });
    expect(r.lines).toContain('verified bytes=1048576 of 1048576');
    reference.set(variant, r);
  }
  return reference.get(variant)!;
}

describeKernel('29 raw io_* system calls on the drop-in', () => {
  describe.each(VARIANTS)('reaped through %s', (variant) => {
    test.each(DROP_IN_SIDES)('%s: every line as with Debian libaio, data verified', (side) => {
      const want = libaio(variant);
      const got = run(variant, side);
      expect(got.stderr).toBe('');
      expect(got.lines).toEqual(want.lines);
      // the default mode is the kernel's contexts; the opt-ins are the engine's
      expect(got.kernelRing).toBe(side === 'drop-in' ? 'kernel ring=1' : 'kernel ring=0');
    });
  });

  test('no syscall user dispatch: AIORING_RING is refused in one line for inline raw calls, and the kernel contexts do the work', () => {
    for (const side of ['legacy', 'v2'] as Side[]) {
      const got = run('inline', side, 'all');
      expect(got.stderr).toBe(
        `aioring: AIORING_RING=${side} refused: ${fixtures().exe.inline} makes raw io_* system calls and syscall user dispatch is unavailable (Operation not permitted); using the kernel's contexts\n`,
      );
      expect(got.kernelRing).toBe('kernel ring=1');
      expect(got.lines).toEqual(libaio('inline').lines);
    }
  });

  test('no syscall user dispatch: a program whose raw calls go through syscall() keeps its opt-in (the libc route needs none)', () => {
    const got = run('syscall()', 'v2', 'all');
    expect(got).toMatchObject({ stderr: '', kernelRing: 'kernel ring=0' });
    expect(got.lines).toEqual(libaio('syscall()').lines);
  });

  test('no inclusive dispatch (kernels before 6.17): the exclusive mode around the other objects serves', () => {
    const got = run('inline', 'v2', 'inclusive');
    expect(got).toMatchObject({ stderr: '', kernelRing: 'kernel ring=0' });
    expect(got.lines).toEqual(libaio('inline').lines);
  });

  test('aioring audit: libaio plus raw calls, named with the route that covers them, and v2-safe only where that route can be had', () => {
    interface Report {
      verdict: string;
      v2Safe: boolean;
      rawRoute: string;
      rawVia: { inline: string[]; libc: string[] };
      reason: string;
    }
    const audit = (file: string, prefix?: string[]): Report => json<{ results: Report[] }>(aioring(['audit', file, '--json'], { prefix })).results[0];
    const { exe, deny } = fixtures();
    const calls = ['io_destroy', 'io_getevents', 'io_pgetevents', 'io_setup', 'io_submit'];
    expect(audit(exe['syscall()'])).toMatchObject({ verdict: 'mixes-raw', v2Safe: true, rawRoute: 'libc', rawVia: { inline: [], libc: calls } });
    const inline = audit(exe.inline);
    expect(inline).toMatchObject({ verdict: 'mixes-raw', v2Safe: true, rawRoute: 'dispatch', rawVia: { inline: calls, libc: [] } });
    expect(inline.reason).toMatch(/the dispatch route; Linux \S+ has syscall user dispatch; v2-safe/);
    // under a filter that may deny the prctl, no promise for inline calls; syscall() ones stay covered
    const denied = audit(exe.inline, [deny, 'all']);
    expect(denied).toMatchObject({ verdict: 'mixes-raw', v2Safe: false, rawRoute: 'dispatch' });
    expect(denied.reason).toMatch(/a seccomp filter is in force here.*NOT safe for v2 \(the drop-in refuses AIORING_RING/);
    expect(audit(exe['syscall()'], [deny, 'all'])).toMatchObject({ v2Safe: true, rawRoute: 'libc' });
  });
});
