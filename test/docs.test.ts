// 10 docs: every example in docs/API.md runs and prints what its comments say.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './helpers';

const root = path.join(__dirname, '..');
const api = fs.readFileSync(path.join(root, 'docs', 'API.md'), 'utf8');
const examples = [...api.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

/** The values a `console.log(...); // a b c` line promises. */
function promised(code: string): string[] {
  return code
    .split('\n')
    .filter((l) => /console\.log\(.*\/\/ /.test(l))
    .map((l) => l.slice(l.lastIndexOf('// ') + 3).split(':')[0].trim());
}

describe('10 docs: the API examples run', () => {
  const dir = tempDir();
  test('there are examples', () => expect(examples.length).toBeGreaterThan(8));

  test.each(examples.map((code, i) => [i + 1, code]))('example %i', (i, code) => {
    const file = path.join(dir, `example-${i}.ts`);
    fs.writeFileSync(file, (code as string).replace(/from 'aioring'/g, `from '${path.join(root, 'src', 'index')}'`));
    const out = execFileSync(process.execPath, ['-r', path.join(__dirname, 'workers', 'tsRequire.js'), file], {
      encoding: 'utf8',
    });
    expect(out.trim().split('\n')).toEqual(promised(code as string));
  });
});
