// 43 a hostile Node user: what a storage engine's first day found, each a
// reproduction. Child-process scenarios run compiled (helpers' compiledTree)
// so a crash is an exit signal, not a dead jest.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createReadStream, createWriteStream, defaultContext, open, readFile, setup, SETUP_V2, V2Header, v2RingBytes, writeFile } from '../src/index';
import { compiledTree, directDir, patternFile, tempDir } from './helpers';

// the shared context the calls without one made: a context left alive keeps the process's mover for the files jest runs next
afterAll(() => defaultContext().destroy());

const scripts = path.join('test', 'hostileNode');
let compiled: string | undefined;

function run(script: string, args: string[]): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  compiled ??= compiledTree([path.join('test', 'helpers.ts'), ...fs.readdirSync(path.join(__dirname, 'hostileNode')).map((f) => path.join(scripts, f))]);
  const r = spawnSync(process.execPath, [path.join(compiled, scripts, `${script}.js`), ...args], { encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL' });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { value: await call() };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { name: err.name, code: err.code, message: err.message, errno: err.errno, syscall: err.syscall };
  }
}

/** the calls both FileHandles share, as the append scenario makes them */
interface Appending {
  write(data: string): Promise<unknown>;
  read(buffer: Buffer, offset: number, length: number, position: null): Promise<{ bytesRead: number; buffer: Buffer }>;
  readFile(encoding: 'latin1'): Promise<string>;
  close(): Promise<void>;
}

describe('43 a hostile Node user', () => {
  test('workers that set up contexts exit (naturally or terminated mid-read) in a process whose main thread never loaded the library', () => {
    // the addon was unloaded with the last environment that loaded it, and
    // the uv handles that environment's teardown closed then called back into unmapped code
    // and a worker terminated while its wake callback ran could not throw into
    // JavaScript: the C++ exception that node-addon-api made of it ended the
    // process (std::terminate, 1 run in 5 or so), so the scenario runs 8 times
    const file = patternFile(tempDir(), 4);
    const outcomes = Array.from({ length: 8 }, () => {
      const r = run('workerOnly', [file, '12']);
      return { signal: r.signal, status: r.status, stdout: r.stdout.trim() };
    });
    expect(outcomes).toEqual(Array(8).fill({ signal: null, status: 0, stdout: JSON.stringify({ exited: 12 }) }));
  });

  test('a v2 ring in caller memory whose shared tail another thread forged: the calls waiting on it reject with EUCLEAN, nothing is thrown on the wake path', async () => {
    // the wake path's reap threw EUCLEAN as an uncaught exception (the process died)
    const memory = new SharedArrayBuffer(v2RingBytes(128));
    const ctx = setup(100, { flags: SETUP_V2, memory, backend: 'threadpool', threads: 1 });
    const fd = fs.openSync(patternFile(tempDir(), 1), 'r');
    try {
      Atomics.store(new Uint32Array(memory), V2Header.tail / 4, 1000);
      const code = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'resolved', (e: NodeJS.ErrnoException) => e.code);
      const read = code(ctx.read(fd, Buffer.alloc(16), 0));
      const waiting = code(ctx.getEvents(1, 1, 2000));
      expect(await Promise.all([read, waiting])).toEqual(['EUCLEAN', 'EUCLEAN']);
      // and so does the next call, when it next reads the ring
      expect(await code(ctx.read(fd, Buffer.alloc(16), 0))).toBe('EUCLEAN');
    } finally {
      fs.closeSync(fd);
      await ctx.destroy();
    }
  });

  test('workers terminated again and again with O_DIRECT reads in flight into alignedBuffer()s: no heap corruption', () => {
    // node-api freed an alignedBuffer at the worker's teardown while the pool's threads still read into it
    const file = patternFile(directDir(), 256);
    const r = run('alignedTerminate', [file, '100']);
    expect({ signal: r.signal, status: r.status, stdout: r.stdout.trim() }).toEqual({ signal: null, status: 0, stdout: JSON.stringify({ terminated: 100 }) });
  });

  test("an O_APPEND handle's current position after a write is the end of the file, as node:fs's FileHandle's", async () => {
    const file = path.join(tempDir(), 'log');
    const results: Record<string, unknown> = {};
    for (const impl of ['node', 'aioring'] as const) {
      fs.writeFileSync(file, 'abcdefghij');
      const h = (impl === 'node' ? await fs.promises.open(file, 'a+') : await open(file, 'a+')) as unknown as Appending;
      await h.write('XY');
      const { bytesRead, buffer } = await h.read(Buffer.alloc(8), 0, 8, null);
      const rest = await h.readFile('latin1');
      await h.close();
      results[impl] = { bytesRead, text: buffer.subarray(0, bytesRead).toString('latin1'), rest };
    }
    expect(results.aioring).toEqual(results.node);
    expect(results.node).toEqual({ bytesRead: 0, text: '', rest: '' });
  });

  test("FileHandle.readv([]) rejects with read(2)'s EINVAL, as node:fs's", async () => {
    const file = patternFile(tempDir(), 1);
    const nodeHandle = await fs.promises.open(file, 'r');
    const ours = await open(file, 'r');
    // ours is an AioError (docs/API.md): the rest is node:fs's
    const { name: _theirs, ...theirs } = (await outcome(() => nodeHandle.readv([]))) as Record<string, unknown>;
    const { name: _ours, ...mine } = (await outcome(() => ours.readv([]))) as Record<string, unknown>;
    expect(mine).toEqual(theirs);
    expect(theirs).toMatchObject({ code: 'EINVAL', syscall: 'read' });
    // a buffers argument of the wrong type: node's wording too
    expect(await outcome(() => ours.writev(['s' as unknown as Buffer]))).toEqual(await outcome(() => nodeHandle.writev(['s' as unknown as Buffer])));
    await nodeHandle.close();
    await ours.close();
  });

  test('an unknown encoding is refused as node:fs refuses it: readFile, writeFile, createReadStream, createWriteStream', async () => {
    const dir = tempDir();
    const file = patternFile(dir, 1);
    const bogus = 'bogus' as BufferEncoding;
    expect(await outcome(() => readFile(file, bogus))).toEqual(await outcome(() => fs.promises.readFile(file, bogus)));
    expect(await outcome(() => writeFile(path.join(dir, 'w'), 'x', bogus))).toEqual(await outcome(() => fs.promises.writeFile(path.join(dir, 'w'), 'x', bogus)));
    const h = await open(file, 'r');
    const n = await fs.promises.open(file, 'r');
    expect(await outcome(() => h.readFile(bogus as unknown as { encoding: BufferEncoding }))).toEqual(await outcome(() => n.readFile(bogus)));
    await h.close();
    await n.close();
    const ctx = setup(8);
    const fd = fs.openSync(file, 'r');
    const stream = (make: () => unknown): unknown => {
      try {
        make();
        return 'made';
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        return { name: err.name, code: err.code, message: err.message };
      }
    };
    expect(stream(() => createReadStream(ctx, fd, { encoding: bogus, autoClose: false }))).toEqual(
      stream(() => fs.createReadStream('', { fd, encoding: bogus, autoClose: false })),
    );
    expect(stream(() => createWriteStream(ctx, fd, { encoding: bogus, autoClose: false }))).toEqual(
      stream(() => fs.createWriteStream('', { fd, encoding: bogus, autoClose: false })),
    );
    fs.closeSync(fd);
    ctx.destroy();
  });
});
