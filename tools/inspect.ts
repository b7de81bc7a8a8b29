// `aioring inspect <file>`: validate a ring file and print its header.
import { attachRingFile } from '../src/memory';
import { LegacyRing } from '../src/legacyRing';

export function runInspect(file: string, json: boolean): void {
  const { ring, layout, mapping } = attachRingFile(file);
  try {
    const info =
      ring instanceof LegacyRing
        ? { layout, nr: ring.nr, head: ring.head, tail: ring.tail, ready: ring.count(), bytes: mapping.length }
        : {
            layout,
            entries: ring.entries,
            features: ring.features,
            setupFlags: ring.setupFlags,
            head: ring.head,
            tail: ring.tail,
            ready: ring.count(),
            bytes: mapping.length,
          };
    if (json) process.stdout.write(`${JSON.stringify(info)}\n`);
    else for (const [k, v] of Object.entries(info)) process.stdout.write(`${k.padEnd(12)} ${v}\n`);
  } finally {
    mapping.release();
  }
}
