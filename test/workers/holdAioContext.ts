// A live process holding a kernel AIO context with completions pending in
// its ring: `inspect --pid` reads it from outside. Prints the context id
// (hex) once the events are in the ring, then waits to be killed.
import * as fs from 'node:fs';
import { kernelSetup } from '../../src/kernel';
import { LegacyRing } from '../../src/legacyRing';

const pending = Number(process.argv[2]);
const ctx = kernelSetup(32);
const ring = new LegacyRing(ctx.ring);
const fd = fs.openSync('/proc/self/exe', 'r');
const bufs = Array.from({ length: pending }, () => new Uint8Array(512));
ctx.submitReads(fd, bufs, bufs.map((_, i) => i * 512), bufs.map((_, i) => 100 + i));
const wait = new Int32Array(new SharedArrayBuffer(4));
while (ring.count() < pending) Atomics.wait(wait, 0, 0, 1);
process.stdout.write(`${ctx.id.toString(16)}\n`);
setInterval(() => undefined, 1000);
