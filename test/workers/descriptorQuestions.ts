// Child process, run under strace: 200 awaited reads on a FileHandle from
// open(), then 50 awaited writes through the context's own write (a
// descriptor nobody vouches for), each in a turn of its own; prints the
// two descriptors so the parent can count the fcntl calls made on each.
import * as fs from 'node:fs';
import { defaultContext, open } from '../../src/index';

async function main(): Promise<void> {
  const [file, other] = process.argv.slice(2);
  const h = await open(file, 'r');
  const buf = Buffer.alloc(4096);
  for (let i = 0; i < 200; i++) await h.read(buf, 0, 4096, (i % 16) * 4096);
  const fd = fs.openSync(other, 'w');
  const ctx = defaultContext();
  for (let i = 0; i < 50; i++) await ctx.write(fd, buf, i * 4096);
  fs.closeSync(fd);
  process.stdout.write(`${h.fd} ${fd}\n`);
  await h.close();
  ctx.destroy();
}

void main();
