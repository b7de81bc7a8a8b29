// Child process: set up contexts and print what backend each got, and
// what features() says of the backends, as JSON. With a file (argv[2]),
// the auto context first reads its first block O_DIRECT: what auto says at
// setup, that read's result and what auto says after it.
import * as fs from 'node:fs';
import { alignedBuffer, setup } from '../../src/context';
import { features } from '../../src/features';

async function main(): Promise<void> {
  const out: Record<string, unknown> = { features: features().backends };
  const file = process.argv[2];
  for (const backend of ['auto', 'kernel', 'threadpool', 'uring'] as const) {
    try {
      const ctx = setup(16, { backend });
      if (backend === 'auto' && file) {
        out.autoAtSetup = ctx.backend;
        const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
        const buf = alignedBuffer(4096);
        out.directRead = { bytes: await ctx.read(fd, buf, 0), fives: buf.every((b) => b === 5) };
        fs.closeSync(fd);
      }
      out[backend] = ctx.backend;
      ctx.destroy();
    } catch (e) {
      out[backend] = { error: (e as { code?: string }).code };
    }
  }
  process.stdout.write(JSON.stringify(out));
}

void main();
