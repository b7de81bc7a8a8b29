// Where the drop-in libaio is: LD_PRELOAD it into an unmodified program.
import { findBuilt } from './native';

/** Absolute path of the drop-in libaio shared library. */
export const shimPath: string = findBuilt('aioring-libaio.so');
