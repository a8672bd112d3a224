// The list of environment variables has three readers: loadConfig, `sesame serve --help` (ENVIRONMENT)
// and the README's configuration table. They must name the same variables.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT } from './config.js';

const ROOT = join(import.meta.dirname, '..');

describe('environment variables', () => {
  it('ENVIRONMENT lists every variable loadConfig reads, and the README documents each of them', () => {
    const source = readFileSync(join(ROOT, 'src', 'config.ts'), 'utf8');
    const read = new Set([...source.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1] as string));
    const listed = new Set(ENVIRONMENT.map((v) => v.name));
    expect([...read].sort()).toEqual([...listed].sort());

    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 5));
    const documented = new Set(
      [...table.matchAll(/^\| `([A-Z][A-Z0-9_]+)`(?:, `([A-Z][A-Z0-9_]+)`)? \|/gm)].flatMap((m) => m.slice(1).filter(Boolean)),
    );
    for (const name of listed) expect(documented, name).toContain(name);
    // The table's other rows are for the test suite, not the server.
    expect([...documented].filter((name) => !listed.has(name)).every((name) => name.startsWith('SESAME_TEST_'))).toBe(true);
  });
});
