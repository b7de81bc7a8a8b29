// 19 the CLI: check, inspect, audit.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createV2Ring } from '../src/memory';
import { audit } from '../tools/audit';
import { tempDir } from './helpers';

const root = path.join(__dirname, '..');
const tsRequire = path.join(__dirname, 'workers', 'tsRequire.js');
const cli = path.join(root, 'tools', 'cli.ts');
const release = path.join(root, 'build', 'Release');

function aioring(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-r', tsRequire, cli, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('19 the CLI', () => {
  test('with no arguments it checks the machine', () => {
    const r = aioring('--json');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.possibleCpus).toBeGreaterThan(0);
    expect(report.legacyNr['4']).toBeGreaterThan(0);
    expect(typeof report.kernelAio.available).toBe('boolean');
  });

  test('inspect validates a ring file and prints its header; garbage is a clear error', () => {
    const dir = tempDir('/dev/shm');
    const file = path.join(dir, 'ring');
    const { ring, mapping } = createV2Ring(64, { kind: 'file', path: file });
    ring.produce({ data: 1, res: 0 });
    mapping.release();
    const r = aioring('inspect', file, '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ layout: 'v2', entries: 64, head: 0, tail: 1, ready: 1 });
    fs.writeFileSync(path.join(dir, 'junk'), Buffer.alloc(4096, 7));
    const bad = aioring('inspect', path.join(dir, 'junk'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/EINVAL.*field magic/);
  });

  test('audit: readers that check the magic are safe on v2; AIO users that never check are not known to be', () => {
    expect(audit(path.join(release, 'ring_readers'))).toMatchObject({ verdict: 'safe', linksLibaio: true });
    expect(audit(path.join(release, 'libaio_semantics'))).toMatchObject({ verdict: 'unknown', magicConstants: 0 });
    expect(audit(path.join(release, 'deny_io_setup'))).toMatchObject({ verdict: 'no-aio' });
    const fio = spawnSync('which', ['fio'], { encoding: 'utf8' }).stdout.trim();
    if (fio) expect(audit(fio)).toMatchObject({ verdict: 'safe', linksLibaio: true });
    const r = aioring('audit', path.join(release, 'ring_readers'));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/AIORING_RING=v2\s+safe/);
    expect(aioring('audit', __filename).stderr).toMatch(/not an ELF binary/);
    expect(aioring('audit', '/no/such/file').stderr).toMatch(/ENOENT/);
    expect(execFileSync(process.execPath, ['-r', tsRequire, cli, '--help'], { encoding: 'utf8' })).toMatch(/audit <binary>/);
  });
});
