// Child process: set up contexts and print what backend each got, and
// what features() says of the backends, as JSON.
import { setup } from '../../src/context';
import { features } from '../../src/features';

const out: Record<string, unknown> = { features: features().backends };
for (const backend of ['auto', 'kernel', 'threadpool', 'uring'] as const) {
  try {
    const ctx = setup(16, { backend });
    out[backend] = ctx.backend;
    ctx.destroy();
  } catch (e) {
    out[backend] = { error: (e as { code?: string }).code };
  }
}
process.stdout.write(JSON.stringify(out));
