// `aioring` with no arguments: doctor, then a short tour on a temporary
// file: real reads through a legacy context and a v2 context whose rings
// live in files, each ring's header before, with events pending and after,
// each one's throughput, and what the legacy readers see of each ring.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { AioContext, IocbInit, setup, SETUP_V2 } from '../../src/index';
import { ReaderView } from '../ring/legacyReaders';
import { decodeRing } from '../ring/ringReport';
import { doctor, DoctorReport, formatDoctor } from './doctor';
import { hex, printJson, printLines, table } from './support';

const BLOCK = 4096;
const FILE_BLOCKS = 1024;
const DEPTH = 32;
const PENDING = 8;
const SECONDS = 1;

export interface TourLayout {
  layout: 'legacy' | 'v2';
  ringFile: string;
  /** header words before any I/O, with PENDING events unreaped, after the run */
  header: { before: Record<string, number>; pending: Record<string, number>; after: Record<string, number> };
  readers: ReaderView[];
  throughput: { reads: number; seconds: number; iops: number; mibPerSec: number };
  backend: string;
}

export interface TourReport {
  doctor: DoctorReport;
  tour: { dataFile: string; layouts: TourLayout[]; seconds: number };
}

/** The header words worth watching, read from the ring's file. */
function headerWords(ringFile: string): { words: Record<string, number>; readers: ReaderView[] } {
  const r = decodeRing(fs.readFileSync(ringFile), ringFile);
  const pick = r.layout === 'legacy' ? ['nr', 'head', 'tail', 'magic', 'incompat_features'] : ['nr', 'legacy_head', 'legacy_tail', 'magic', 'incompat_features', 'entries', 'head', 'tail'];
  const words: Record<string, number> = {};
  for (const f of r.fields) if (pick.includes(f.field)) words[f.field] = f.value;
  words.pending = r.pending ?? -1;
  return { words, readers: r.readers };
}

function read(fd: number, buffer: Buffer, block: number, data: number): IocbInit {
  return { opcode: 'pread', fd, buffer, position: block * BLOCK, data };
}

/** PENDING reads left unreaped in the ring, so its header shows them. */
async function leavePending(ctx: AioContext, fd: number): Promise<void> {
  const bufs = Array.from({ length: PENDING }, () => Buffer.alloc(BLOCK));
  ctx.submit(bufs.map((b, i) => read(fd, b, i, i)));
  for (let waited = 0; ctx.ring.count() < PENDING && waited < 5000; waited++) await sleep(1);
}

/** Random 4 KiB reads at depth DEPTH for SECONDS. */
async function measure(ctx: AioContext, fd: number): Promise<TourLayout['throughput']> {
  const bufs = Array.from({ length: DEPTH }, () => Buffer.alloc(BLOCK));
  let x = 0x9e3779b9;
  const nextBlock = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % FILE_BLOCKS;
  };
  const start = performance.now();
  const end = start + SECONDS * 1000;
  let reads = 0;
  ctx.submit(bufs.map((b, i) => read(fd, b, nextBlock(), i)));
  let inflight = DEPTH;
  while (inflight > 0) {
    const events = await ctx.getEvents(1, DEPTH);
    inflight -= events.length;
    const again: IocbInit[] = [];
    for (const e of events) {
      if (e.res !== BLOCK) throw new Error(`a tour read returned ${e.res}`);
      reads++;
      if (performance.now() < end) again.push(read(fd, bufs[Number(e.data)], nextBlock(), Number(e.data)));
    }
    if (again.length > 0) inflight += ctx.submit(again);
  }
  const seconds = (performance.now() - start) / 1000;
  return { reads, seconds, iops: Math.round(reads / seconds), mibPerSec: +((reads * BLOCK) / (1 << 20) / seconds).toFixed(1) };
}

async function tourLayout(layout: 'legacy' | 'v2', ringDir: string, fd: number): Promise<TourLayout> {
  const ringFile = path.join(ringDir, `${layout}-ring`);
  const ctx = setup(64, { flags: layout === 'v2' ? SETUP_V2 : 0, memory: { path: ringFile } });
  try {
    const before = headerWords(ringFile).words;
    await leavePending(ctx, fd);
    const pending = headerWords(ringFile);
    await ctx.getEvents(PENDING, PENDING);
    const throughput = await measure(ctx, fd);
    const after = headerWords(ringFile).words;
    return { layout, ringFile, header: { before, pending: pending.words, after }, readers: pending.readers, throughput, backend: ctx.backend.name };
  } finally {
    ctx.destroy();
  }
}

function scratchDir(): string {
  const shm = '/dev/shm';
  try {
    fs.accessSync(shm, fs.constants.W_OK);
    return fs.mkdtempSync(path.join(shm, 'aioring-tour-'));
  } catch {
    return fs.mkdtempSync(path.join(os.tmpdir(), 'aioring-tour-'));
  }
}

export async function tour(directPath: string): Promise<TourReport> {
  const started = performance.now();
  const report = doctor(directPath);
  const dir = scratchDir();
  const dataFile = path.join(dir, 'data');
  try {
    const data = Buffer.alloc(FILE_BLOCKS * BLOCK);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(Math.imul(i, 2654435761) >>> 0, i);
    fs.writeFileSync(dataFile, data, { mode: 0o600 });
    const fd = fs.openSync(dataFile, 'r');
    try {
      const layouts = [await tourLayout('legacy', dir, fd), await tourLayout('v2', dir, fd)];
      return { doctor: report, tour: { dataFile, layouts, seconds: +((performance.now() - started) / 1000).toFixed(2) } };
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function formatLayout(t: TourLayout): string[] {
  const names = Object.keys(t.header.before);
  const show = (field: string, v: number): string => (field === 'magic' ? hex(v) : String(v));
  const rows: (string | number)[][] = [['field', 'before', `${PENDING} pending`, 'after']];
  for (const n of names) rows.push([n, show(n, t.header.before[n]), show(n, t.header.pending[n]), show(n, t.header.after[n])]);
  return [
    `${t.layout} ring (${t.backend} backend), ring file ${path.basename(t.ringFile)}:`,
    ...table(rows).map((l) => `  ${l}`),
    `  throughput: ${t.throughput.iops.toLocaleString('en-US')} reads/s of 4 KiB (${t.throughput.mibPerSec} MiB/s, ${t.throughput.reads} reads)`,
    `  what legacy readers see with ${PENDING} events pending:`,
    ...table(t.readers.map((r) => [r.reader, r.outcome + (r.events ? ` (${r.events} events)` : ''), `checks ${r.checks}`])).map((l) => `    ${l}`),
  ];
}

export async function runTour(directPath: string, json: boolean): Promise<number> {
  const r = await tour(directPath);
  if (json) {
    printJson(r);
  } else {
    const lines = [...formatDoctor(r.doctor), '', `tour: ${DEPTH} random 4 KiB reads in flight on a ${(FILE_BLOCKS * BLOCK) >> 20} MiB file, ${SECONDS} s per ring`, ''];
    for (const t of r.tour.layouts) lines.push(...formatLayout(t), '');
    const [l, v] = r.tour.layouts;
    lines.push(
      `v2/legacy throughput ${(v.throughput.iops / l.throughput.iops).toFixed(2)}x; the v2 ring's legacy head and tail stayed ${v.header.after.legacy_head} and ${v.header.after.legacy_tail} while its own tail moved to ${v.header.after.tail}`,
      `tour took ${r.tour.seconds} s`,
    );
    printLines(lines);
  }
  return r.doctor.findings.length === 0 ? 0 : 1;
}
