// 22 the package: what `npm install aioring` gives a user. The checkout is
// packed (npm pack) and the tarball installed into a fresh project; there the
// README's first example runs as CommonJS and as ESM, `npx aioring doctor
// --json` answers, and the install has built only the addon and the drop-in
// libaio, with no test hook in them.
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { aioring, json, root } from './cliRun';
import { tempDir } from './helpers';
import { findFixture } from './native';

const HOOK = 'v2_lease_test_hook';
// What an install leaves in build/Release besides gyp's intermediate
// directories: the core's static library, the addon and the drop-in.
const BUILT = ['aioring-libaio.so', 'aioring.node', 'aioring_core.a'];
// The top-level paths a tarball may hold: the product, never tests.
const SHIPPED = /^(README\.md|package\.json|binding\.gyp|(dist\/src|dist\/tools|native\/core|native\/addon|compat|docs)\/.+)$/;

function run(command: string, args: string[], options: SpawnSyncOptions): string {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 600000, maxBuffer: 64 << 20, ...options });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${String(r.stderr).slice(-2000)}`);
  return String(r.stdout);
}

/** Every regular file under dir, relative to it. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

/** The README's first TypeScript example, compiled the way a user's JavaScript would be written. */
function readmeExample(module: ts.ModuleKind): string {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const code = /```ts\n([\s\S]*?)```/.exec(readme);
  if (code === null) throw new Error('README.md has no ts example');
  return ts.transpileModule(code[1], { compilerOptions: { module, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
}

describe('22 the package', () => {
  const work = tempDir();
  const project = path.join(work, 'project');
  const installed = path.join(project, 'node_modules', 'aioring');
  let packed: { filename: string; files: { path: string }[] };

  // dist/ is the one test/globalSetup.js just compiled; packing runs no
  // scripts, so prepare does not rebuild dist/ under the other tests' feet.
  beforeAll(() => {
    [packed] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root }));
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'aioring-package-test', version: '1.0.0', private: true }));
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(work, packed.filename)], { cwd: project });
  }, 600000);

  test('the tarball holds the product only: no tests, fixtures, test addon or ring benchmark', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths.filter((p) => !SHIPPED.test(p))).toEqual([]);
    expect(paths.filter((p) => /bench-ring|bench\/ring\.|ring_bindings|ring_threads|layout_exports|test_addon/.test(p))).toEqual([]);
    expect(paths).toContain('binding.gyp');
    expect(paths).toContain(path.normalize(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).bin.aioring));
  });

  test("the README's first example runs, required (CommonJS) and imported (ESM)", () => {
    fs.writeFileSync(path.join(project, 'data.bin'), Buffer.alloc(8192, 7));
    const cjs = readmeExample(ts.ModuleKind.CommonJS);
    const esm = readmeExample(ts.ModuleKind.ESNext);
    expect(cjs).toMatch(/require\("aioring"\)/);
    expect(esm).toMatch(/^import .* from 'aioring';$/m);
    fs.writeFileSync(path.join(project, 'example.cjs'), cjs);
    fs.writeFileSync(path.join(project, 'example.mjs'), esm);
    for (const file of ['example.cjs', 'example.mjs']) expect(run(process.execPath, [file], { cwd: project })).toBe('4096 4096\n');
  });

  test('npx aioring doctor --json answers as the checkout does, and names the backend', () => {
    const r = spawnSync('npx', ['--no', 'aioring', 'doctor', '--json'], { cwd: project, encoding: 'utf8', timeout: 120000 });
    const here = aioring(['doctor', '--json']);
    expect(r.status).toBe(here.status);
    const d = json<{ backend: { name: string; kernel: boolean; threads: number; reason: string } }>({ status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) });
    expect(d.backend.name).toBe('auto');
    expect(d.backend).toEqual(json<{ backend: unknown }>(here).backend);
  });

  test('the install built the addon and the drop-in libaio only, with no test hook', () => {
    const release = path.join(installed, 'build', 'Release');
    const top = fs.readdirSync(release, { withFileTypes: true });
    expect(top.filter((e) => !e.isDirectory()).map((e) => e.name).sort()).toEqual(BUILT);
    const build = path.join(installed, 'build');
    const built = filesUnder(build);
    // gyp links in obj.target/ and copies to Release/: only the addon's name
    expect([...new Set(built.filter((f) => f.endsWith('.node')).map((f) => path.basename(f)))]).toEqual(['aioring.node']);
    const executables = built.filter((f) => (fs.statSync(path.join(build, f)).mode & 0o111) !== 0 && !/\.(so|node)$/.test(f));
    expect(executables).toEqual([]);
    expect(built.filter((f) => fs.readFileSync(path.join(build, f)).includes(HOOK))).toEqual([]);
    // the check does find the hook where it is: in the test project's builds
    expect(fs.readFileSync(findFixture('lease_ring')).includes(HOOK)).toBe(true);
    expect(fs.existsSync(path.join(installed, 'test'))).toBe(false);
  });
});
