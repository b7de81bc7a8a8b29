// Lets a worker thread require the TypeScript sources directly, compiled on
// load with the project's own typescript (jest's transform does not reach
// worker threads).
const fs = require('node:fs');
const { transpile } = require('./transpile');

require.extensions['.ts'] = (module, filename) => {
  module._compile(transpile(fs.readFileSync(filename, 'utf8'), filename), filename);
};
