// Child process (a fresh shared pool each run): hostile uses of the pool
// through the Node API. Prints one JSON line.
//   poolHostile cross N DIR   N contexts each with a poll of a FIFO nobody
//                             writes, then another context writes a file
//   poolHostile same N DIR    one context of `threads` N, N such polls, then
//                             a write on it
//   poolHostile order 0 DIR   a threads:1 context: a write then a read of the
//                             same cached block, in one submit
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setup } from '../../src/context';
import type { IocbInit } from '../../src/iocb';

const WAIT_MS = 5000;

function fifo(dir: string): number {
  const file = path.join(dir, 'fifo');
  if (!fs.existsSync(file)) execFileSync('mkfifo', [file]);
  // read-write: never at end of file, never readable, so the poll pends
  return fs.openSync(file, fs.constants.O_RDWR);
}

async function main(): Promise<void> {
  const [mode, count, dir] = process.argv.slice(2);
  const n = Number(count);
  const file = path.join(dir, 'data');
  fs.writeFileSync(file, Buffer.alloc(4096, 'a'));
  fs.readFileSync(file);
  const fd = fs.openSync(file, 'r+');
  const held = [];
  let ctx;
  if (mode === 'cross') {
    for (let i = 0; i < n; i++) {
      const c = setup(8);
      c.submit([{ opcode: 'poll', fd: fifo(dir), events: 1, data: i }]);
      held.push(c);
    }
    ctx = setup(8);
  } else if (mode === 'same') {
    ctx = setup(64, { threads: n });
    for (let i = 0; i < n; i++) ctx.submit([{ opcode: 'poll', fd: fifo(dir), events: 1, data: 1000 + i }]);
  } else {
    ctx = setup(8, { threads: 1 });
  }
  const wrote = Buffer.alloc(4096, 'b');
  const read = Buffer.alloc(4096);
  const iocbs: IocbInit[] = [{ opcode: 'pwrite', fd, buffer: wrote, position: 0, data: 1 }];
  if (mode === 'order') iocbs.push({ opcode: 'pread', fd, buffer: read, position: 0, data: 2 });
  ctx.submit(iocbs);
  const events = [];
  while (events.length < iocbs.length) {
    const got = await ctx.getEvents(1, iocbs.length, WAIT_MS);
    if (got.length === 0) break;
    events.push(...got);
  }
  const out = {
    events: events.map((e) => Number(e.data)),
    res: events.map((e) => Number(e.res)),
    readSawWrite: mode === 'order' ? read.equals(wrote) : undefined,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  ctx.destroy();
  for (const c of held) c.destroy();
}

void main();
