// The package's bin entries are executable after every build: tsc writes
// them 0644, and `npx aioring` in a checkout needs the run bit. Run by
// `npm run build:bin` (after build and prepare) and by the tests' global
// setup after its own tsc.
const fs = require('node:fs');
const path = require('node:path');

function chmodBins(root) {
  const { bin } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  for (const file of typeof bin === 'string' ? [bin] : Object.values(bin)) fs.chmodSync(path.join(root, file), 0o755);
}

if (require.main === module) chmodBins(path.join(__dirname, '..', '..'));

module.exports = { chmodBins };
