// Child process: leave contexts with work in flight and exit without destroy.
import * as fs from 'node:fs';
import { setup, SETUP_V2 } from '../../src/context';

const [r] = [fs.openSync(process.argv[2], fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)];
const a = setup(32, { backend: 'threadpool' });
const b = setup(32, { flags: SETUP_V2 });
a.submit([{ opcode: 'poll', fd: r, events: 1 }, { opcode: 'noop', fd: 0 }]);
b.submit([{ opcode: 'noop', fd: 0 }]);
process.stdout.write('started\n');
