// Before the tests: build dist/ (the CLI tests run the compiled CLI,
// dist/tools/cli/main.js, as a user would, so it must match the sources), and the
// test project (test/native/binding.gyp: the test-only addon and the C
// fixtures), which an install never builds. The test project is configured
// once and then rebuilt by make, which recompiles only what changed.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { chmodBins } = require('../tools/build/binMode');

module.exports = () => {
  const root = path.join(__dirname, '..');
  const run = (script, args) => execFileSync(process.execPath, [require.resolve(script), ...args], { cwd: root, stdio: 'inherit' });
  run('typescript/bin/tsc', ['-p', path.join(root, 'tsconfig.build.json')]);
  chmodBins(root);
  const dropIn = path.join(root, 'build', 'Release', 'aioring-libaio.so');
  if (!fs.existsSync(dropIn)) throw new Error(`${dropIn} is not built: the test fixtures link it (run npm install or npm run build)`);
  const project = path.join(root, 'test', 'native');
  if (!fs.existsSync(path.join(project, 'build', 'Makefile'))) run('node-gyp/bin/node-gyp.js', ['configure', '-C', project]);
  run('node-gyp/bin/node-gyp.js', ['build', '-C', project]);
};
