#!/usr/bin/env node
// npm run bench:ring [-- --json] [--events N] [--repeat N]
//
// Cross-thread single-producer/single-consumer: native producer and
// consumer threads pinned to two CPUs, legacy ring vs v2 ring, reap batch
// 1, 4, 32, 256, ring size 128 and 4096. Throughput runs the producer flat
// out (median of --repeat runs); latency paces it at one event per
// --period ns so p50/p99 measure the ring, not a full queue. A second table
// measures the v2 index spacing: consumer head 128 bytes after the
// producer's tail (the layout) vs 64 bytes (adjacent lines). A third
// measures the consumer written in TypeScript: LegacyRing / V2Ring reaping
// on Node's thread out of the memory a C producer thread publishes into,
// beside the C consumer's figure for the same cell.
import * as fs from 'node:fs';
import * as os from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BenchCellResult, testAddon } from '../../test/native';
import { EventBatch, LegacyRing, V2Ring } from '../../src';

const BATCHES = [1, 4, 32, 256];
const SIZES = [128, 4096];

interface Cell {
  layout: string;
  batch: number;
  entries: number;
  eventsPerSec: number;
  p50Ns: number;
  p99Ns: number;
  /** reap calls that found events / found none, producer waits: per event */
  reapsPerEvent: number;
  emptyReapsPerEvent: number;
  fullWaitsPerEvent: number;
}

interface JsCell {
  layout: string;
  batch: number;
  entries: number;
  jsEventsPerSec: number;
  cEventsPerSec: number;
  jsVsC: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function measure(layout: string, batch: number, entries: number, events: number, repeat: number, period: number): Cell {
  const runs: BenchCellResult[] = [];
  for (let i = 0; i < repeat; i++) runs.push(testAddon.benchRing(layout, batch, entries, events));
  const paced = testAddon.benchRing(layout, batch, entries, Math.max(1000, Math.floor(events / 20)), period);
  if (runs.some((r) => r.outOfOrder !== 0) || paced.outOfOrder !== 0) {
    throw new Error(`${layout} delivered events out of order: the ring is broken`);
  }
  return {
    layout,
    batch,
    entries,
    eventsPerSec: Math.round(median(runs.map((r) => r.eventsPerSec))),
    p50Ns: Math.round(paced.p50Ns),
    p99Ns: Math.round(paced.p99Ns),
    reapsPerEvent: +median(runs.map((r) => r.reapsPerEvent)).toFixed(4),
    emptyReapsPerEvent: +median(runs.map((r) => r.emptyReapsPerEvent)).toFixed(4),
    fullWaitsPerEvent: +median(runs.map((r) => r.fullWaitsPerEvent)).toFixed(4),
  };
}

// One run of the TypeScript consumer: reap(batch) until every event came,
// checking the sequence as the C consumer does. Events per second.
function jsConsume(layout: string, batch: number, entries: number, events: number): number {
  const producer = new testAddon.RingProducer(layout, entries, events);
  const ring = layout === 'legacy' ? new LegacyRing(producer.memory) : new V2Ring(producer.memory);
  const out = new EventBatch(batch);
  let outOfOrder = 0;
  const seconds = testAddon.runPinned(1, () => {
    producer.start();
    const t0 = process.hrtime.bigint();
    for (let got = 0; got < events; ) {
      const n = ring.reap(out, batch);
      for (let i = 0; i < n; i++) if (out.data(i) !== got + i) outOfOrder++;
      got += n;
    }
    return Number(process.hrtime.bigint() - t0) / 1e9;
  });
  producer.join();
  if (outOfOrder !== 0) throw new Error(`the TypeScript ${layout} consumer saw events out of order: the ring is broken`);
  return events / seconds;
}

function measureJs(c: Cell, events: number, repeat: number): JsCell {
  const runs: number[] = [];
  for (let i = 0; i < repeat; i++) runs.push(jsConsume(c.layout, c.batch, c.entries, events));
  const js = Math.round(median(runs));
  return { layout: c.layout, batch: c.batch, entries: c.entries, jsEventsPerSec: js, cEventsPerSec: c.eventsPerSec, jsVsC: +(js / c.eventsPerSec).toFixed(2) };
}

// The CPU as /proc/cpuinfo names it, and the hypervisor if there is one.
interface Machine {
  cpus: number;
  vendor: string;
  model: string;
  family: string;
  modelNumber: string;
  virtualised: string;
  kernel: string;
  node: string;
  /** one cache line from CPU 1 to CPU 0 and back, ns */
  lineRoundTripNs: number;
}

function machineInfo(): Machine {
  const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const field = (name: string): string => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1] ?? 'unknown';
  const flags = field('flags').split(' ');
  return {
    cpus: os.cpus().length,
    vendor: field('vendor_id'),
    model: field('model name'),
    family: field('cpu family'),
    modelNumber: field('model'),
    virtualised: flags.includes('hypervisor') ? 'yes' : 'no',
    kernel: os.release(),
    node: process.version,
    lineRoundTripNs: +median([1, 2, 3].map(() => testAddon.lineRoundTrip(200_000))).toFixed(1),
  };
}

