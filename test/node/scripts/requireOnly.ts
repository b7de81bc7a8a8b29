// A worker that only loads the library, then exits.
import '../../../src/index';
