// Child process (row 3): a poll that never becomes ready is in flight when
// the context is destroyed, or when the process ends without destroying it.
// argv: config name, 'destroy' or 'exit', a FIFO nobody writes to.
// Prints a JSON report; with 'exit' the process must then end by itself.
import * as fs from 'node:fs';
import { setupNamed } from './common';

async function main(): Promise<void> {
  const [config, how, fifo] = process.argv.slice(2);
  // no writer ever comes, and O_NONBLOCK opens without one (kernel AIO refuses a FIFO's poll opened O_RDWR)
  const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const ctx = setupNamed(config);
  const queued = ctx.submit([{ opcode: 'poll', fd, events: 1, data: 7 }]);
  if (how === 'exit') {
    process.stdout.write(JSON.stringify({ queued }) + '\n');
    return;
  }
  // a waiter for it is pending too: destroy settles it with what arrived
  const waiting = ctx.getEvents(1, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  ctx.destroy();
  const events = await waiting;
  fs.closeSync(fd);
  process.stdout.write(JSON.stringify({ queued, events: events.map((e) => ({ data: Number(e.data), res: e.res })) }) + '\n');
}

void main();