function main(): void {
  const argv = yargs(hideBin(process.argv))
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' })
    .option('events', { type: 'number', default: 4_000_000, describe: 'events per throughput run' })
    .option('repeat', { type: 'number', default: 3, describe: 'throughput runs per cell (median)' })
    .option('period', { type: 'number', default: 2000, describe: 'ns between events in the latency run' })
    .strict()
    .parseSync();

  const cells: Cell[] = [];
  const jsCells: JsCell[] = [];
  const ratios: { batch: number; entries: number; v2VsLegacy: number }[] = [];
  const spacing: { batch: number; entries: number; spacing128: number; spacing64: number; ratio: number }[] = [];
  for (const entries of SIZES) {
    for (const batch of BATCHES) {
      const legacy = measure('legacy', batch, entries, argv.events, argv.repeat, argv.period);
      const v2 = measure('v2', batch, entries, argv.events, argv.repeat, argv.period);
      const adjacent = measure('v2-adjacent', batch, entries, argv.events, argv.repeat, argv.period);
      cells.push(legacy, v2);
      jsCells.push(measureJs(legacy, argv.events, argv.repeat), measureJs(v2, argv.events, argv.repeat));
      ratios.push({ batch, entries, v2VsLegacy: +(v2.eventsPerSec / legacy.eventsPerSec).toFixed(2) });
      spacing.push({
        batch,
        entries,
        spacing128: v2.eventsPerSec,
        spacing64: adjacent.eventsPerSec,
        ratio: +(v2.eventsPerSec / adjacent.eventsPerSec).toFixed(2),
      });
    }
  }
  const machine = machineInfo();

  if (argv.json) {
    process.stdout.write(`${JSON.stringify({ machine, cells, ratios, spacing, js: jsCells })}\n`);
    return;
  }
  const mops = (x: number): string => (x / 1e6).toFixed(1).padStart(7);
  const lines = [
    `machine: ${machine.cpus} CPUs, ${machine.vendor} ${machine.model} (family ${machine.family} model ${machine.modelNumber}${
      machine.virtualised === 'yes' ? ', virtualised' : ''
    }), Linux ${machine.kernel}, Node ${machine.node}`,
    `a cache line from CPU 1 to CPU 0 and back: ${machine.lineRoundTripNs} ns`,
    `events/s in millions (median of ${argv.repeat} x ${argv.events}); latency ns at one event per ${argv.period} ns`,
    '',
    'entries batch |  legacy      v2   v2/legacy | legacy p50  p99 |   v2 p50  p99',
  ];
  for (const r of ratios) {
    const l = cells.find((c) => c.layout === 'legacy' && c.batch === r.batch && c.entries === r.entries)!;
    const v = cells.find((c) => c.layout === 'v2' && c.batch === r.batch && c.entries === r.entries)!;
    lines.push(
      `${String(r.entries).padStart(7)} ${String(r.batch).padStart(5)} | ${mops(l.eventsPerSec)} ${mops(v.eventsPerSec)} ${(
        r.v2VsLegacy.toFixed(2) + 'x'
      ).padStart(11)} | ${String(l.p50Ns).padStart(10)} ${String(l.p99Ns).padStart(4)} | ${String(v.p50Ns).padStart(8)} ${String(
        v.p99Ns,
      ).padStart(4)}`,
    );
  }
  lines.push('', 'v2 index spacing: head 128 bytes after tail (layout) vs 64 bytes', 'entries batch |    128      64  128/64');
  for (const s of spacing) {
    lines.push(
      `${String(s.entries).padStart(7)} ${String(s.batch).padStart(5)} | ${mops(s.spacing128)} ${mops(s.spacing64)} ${(
        s.ratio.toFixed(2) + 'x'
      ).padStart(7)}`,
    );
  }
  lines.push('', 'reap calls per event (found events / found none), producer waits for room per event', 'entries batch | legacy reaps empty  waits |     v2 reaps empty  waits');
  for (const r of ratios) {
    const l = cells.find((c) => c.layout === 'legacy' && c.batch === r.batch && c.entries === r.entries)!;
    const v = cells.find((c) => c.layout === 'v2' && c.batch === r.batch && c.entries === r.entries)!;
    const f = (x: number): string => x.toFixed(3).padStart(6);
    lines.push(`${String(r.entries).padStart(7)} ${String(r.batch).padStart(5)} |       ${f(l.reapsPerEvent)} ${f(l.emptyReapsPerEvent)} ${f(l.fullWaitsPerEvent)} |        ${f(v.reapsPerEvent)} ${f(v.emptyReapsPerEvent)} ${f(v.fullWaitsPerEvent)}`);
  }
  lines.push('', 'TypeScript consumer (LegacyRing / V2Ring.reap on Node\'s thread) vs the C consumer, same ring, C producer', 'entries batch | legacy   js      c   js/c |     v2   js      c   js/c');
  for (const r of ratios) {
    const l = jsCells.find((c) => c.layout === 'legacy' && c.batch === r.batch && c.entries === r.entries)!;
    const v = jsCells.find((c) => c.layout === 'v2' && c.batch === r.batch && c.entries === r.entries)!;
    lines.push(`${String(r.entries).padStart(7)} ${String(r.batch).padStart(5)} |   ${mops(l.jsEventsPerSec)}${mops(l.cEventsPerSec)} ${(l.jsVsC.toFixed(2) + 'x').padStart(6)} |   ${mops(v.jsEventsPerSec)}${mops(v.cEventsPerSec)} ${(v.jsVsC.toFixed(2) + 'x').padStart(6)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
