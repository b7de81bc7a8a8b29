// `aioring inspect FILE | --pid PID | --all [--watch]`: decode a ring file
// of either layout, or the kernel AIO rings of live processes.
import { setTimeout as sleep } from 'node:timers/promises';
import { allProcessRings, ProcessRings, processRings } from '../ring/procRings';
import { decodeRing, formatRing } from '../ring/ringReport';
import { EXIT_FINDINGS, EXIT_OK, InputError, printJson, printLines, readUserFile, table } from './support';

export interface InspectOptions {
  file?: string;
  pid?: number;
  all: boolean;
  events: boolean;
  watch: boolean;
  interval: number;
  count?: number;
  json: boolean;
}

function inspectFile(file: string, o: InspectOptions): number {
  const report = decodeRing(readUserFile(file), file, { events: o.events });
  if (o.json) printJson({ file, ...report });
  else printLines([file, ...formatRing(report, o.events)]);
  return report.invalidField === null ? EXIT_OK : EXIT_FINDINGS;
}

function processRows(procs: ProcessRings[]): (string | number)[][] {
  const rows: (string | number)[][] = [['PID', 'COMMAND', 'CONTEXT', 'NR', 'HEAD', 'TAIL', 'PENDING', 'HEADER']];
  for (const p of procs) {
    for (const r of p.rings) {
      rows.push([p.pid, p.comm, r.context, r.nr, r.head, r.tail, r.pending ?? '-', r.valid ? 'valid' : `bad ${r.report.invalidField}`]);
    }
  }
  return rows;
}

function sample(o: InspectOptions): { json: unknown; lines: string[]; findings: boolean } {
  if (o.pid !== undefined) {
    const p = processRings(o.pid, { events: o.events });
    const lines =
      p.rings.length === 0
        ? [`process ${p.pid} (${p.comm}) has no kernel AIO contexts`]
        : [`process ${p.pid} (${p.comm}), uid ${p.uid}: ${p.rings.length} kernel AIO context(s)`, ...table(processRows([p]))];
    if (o.events) {
      for (const r of p.rings) {
        lines.push('', `context ${r.context}:`, ...formatRing(r.report, true));
      }
    }
    const json = { pid: p.pid, comm: p.comm, uid: p.uid, rings: p.rings.map(({ report, ...r }) => ({ ...r, fields: report.fields, events: report.events })) };
    return { json, lines, findings: p.rings.some((r) => !r.valid) };
  }
  const all = allProcessRings();
  const lines =
    all.processes.length === 0 ? ['no process has kernel AIO contexts'] : table(processRows(all.processes));
  if (all.unreadable > 0) lines.push(`(${all.unreadable} processes could not be read: other users' or more privileged ones; run as root with CAP_SYS_PTRACE to see them)`);
  const json = {
    processes: all.processes.map((p) => ({ pid: p.pid, comm: p.comm, uid: p.uid, rings: p.rings.map(({ report: _r, ...r }) => r) })),
    unreadable: all.unreadable,
  };
  return { json, lines, findings: all.processes.some((p) => p.rings.some((r) => !r.valid)) };
}

export async function runInspect(o: InspectOptions): Promise<number> {
  const targets = [o.file !== undefined, o.pid !== undefined, o.all].filter(Boolean).length;
  if (targets !== 1) throw new InputError('EINVAL', 'inspect', 'inspect takes one of FILE, --pid PID or --all');
  if (o.file !== undefined) {
    if (o.watch) throw new InputError('EINVAL', 'inspect', '--watch goes with --pid or --all');
    return inspectFile(o.file, o);
  }
  if (!(o.interval > 0)) throw new InputError('EINVAL', 'inspect', '--interval must be a positive number of seconds');
  const samples = o.count ?? (o.watch ? Infinity : 1);
  let findings = false;
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(o.interval * 1000);
    const s = sample(o);
    findings ||= s.findings;
    if (o.json) printJson(o.watch ? { time: new Date().toISOString(), ...(s.json as object) } : s.json);
    else printLines(o.watch ? [`-- ${new Date().toISOString()}`, ...s.lines] : s.lines);
  }
  return findings ? EXIT_FINDINGS : EXIT_OK;
}
