#!/usr/bin/env node
// aioring CLI. With no arguments it runs `check`: what this machine offers
// for the legacy and v2 rings.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { AioError } from '../src/errors';
import { runCheck } from './check';
import { runAudit } from './audit';
import { runInspect } from './inspect';

function fail(e: unknown): never {
  if (e instanceof AioError) {
    process.stderr.write(`aioring: ${e.message}${e.field ? ` (field ${e.field})` : ''}\n`);
    process.exit(1);
  }
  throw e;
}

void yargs(hideBin(process.argv))
  .scriptName('aioring')
  .command(
    ['check', '$0'],
    'check this system: CPUs, page size, aio-max-nr, kernel AIO, ring memory kinds',
    (y) => y.option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
    (argv) => {
      try {
        runCheck(argv.json);
      } catch (e) {
        fail(e);
      }
    },
  )
  .command(
    'inspect <file>',
    'validate a ring file (either layout) and print its header',
    (y) =>
      y
        .positional('file', { type: 'string', demandOption: true })
        .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
    (argv) => {
      try {
        runInspect(argv.file, argv.json);
      } catch (e) {
        fail(e);
      }
    },
  )
  .command(
    'audit <binary>',
    'say whether a program may be switched whole to v2 rings (AIORING_RING=v2)',
    (y) =>
      y
        .positional('binary', { type: 'string', demandOption: true })
        .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
    (argv) => {
      try {
        runAudit(argv.binary, argv.json);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') fail(new AioError(2, 'open', `${argv.binary}: no such file`));
        fail(e);
      }
    },
  )
  .strict()
  .help()
  .parseAsync();
