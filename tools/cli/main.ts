#!/usr/bin/env node
// The aioring CLI, for people deciding whether a system can move to the new
// ring semantics. One module per command; this file only wires arguments.
// Exit codes: 0 fine, 1 findings or failure, 2 usage (docs/CLI.md).
import yargs, { Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runAudit } from './audit';
import { runBench } from './bench';
import { runConformance } from './conformance';
import { runConvert } from './convert';
import { runDoctor } from './doctor';
import { runInspect } from './inspect';
import { describeFailure, EXIT_USAGE } from './support';
import { runTour } from './tour';

/** Run a command; its result or failure becomes the exit code, never a stack trace. */
async function run(fn: () => number | Promise<number>): Promise<void> {
  try {
    process.exitCode = await fn();
  } catch (e) {
    const { code, line } = describeFailure(e);
    process.stderr.write(`aioring: ${line}\n`);
    if (process.env.AIORING_DEBUG === '1' && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = code;
  }
}

const json = { type: 'boolean', default: false, describe: 'print data as one JSON document on stdout' } as const;
const directPath = { type: 'string', default: '.', requiresArg: true, describe: 'file or directory whose filesystem is probed for O_DIRECT' } as const;

function commands(y: Argv): Argv {
  return y
    .command(
      '$0',
      'doctor, then a short tour: real reads through a legacy and a v2 context',
      (c) => c.option('json', json).option('path', directPath).example('$0', 'check this machine and tour both rings (under 15 s)'),
      (a) => run(() => runTour(a.path, a.json)),
    )
    .command(
      ['doctor', 'check'],
      'can this machine run the rings: kernel AIO, sizing, io_uring, memory, O_DIRECT, backend',
      (c) =>
        c
          .option('json', json)
          .option('path', directPath)
          .example('$0 doctor', 'the human report')
          .example('$0 doctor --path /var/lib/db --json', 'probe O_DIRECT where the data lives, as JSON'),
      (a) => run(() => runDoctor(a.path, a.json)),
    )
    .command(
      'inspect [file]',
      'decode a ring file of either layout, or the kernel AIO rings of live processes',
      (c) =>
        c
          .positional('file', { type: 'string', describe: 'a ring file (legacy or v2)' })
          .option('pid', { type: 'number', requiresArg: true, describe: 'a live process: its kernel AIO rings, read through /proc/PID/mem' })
          .option('all', { type: 'boolean', default: false, describe: 'every process with kernel AIO contexts' })
          .option('events', { type: 'boolean', default: false, describe: 'list the pending events' })
          .option('watch', { type: 'boolean', default: false, describe: 'with --pid or --all: sample again every --interval' })
          .option('interval', { type: 'number', requiresArg: true, default: 1, describe: 'seconds between --watch samples' })
          .option('count', { type: 'number', requiresArg: true, describe: 'with --watch: stop after this many samples' })
          .option('json', json)
          .example('$0 inspect /dev/shm/ring --events', 'header verdicts and the pending events of a ring file')
          .example('$0 inspect --pid 1234', "the kernel AIO rings of process 1234")
          .example('$0 inspect --all --watch --interval 2', 'every process with AIO contexts, every 2 s'),
      (a) => run(() => runInspect({ ...a, file: a.file, pid: a.pid, count: a.count })),
    )
    .command(
      'convert <in> <out>',
      'convert a ring file to the other layout, keeping its pending events in order',
      (c) =>
        c
          .positional('in', { type: 'string', demandOption: true, describe: 'the ring file to read (never modified)' })
          .positional('out', { type: 'string', demandOption: true, describe: 'the ring file to write (temp file, fsync, rename)' })
          .option('to', { choices: ['v2', 'legacy'] as const, demandOption: true, describe: 'the layout of OUT' })
          .option('entries', { type: 'number', requiresArg: true, describe: 'v2: entries (a power of two; default: the smallest that holds IN\'s capacity)' })
          .option('nr', { type: 'number', requiresArg: true, describe: 'legacy: at least this nr, filled to whole pages (default: IN\'s capacity + 1)' })
          .option('dry-run', { type: 'boolean', default: false, describe: 'say what would happen; write nothing' })
          .option('force', { type: 'boolean', default: false, describe: 'replace OUT if it exists' })
          .option('json', json)
          .example('$0 convert /dev/shm/ring /dev/shm/ring.v2 --to v2', 'a v2 copy of a legacy ring file')
          .example('$0 convert ring.v2 ring.legacy --to legacy --dry-run', 'what converting back would do'),
      (a) =>
        run(() =>
          runConvert({ input: a.in, output: a.out, to: a.to, entries: a.entries, nr: a.nr, dryRun: a['dry-run'], force: a.force, json: a.json }),
        ),
    )
    .command(
      'audit <paths..>',
      'find programs and libraries that use Linux AIO and say whether each may run on v2 rings',
      (c) =>
        c
          .positional('paths', { type: 'string', array: true, demandOption: true, describe: 'ELF files, or directories (recursive)' })
          .option('json', json)
          .example('$0 audit /usr/bin/fio', 'one program')
          .example('$0 audit /usr/bin /usr/lib --json', 'every ELF file below two directories'),
      (a) => run(() => runAudit(a.paths as string[], a.json)),
    )
    .command(
      'conformance',
      'run the ring contract checks against each provider and print a pass/fail table',
      (c) =>
        c
          .option('provider', { choices: ['kernel', 'legacy', 'v2', 'all'] as const, default: 'all' as const, describe: 'which ring provider' })
          .option('json', json)
          .example('$0 conformance', 'every check against the kernel, the legacy context and the v2 context')
          .example('$0 conformance --provider kernel --json', "the running kernel's ring only, as JSON"),
      (a) => run(() => runConformance(a.provider, a.json)),
    )
    .command(
      'bench [kind]',
      'run a benchmark and print its ratio table (ring: legacy vs v2; io: vs fs and fio; fio: the drop-in libaio vs the kernel\'s)',
      (c) =>
        c
          .positional('kind', { choices: ['ring', 'io', 'fio'] as const, default: 'ring' as const })
          .option('quick', { type: 'boolean', default: false, describe: 'short runs: a smoke test, noisy numbers' })
          .option('svg', { type: 'string', requiresArg: true, describe: 'also write a bar chart of the ratios to this SVG file' })
          .option('json', json)
          .example('$0 bench ring --svg ring.svg', 'legacy vs v2 ring throughput, with a chart')
          .example('$0 bench io --quick', 'a short run of the I/O benchmark'),
      (a) => run(() => runBench(a.kind, { quick: a.quick, svg: a.svg, json: a.json })),
    );
}

void commands(yargs(hideBin(process.argv)))
  .scriptName('aioring')
  .usage('$0 [command] [options]\n\nThe Linux AIO completion ring: legacy and v2. Exit codes: 0 fine, 1 findings or failure, 2 usage.')
  .strict()
  .recommendCommands()
  .help()
  .alias('help', 'h')
  .version()
  .wrap(Math.min(110, process.stdout.columns || 110))
  .fail((msg, err) => {
    // yargs' own validation (err is a YError) and bad arguments alike: usage
    const text = msg ?? err?.message ?? 'bad arguments';
    process.stderr.write(`aioring: ${text.replace(/\s*\n\s*/g, ' ')} (aioring --help for usage)\n`);
    process.exit(EXIT_USAGE);
  })
  .parseAsync();
