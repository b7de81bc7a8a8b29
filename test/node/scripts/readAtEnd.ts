// Child process (row 3, reads): a promise read of a FIFO that has a writer
// but no data (the read waits for ever) is in flight when the context is
// destroyed. argv: config name, the FIFO. Prints a JSON report: how the
// read settled, and whether destroy returned at once (the event loop's
// 1 ms timer kept firing while it finished).
import * as fs from 'node:fs';
import { open } from '../../../src/index';
import { setupNamed } from './common';

async function main(): Promise<void> {
  const [config, fifo] = process.argv.slice(2);
  const ctx = setupNamed(config);
  // r+ (O_RDWR): the descriptor is its own writer, so the read blocks rather
  // than seeing end of file; position null: the current one, as a pipe has no other
  const handle = await open(fifo, 'r+', undefined, { context: ctx });
  const read = handle.read(new Uint8Array(16), 0, 16, null).then(
    (r) => ({ resolved: r.bytesRead }),
    (e: NodeJS.ErrnoException) => ({ rejected: e.code }),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const closed = ctx.destroy();
  const settled = await read;
  await closed;
  await new Promise((resolve) => setTimeout(resolve, 20));
  clearInterval(timer);
  fs.closeSync(handle.fd);
  process.stdout.write(JSON.stringify({ settled, ticked: ticks > 0 }) + '\n');
}

void main();
