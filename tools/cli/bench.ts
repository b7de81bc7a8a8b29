// `aioring bench [ring|io|fio]`: run one of the benchmarks (tools/bench/*.ts,
// also `npm run bench:*`) in a child process, show its progress on stderr
// (a terminal only), and print the ratio table; --svg also draws the ratios.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { progressBar } from './progress';
import { asInputError, CommandFailure, EXIT_OK, printJson, printLines, table } from './support';

export type BenchKind = 'ring' | 'io' | 'fio';

export interface Ratio {
  label: string;
  value: number;
  /** the target the benchmark states, when it has one */
  target?: string;
}

/** Short runs for a smoke test: the numbers are noisy, the shape is the same. */
const QUICK: Record<BenchKind, string[]> = {
  ring: ['--events', '200000', '--repeat', '1'],
  io: ['--seconds', '0.3', '--rounds', '1', '--size', '32'],
  fio: ['--seconds', '1', '--rounds', '1', '--size', '64'],
};

interface RingJson {
  ratios: { batch: number; entries: number; v2VsLegacy: number }[];
  spacing: { batch: number; entries: number; ratio: number }[];
}
interface IoJson {
  ratios: { hotVsFsPromises: number | null; hotVsFsRead: number | null; directVsFio: number | null; directCpuVsFio: number | null };
}
interface FioJson {
  ratios: { shimVsKernelReap0: number; shimVsKernelReap1: number };
}

export function ratiosOf(kind: BenchKind, result: unknown): Ratio[] {
  if (kind === 'ring') {
    const r = result as RingJson;
    return [
      ...r.ratios.map((x) => ({ label: `v2/legacy, ${x.entries} entries, batch ${x.batch}`, value: x.v2VsLegacy })),
      ...r.spacing.map((x) => ({ label: `v2 spacing 128/64, ${x.entries} entries, batch ${x.batch}`, value: x.ratio })),
    ];
  }
  if (kind === 'io') {
    const r = (result as IoJson).ratios;
    const out: Ratio[] = [];
    if (r.hotVsFsPromises !== null) out.push({ label: 'hot IOPS vs fs.promises', value: r.hotVsFsPromises, target: '>= 5x' });
    if (r.hotVsFsRead !== null) out.push({ label: 'hot IOPS vs fs.read', value: r.hotVsFsRead, target: '>= 2.5x' });
    if (r.directVsFio !== null) out.push({ label: 'O_DIRECT IOPS vs fio libaio', value: r.directVsFio, target: '>= 0.9x' });
    if (r.directCpuVsFio !== null) out.push({ label: 'O_DIRECT CPU/IO vs fio libaio', value: r.directCpuVsFio, target: '<= 1.5x' });
    return out;
  }
  const r = (result as FioJson).ratios;
  return [
    { label: 'shim vs kernel libaio, userspace_reap=0', value: r.shimVsKernelReap0, target: '>= 0.95x' },
    { label: 'shim vs kernel libaio, userspace_reap=1', value: r.shimVsKernelReap1, target: '>= 0.95x' },
  ];
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A horizontal bar per ratio, with the 1.0x line marked. */
export function ratioSvg(title: string, ratios: Ratio[]): string {
  const rowH = 24;
  const labelW = 330;
  const barW = 360;
  const max = Math.max(1.2, ...ratios.map((r) => r.value)) * 1.1;
  const x = (v: number): number => labelW + (v / max) * barW;
  const height = 50 + ratios.length * rowH + 20;
  const rows = ratios.map((r, i) => {
    const y = 40 + i * rowH;
    return [
      `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${escapeXml(r.label)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${(x(r.value) - labelW).toFixed(1)}" height="${rowH - 8}" fill="${r.value >= 1 ? '#3a7' : '#c63'}"/>`,
      `<text x="${(x(r.value) + 6).toFixed(1)}" y="${y + 15}">${r.value.toFixed(2)}x${r.target ? ` (target ${escapeXml(r.target)})` : ''}</text>`,
    ].join('');
  });
  const one = x(1).toFixed(1);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + barW + 170}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...rows,
    `<line x1="${one}" y1="36" x2="${one}" y2="${height - 24}" stroke="#333" stroke-dasharray="4 3"/>`,
    `<text x="${one}" y="${height - 8}" text-anchor="middle">1.0x</text>`,
    '</svg>',
    '',
  ].join('\n');
}

/** Run tools/bench/KIND in a child with --json; its stderr lines become progress. */
function runChild(kind: BenchKind, extra: string[]): Promise<unknown> {
  const script = path.join(__dirname, '..', 'bench', `${kind}${path.extname(__filename)}`);
  if (!fs.existsSync(script)) {
    // bench ring drives the C rings through the test-only addon, which an install does not ship
    return Promise.reject(new CommandFailure(`bench ${kind} runs from a checkout of aioring (npm run build:test), not from an installed package`));
  }
  const child = spawn(process.execPath, [...process.execArgv, script, '--json', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const bar = progressBar(`bench ${kind}`);
  const started = Date.now();
  let out = '';
  let err = '';
  let label = 'starting';
  const tick = setInterval(() => bar.update(Math.round((Date.now() - started) / 1000), 0, `s  ${label}`), 200);
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    label = err.trimEnd().split('\n').pop() ?? label;
  });
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      clearInterval(tick);
      bar.end();
      try {
        resolve(JSON.parse(out));
      } catch {
        // an uncaught error's message, not the Node.js version line that ends its report
        const lines = err.trim().split('\n');
        const why = lines.find((l) => /^\w*Error: /.test(l)) ?? lines.pop() ?? 'no output';
        reject(new CommandFailure(`bench ${kind} failed (exit ${code}): ${why}`));
      }
    });
  });
}

export async function runBench(kind: BenchKind, o: { quick: boolean; svg?: string; json: boolean }): Promise<number> {
  if (o.svg !== undefined) {
    try {
      fs.accessSync(path.dirname(path.resolve(o.svg)), fs.constants.W_OK);
    } catch (e) {
      asInputError(e, path.dirname(o.svg));
    }
  }
  const result = await runChild(kind, o.quick ? QUICK[kind] : []);
  const ratios = ratiosOf(kind, result);
  if (o.svg !== undefined) fs.writeFileSync(o.svg, ratioSvg(`aioring bench ${kind}${o.quick ? ' (quick)' : ''}`, ratios));
  if (o.json) printJson({ kind, quick: o.quick, result, ratios });
  else {
    printLines([
      ...table([['ratio', 'measured', 'target'], ...ratios.map((r) => [r.label, `${r.value.toFixed(2)}x`, r.target ?? ''])]),
      ...(o.svg !== undefined ? [`chart written to ${o.svg}`] : []),
    ]);
  }
  return EXIT_OK;
}
