// 24 buffers: every buffer of every request is held until its event is
// delivered, and none can be transferred away under the I/O. Each scenario
// runs in a child `node --expose-gc` (scripts/pinning.ts), so GC can be
// forced while the requests wait in flight, and a crash shows as a signal.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { compiledTree, removeTempDirs, tempDir } from '../helpers';

afterAll(removeTempDirs);

const script = path.join('test', 'node', 'scripts', 'pinning.ts');
let compiled: string | undefined;

function pinning(opcode: string): Record<string, unknown> {
  compiled ??= compiledTree([path.join('test', 'helpers.ts'), script]);
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(compiled, script.replace(/\.ts$/, '.js')), opcode, tempDir()], {
    encoding: 'utf8',
    timeout: 60000,
  });
  expect({ signal: r.signal, status: r.status, stderr: r.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
  return JSON.parse(r.stdout);
}

describe('26 buffers pinned until completion', () => {
  test.each(['pread', 'pwrite', 'preadv', 'pwritev'])(
    'rows 8, item 5: %s requests whose caller dropped every reference: gc() in flight frees none, fresh buffers stay untouched, the I/O lands right',
    (opcode) => {
      expect(pinning(opcode)).toEqual({ collectedInFlight: 0, overwritten: 0, rightResults: 32, wrongData: 0 });
    },
  );

  test('row 9: transferring an in-flight buffer (structuredClone, postMessage) leaves it attached; the read lands in it', () => {
    const report = pinning('transfer');
    // Node 20 copies an untransferable buffer named in a transfer list; later versions throw DataCloneError
    expect(['sent', 'DataCloneError']).toContain(report.structuredClone);
    expect(['sent', 'DataCloneError']).toContain(report.postMessage);
    expect(report).toMatchObject({
      structuredCloneByteLength: 16384,
      postMessageByteLength: 16384,
      results: [16384, 16384],
      rightData: [true, true],
      cloneUntouched: true,
    });
  });

  test('row 9: a web stream BYOB reader detaches in-flight buffers natively and its stream is collected: the library holds the memory until the reads end, fresh buffers stay untouched', () => {
    // the reader ignores the untransferable mark: every buffer is detached
    const { heldAfterKiB, ...report } = pinning('byob');
    expect(report).toEqual({ detached: 32, overwritten: 0, rightResults: 32 });
    // and the memory held for them (32 x 16 KiB) is let go once they end
    expect(heldAfterKiB).toBeLessThan(256);
  });
});
