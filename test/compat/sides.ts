// The sides of a differential run of a C program: Debian's libaio, or the
// drop-in preloaded in its default mode ('drop-in') or an opt-in mode.
import { shimPath } from '../../src/shim';

/** An opt-in mode of the drop-in: AIORING_RING's value. */
export type Mode = 'legacy' | 'v2';
export type Side = 'libaio' | 'drop-in' | Mode;

/** This process's environment with nothing of the drop-in's left in it but what side asks for. */
export function sideEnv(side: Side): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AIORING_RING;
  delete env.AIORING_ASYNC_BUFFERED;
  delete env.LD_PRELOAD;
  if (side !== 'libaio') env.LD_PRELOAD = shimPath;
  if (side === 'legacy' || side === 'v2') env.AIORING_RING = side;
  return env;
}
