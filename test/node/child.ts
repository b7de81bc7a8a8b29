// The child processes of the test/node tier: each scenario runs in a node
// of its own, so a crash shows as its exit signal and a hang as its kill,
// instead of taking jest down; the scripts run compiled, so no thread of
// it loads the compiler.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compiledTree } from '../helpers';

const scripts = path.join('test', 'node', 'scripts');
let compiled: string | undefined;

/**
 * Run scripts/<script>.ts (compiled) in a child node with these node
 * flags; it must exit 0 within timeoutMs, write nothing to stderr and print
 * one JSON line.
 */
export function child(script: string, args: string[] = [], nodeFlags: string[] = [], timeoutMs = 60000): Record<string, unknown> {
  const { report, stderr } = childWithStderr(script, args, nodeFlags, timeoutMs);
  expect(stderr).toBe('');
  return report;
}

/** child, with these environment variables added, for a scenario that writes to stderr: its report and what it wrote there. */
export function childWithStderr(
  script: string,
  args: string[],
  nodeFlags: string[],
  timeoutMs: number,
  env: Record<string, string> = {},
): { report: Record<string, unknown>; stderr: string } {
  compiled ??= compiledTree([
    path.join('test', 'helpers.ts'),
    ...fs.readdirSync(path.join(__dirname, 'scripts')).map((f) => path.join(scripts, f)),
  ]);
  const r = spawnSync(process.execPath, [...nodeFlags, path.join(compiled, scripts, `${script}.js`), ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    env: { ...process.env, ...env },
  });
  expect({ signal: r.signal, status: r.status }).toEqual({ signal: null, status: 0 });
  return { report: JSON.parse(r.stdout), stderr: r.stderr };
}
