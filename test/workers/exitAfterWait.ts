// Child process: kernel contexts that waited (their eventfd poll left
// running, unreferenced, after the wait) and then saw completions nobody
// waited for; the script ends without destroy and the process must exit.
import * as fs from 'node:fs';
import { setup, SETUP_KERNEL_RING, SETUP_V2 } from '../../src/context';

async function main(): Promise<void> {
  const fd = fs.openSync(process.argv[2], 'r');
  for (const flags of [SETUP_KERNEL_RING, 0, SETUP_V2]) {
    const ctx = setup(16, { backend: 'kernel', flags });
    const buf = Buffer.alloc(512);
    ctx.submit([{ opcode: 'pread', fd, buffer: buf, position: 0, data: 1 }]);
    // a real wait: two asked for, one submitted, so it times out holding the loop
    const got = await ctx.getEvents(2, 2, 30);
    ctx.submit([{ opcode: 'pread', fd, buffer: buf, position: 0, data: 2 }]);
    process.stdout.write(`${got.length}\n`);
  }
}

void main();
