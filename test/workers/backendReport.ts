// Child process: set up contexts and print what backend each got, as JSON.
import { setup } from '../../src/context';

const out: Record<string, unknown> = {};
for (const backend of ['auto', 'kernel', 'threadpool'] as const) {
  try {
    const ctx = setup(16, { backend });
    out[backend] = ctx.backend;
    ctx.destroy();
  } catch (e) {
    out[backend] = { error: (e as { code?: string }).code };
  }
}
process.stdout.write(JSON.stringify(out));
