// A worker that only loads the library, then exits.
require('../../workers/tsRequire');
require('../../../src/index.ts');
