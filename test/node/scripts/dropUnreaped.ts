// Child process (item 1 of issue 13's remainder), run with --expose-gc: a
// context dropped without destroy() whose raw-submitted requests completed
// but were never reaped is collected (nothing it holds needs the
// JavaScript object any more); one dropped with a request still running
// (a poll on a FIFO) is not, until that request ends. Meanwhile GC runs
// as completions of other dropped contexts arrive.
// argv: config name, pattern file, two FIFOs. Prints a JSON report.
import * as fs from 'node:fs';
import { AioContext } from '../../../src/index';
import { held, settle } from './lifecycle';
import { BLOCK, readBlocks, setupNamed } from './common';

const gc = (globalThis as { gc?: () => void }).gc!;
const collected = new Set<string>();
const registry = new FinalizationRegistry<string>((name) => collected.add(name));

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Submit polls of a ready FIFO nobody reaps (not cached reads: those
 * complete inside the submit); return once the ring holds their events.
 */
async function unreaped(config: string, fd: number, name: string): Promise<number> {
  const ctx = setupNamed(config);
  registry.register(ctx, name);
  const n = ctx.submit(Array.from({ length: 4 }, (_, i) => ({ opcode: 'poll', fd, events: 1, data: i })));
  while (ctx.ring.count() < n) await new Promise((resolve) => setTimeout(resolve, 1));
  return n;
}

/** A poll that stays running until somebody writes to the FIFO. */
function running(config: string, fd: number, name: string): number {
  const ctx: AioContext = setupNamed(config);
  registry.register(ctx, name);
  return ctx.submit([{ opcode: 'poll', fd, events: 1, data: 7 }]);
}

/** Contexts dropped with reads in flight while GC runs: completions arrive as their contexts may be collected. */
async function dropDuringCompletions(config: string, fd: number, rounds: number): Promise<number> {
  let good = 0;
  for (let i = 0; i < rounds; i++) {
    const ctx = setupNamed(config);
    ctx.submit(Array.from({ length: 8 }, (_, k) => ({ opcode: 'pread', fd, buffer: new Uint8Array(BLOCK), position: (k % 16) * BLOCK })));
    gc();
    if (i % 8 === 0) good += await readBlocks(setupNamed(config), fd, i, 1);
  }
  return good;
}

async function main(): Promise<void> {
  const [config, file, fifo, readyFifo] = process.argv.slice(2);
  const fd = fs.openSync(file, 'r');
  const readyFd = fs.openSync(readyFifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const readyWriter = fs.openSync(readyFifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  fs.writeSync(readyWriter, 'x');
  // no writer yet: O_NONBLOCK opens without one (kernel AIO refuses a FIFO's poll opened O_RDWR)
  const pollFd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  // the first context starts what the process keeps (libuv's threads): count after it
  const first = setupNamed(config);
  await readBlocks(first, fd, 0, 1);
  first.destroy();
  await first.closed;
  const start = held();
  const queued = [await unreaped(config, readyFd, 'unreaped-1'), await unreaped(config, readyFd, 'unreaped-2'), running(config, pollFd, 'running')];
  await turns(30);
  const afterUnreaped = [...collected].sort();
  const duringPoll = held();
  // the poll's request ends: the context it kept becomes collectable
  const writer = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  fs.writeSync(writer, 'x');
  for (let i = 0; i < 300 && !collected.has('running'); i++) await turns(1);
  const afterPoll = [...collected].sort();
  const after = await settle(start, 250, gc);
  const good = await dropDuringCompletions(config, fd, 200);
  const afterChurn = await settle(start, 250, gc);
  for (const f of [writer, readyWriter, readyFd]) fs.closeSync(f);
  fs.closeSync(pollFd);
  fs.closeSync(fd);
  process.stdout.write(JSON.stringify({ queued, afterUnreaped, afterPoll, start, duringPoll, after, good, afterChurn }) + '\n');
}

void main();
