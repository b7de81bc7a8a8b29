// What the lifecycle scripts count: this process's threads, its kernel AIO
// contexts (the kernel maps each one's ring as "/[aio]") and the system's
// aio-nr, and a wait, in short turns of the event loop, for them to settle.
import * as fs from 'node:fs';
import { threadCount } from '../../helpers';

export interface Held {
  threads: number;
  kernelContexts: number;
  aioNr: number;
}

export function kernelContexts(): number {
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('/[aio] (deleted)')).length;
}

export function held(): Held {
  return { threads: threadCount(), kernelContexts: kernelContexts(), aioNr: Number(fs.readFileSync('/proc/sys/fs/aio-nr', 'utf8')) };
}

/** Up to turns turns of 20 ms (each after every() ran), until this process holds no more than start. */
export async function settle(start: Held, turns: number, every: () => void = () => {}): Promise<Held> {
  let now = held();
  for (let i = 0; i < turns && (now.threads > start.threads || now.kernelContexts > start.kernelContexts); i++) {
    every();
    await new Promise((resolve) => setTimeout(resolve, 20));
    now = held();
  }
  return now;
}
