// 44 the system calls an O_DIRECT read costs a libaio program in
// AIORING_RING=v2 (issue 12's IOPS target): its iocbs go as they are to the
// engine's kernel context (the direct route), which checks them as the
// kernel does because it is the kernel, so none is probed, and its
// io_getevents waits in the kernel's own. A C program
// (test/fixtures/syscalls_per_read.c, built here with -laio) does 200 reads
// of one block at depth 1, io_submit then io_getevents each, and counts by
// ptrace the system calls its own thread enters for them: with the drop-in
// in AIORING_RING=v2, exactly as many as with Debian's libaio on the kernel
// (io_submit, and one in io_getevents: the kernel's wait, or the probe of
// the event array when the event was already there).
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describeKernel, directDir, tempDir } from '../helpers';
import { Side, sideEnv } from './sides';

const SOURCE = path.join(__dirname, '..', 'fixtures', 'syscalls_per_read.c');
const READS = 200;

function count(exe: string, dir: string, side: Side): { reads: number; ok: number; syscalls: number } {
  const r = spawnSync(exe, [dir, String(READS)], { env: sideEnv(side), encoding: 'utf8', timeout: 60000, killSignal: 'SIGKILL' });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  const m = /^reads (\d+) ok (\d) syscalls (\d+)$/.exec(r.stdout.trim());
  expect(m).not.toBeNull();
  return { reads: Number(m![1]), ok: Number(m![2]), syscalls: Number(m![3]) };
}

describeKernel('44 an O_DIRECT read through the drop-in in AIORING_RING=v2 costs the system calls it costs with libaio', () => {
  test(`${READS} reads at depth 1: as many system calls of the program's thread as with Debian's libaio`, () => {
    const exe = path.join(tempDir(), 'syscalls_per_read');
    execFileSync('cc', ['-O1', '-Wall', '-Wextra', '-Werror', SOURCE, '-o', exe, '-laio']);
    const dir = directDir();
    const libaio = count(exe, dir, 'libaio');
    const v2 = count(exe, dir, 'v2');
    process.stdout.write(`system calls per read: Debian's libaio ${libaio.syscalls / READS}, the drop-in in v2 ${v2.syscalls / READS}\n`);
    expect(libaio).toEqual({ reads: READS, ok: 1, syscalls: expect.any(Number) });
    expect(v2).toEqual(libaio);
  });
});
