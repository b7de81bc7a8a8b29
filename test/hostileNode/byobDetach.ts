// A read in flight on a FIFO nobody writes to yet; a BYOB reader of a web
// ReadableStream then takes the read's ArrayBuffer (node's webstreams detach
// it natively, past markAsUntransferable). Reports whether the buffer was
// taken; then lets the read complete.
import * as fs from 'node:fs';
import { setup } from '../../src/index';

async function main(): Promise<void> {
  const fifo = process.argv[2];
  const ctx = setup(8, { backend: 'threadpool', threads: 1, inlineReads: false });
  const fd = fs.openSync(fifo, fs.constants.O_RDWR);
  const ab = new ArrayBuffer(4096);
  const read = ctx.read(fd, new Uint8Array(ab), 0);
  while (ctx.inflight === 0) await new Promise((r) => setImmediate(r));
  const before = ab.byteLength;
  let refused = false;
  try {
    const stream = new ReadableStream({ type: 'bytes' });
    void stream.getReader({ mode: 'byob' }).read(new Uint8Array(ab)).catch(() => undefined);
  } catch {
    refused = true;
  }
  const after = ab.byteLength;
  fs.writeSync(fd, Buffer.alloc(4096, 1));
  const bytes = await read;
  ctx.destroy();
  fs.closeSync(fd);
  console.log(JSON.stringify({ before, after, refused, bytes }));
}
void main();
