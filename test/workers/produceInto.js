// Run in a child process: attach to a ring file and produce cookies into it.
// usage: node produceInto.js <ring file> <first cookie> <count>
require('./tsRequire');
const { attachRingFile } = require('../../src/memory.ts');

const [file, first, count] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const { ring, mapping } = attachRingFile(file);
for (let i = 0; i < count; i++) {
  if (!ring.produce({ data: first + i, res: process.pid })) {
    process.stderr.write('ring full\n');
    process.exit(2);
  }
}
mapping.release();
