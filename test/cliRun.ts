// Run the built CLI (dist/tools/cli/main.js, compiled by test/globalSetup.js) as
// a child process, as a user would.
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import * as path from 'node:path';

export const root = path.join(__dirname, '..');
export const cli = path.join(root, 'dist', 'tools', 'cli', 'main.js');
export const release = path.join(root, 'build', 'Release');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** aioring ARGS...; prefix runs it under another command (setpriv, a seccomp wrapper). */
export function aioring(args: string[], options: { prefix?: string[]; env?: NodeJS.ProcessEnv; timeout?: number } = {}): CliResult {
  const prefix = options.prefix ?? [];
  const command = prefix.length > 0 ? prefix[0] : process.execPath;
  const argv = prefix.length > 0 ? [...prefix.slice(1), process.execPath, cli, ...args] : [cli, ...args];
  const opts: SpawnSyncOptions = { encoding: 'utf8', env: { ...process.env, ...options.env }, timeout: options.timeout ?? 60000, maxBuffer: 256 << 20 };
  const r = spawnSync(command, argv, opts);
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The JSON document a --json run printed on stdout. */
export function json<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.status}): ${r.stdout.slice(0, 300)} / stderr: ${r.stderr.slice(0, 300)}`);
  }
}

/** A failure is one line on stderr, never a stack trace. */
export function oneLine(r: CliResult): string {
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0];
}
