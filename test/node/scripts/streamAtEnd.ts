// Child process (row 3, streams on the pool): argv config, a FIFO, and the
// scenario. 'write': a write bigger than the pipe's room, nobody reading,
// then destroy. 'race': four reads of one byte racing on the FIFO, a byte
// written, then destroy, 40 times over (the losers must stay cancellable).
// Prints a JSON report of how the requests settled.
import * as fs from 'node:fs';
import { setupNamed } from './common';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const [config, fifo, scenario] = process.argv.slice(2);
  // O_RDWR: its own writer and reader, so nothing sees end of file or EPIPE
  const fd = fs.openSync(fifo, fs.constants.O_RDWR);
  if (scenario === 'write') {
    const ctx = setupNamed(config);
    const wrote = ctx.write(fd, new Uint8Array(1 << 20), 0).then(
      (n) => ({ resolved: n }),
      (e: NodeJS.ErrnoException) => ({ rejected: e.code }),
    );
    await sleep(50);
    ctx.destroy();
    const settled = await wrote;
    process.stdout.write(JSON.stringify({ settled }) + '\n');
    return;
  }
  let bytes = 0;
  let cancelled = 0;
  const other: string[] = [];
  for (let round = 0; round < 40; round++) {
    const ctx = setupNamed(config);
    const reads = [0, 1, 2, 3].map(() =>
      ctx.read(fd, new Uint8Array(1), 0).then(
        (n) => void (bytes += n),
        (e: NodeJS.ErrnoException) => void (e.code === 'ECANCELED' ? cancelled++ : other.push(String(e.code))),
      ),
    );
    await sleep(10);
    fs.writeSync(fd, 'Z');
    await sleep(10);
    ctx.destroy();
    await Promise.all(reads);
  }
  process.stdout.write(JSON.stringify({ bytes, cancelled, other }) + '\n');
}

void main();
