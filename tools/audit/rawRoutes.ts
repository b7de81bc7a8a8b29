// Which route of the drop-in libaio brings a program's raw io_* system
// calls to its own (opted-in) contexts (compat/syscall_route.h), and
// whether the one that needs the kernel's help can be had on this machine.
//   libc      calls through libc's syscall(): the drop-in's syscall()
//             routes them; works on every kernel.
//   dispatch  syscall instructions of the program's own: Linux's syscall
//             user dispatch (5.11+, x86-64) catches them. Where it cannot
//             be had, the drop-in refuses AIORING_RING for the program and
//             keeps the kernel's contexts.
import * as fs from 'node:fs';
import * as os from 'node:os';

export type RawRoute = 'none' | 'libc' | 'dispatch';

/** The route a program's raw io_* calls need: dispatch as soon as one is inline. */
export function rawRoute(via: { inline: string[]; libc: string[] }): RawRoute {
  if (via.inline.length > 0) return 'dispatch';
  return via.libc.length > 0 ? 'libc' : 'none';
}

/** Whether a program started from here could have syscall user dispatch, and why (not). */
export function dispatchHere(): { available: boolean; why: string } {
  const release = os.release();
  const [major, minor] = release.split('.').map((n) => parseInt(n, 10));
  if (process.platform !== 'linux' || process.arch !== 'x64') return { available: false, why: 'the dispatch route is for x86-64 Linux only' };
  if (major < 5 || (major === 5 && minor < 11)) return { available: false, why: `Linux ${release} has no syscall user dispatch (5.11+)` };
  const read = (file: string): string => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  if (read('/proc/sys/kernel/syscall_user_dispatch').trim() === '0') return { available: false, why: 'kernel.syscall_user_dispatch is 0 here' };
  // a filter is inherited by what starts from here, and may deny the prctl: no promise then
  if (/^Seccomp:\s*[12]\b/m.test(read('/proc/self/status'))) return { available: false, why: 'a seccomp filter is in force here, and may deny PR_SET_SYSCALL_USER_DISPATCH' };
  return { available: true, why: `Linux ${release} has syscall user dispatch` };
}
