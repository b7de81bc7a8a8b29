// Where the drop-in libaio is: LD_PRELOAD it into an unmodified program.
import * as fs from 'node:fs';
import * as path from 'node:path';

function findShim(): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'build', 'Release', 'aioring-libaio.so');
    if (fs.existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('aioring: the drop-in libaio is not built (run npm install)');
}

/** Absolute path of the drop-in libaio shared library. */
export const shimPath: string = findShim();
