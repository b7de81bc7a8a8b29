// Descriptors opened O_NONBLOCK answer at once, as read(2) and write(2) do:
// EAGAIN where a pipe, FIFO or socket has no data or no room, on every
// backend, the same as node:fs on the same descriptor. io_uring polls such
// a file instead of failing, so before the engine ran them on the
// submitting thread (ROUTE_NOW in native/core/engine.c) a read of an empty
// non-blocking FIFO or socket, or a write to a full pipe, stayed pending
// for ever on auto and uring, and kept the process alive.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { open, setup, type AioContext } from '../../src/index';
import { tempDir } from '../helpers';

const BACKENDS = ['auto', 'threadpool', 'uring', 'kernel'] as const;
/** Long past any answer a non-blocking call gives: only a request that waits for readiness is still pending then. */
const PENDING_MS = 5000;

type Outcome = number | string;

/** The request's result or error code, or 'pending' if it waits for readiness. */
async function outcome(p: Promise<number>): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<Outcome>((resolve) => { timer = setTimeout(() => resolve('pending'), PENDING_MS); });
  try {
    return await Promise.race([p.then((n) => n, (e: NodeJS.ErrnoException) => e.code ?? String(e)), pending]);
  } finally {
    clearTimeout(timer);
  }
}

function fsOutcome(call: (done: (e: NodeJS.ErrnoException | null, n?: number) => void) => void): Promise<Outcome> {
  return new Promise((resolve) => call((e, n) => resolve(e ? (e.code ?? String(e)) : (n as number))));
}

async function onEach(what: (ctx: AioContext) => Promise<number>): Promise<Record<string, Outcome>> {
  const seen: Record<string, Outcome> = {};
  for (const backend of BACKENDS) {
    const ctx = setup(8, { backend });
    try {
      seen[backend] = await outcome(what(ctx));
    } finally {
      ctx.destroy();
    }
  }
  return seen;
}

function same(value: Outcome): Record<string, Outcome> {
  return Object.fromEntries(BACKENDS.map((b) => [b, value]));
}

/** A FIFO opened read-write and O_NONBLOCK (so it has a writer and never reports end of file). */
function fifo(): number {
  const file = path.join(tempDir(), 'fifo');
  execFileSync('mkfifo', [file]);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  fs.rmSync(file);
  return fd;
}

test('a read of an empty O_NONBLOCK FIFO is EAGAIN on every backend, as node:fs', async () => {
  const fd = fifo();
  try {
    const expected = await fsOutcome((done) => fs.read(fd, Buffer.alloc(16), 0, 16, null, done));
    expect(expected).toBe('EAGAIN');
    expect(await onEach((ctx) => ctx.read(fd, Buffer.alloc(16), 0))).toEqual(same(expected));
    // with data there, each backend reads it: the stream's bytes, once
    const got: string[] = [];
    for (const backend of BACKENDS) {
      fs.writeSync(fd, `data:${backend}`);
      const ctx = setup(8, { backend });
      try {
        const b = Buffer.alloc(64);
        const n = await ctx.read(fd, b, 0);
        got.push(b.subarray(0, n).toString());
      } finally {
        ctx.destroy();
      }
    }
    expect(got).toEqual(BACKENDS.map((b) => `data:${b}`));
  } finally {
    fs.closeSync(fd);
  }
});

test('a write to a full O_NONBLOCK FIFO is EAGAIN on every backend, as node:fs', async () => {
  const fd = fifo();
  try {
    const block = Buffer.alloc(65536, 1);
    for (;;) {
      try {
        fs.writeSync(fd, block);
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).toBe('EAGAIN');
        break;
      }
    }
    const expected = await fsOutcome((done) => fs.write(fd, Buffer.alloc(16), 0, 16, null, done));
    expect(expected).toBe('EAGAIN');
    expect(await onEach((ctx) => ctx.write(fd, Buffer.alloc(16), 0))).toEqual(same(expected));
  } finally {
    fs.closeSync(fd);
  }
});

test('a read of a connected non-blocking socket with nothing sent is EAGAIN on every backend, as node:fs', async () => {
  const server = net.createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  // the socket's descriptor, non-blocking as libuv made it; nothing is ever sent to it
  client.pause();
  const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
  try {
    expect(fs.fstatSync(fd).isSocket()).toBe(true);
    const expected = await fsOutcome((done) => fs.read(fd, Buffer.alloc(16), 0, 16, null, done));
    expect(expected).toBe('EAGAIN');
    expect(await onEach((ctx) => ctx.read(fd, Buffer.alloc(16), 0))).toEqual(same(expected));
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('O_NONBLOCK on a regular file changes nothing: reads and writes as without it, on every backend', async () => {
  const file = path.join(tempDir(), 'regular');
  const content = Buffer.alloc(64 * 1024);
  for (let i = 0; i < content.length; i++) content[i] = (i * 7) & 255;
  fs.writeFileSync(file, content);
  for (const backend of BACKENDS) {
    const ctx = setup(8, { backend });
    const h = await open(file, fs.constants.O_RDWR | fs.constants.O_NONBLOCK, 0o600, { context: ctx });
    try {
      const b = Buffer.alloc(4096);
      expect((await h.read(b, 0, 4096, 8192)).bytesRead).toBe(4096);
      expect(b.equals(content.subarray(8192, 8192 + 4096))).toBe(true);
      const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
      try {
        expect(await ctx.write(fd, Buffer.from(backend), 0)).toBe(backend.length);
        expect(await ctx.read(fd, b, 0)).toBe(4096);
        expect(b.subarray(0, backend.length).toString()).toBe(backend);
      } finally {
        fs.closeSync(fd);
      }
    } finally {
      await h.close();
      ctx.destroy();
    }
  }
});
