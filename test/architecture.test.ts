// Rules of the layout that review alone would not keep true. Each top folder of src/ states its
// rule in its README.md; this is the same rule, enforced on every import.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** Where a file sits: its top folder under src/, or the file itself for the files at the top. */
function areaOf(path: string): string {
  const [first = '', second] = relative(SRC, path).split('/');
  return second === undefined ? first.replace(/\.[jt]s$/, '') : first;
}

/** Every relative import of a file, resolved to the area it reaches. */
function importedAreas(file: string): { specifier: string; area: string }[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s+'(\.[^']+)'/g)].map((m) => m[1] as string);
  return specifiers.map((specifier) => {
    const target = resolve(dirname(file), specifier);
    return { specifier, area: target.startsWith(SRC) ? areaOf(target) : 'outside src' };
  });
}

/** What each area may import (besides itself). Anything not listed is refused. */
const MAY_IMPORT: Record<string, string[]> = {
  errors: [],
  config: [],
  metrics: [],
  crypto: [],
  db: ['config'],
  matching: ['providers'], // types only: the item shapes
  providers: ['metrics'],
  http: ['errors', 'db', 'metrics'], // Fastify plumbing: never a module
  modules: ['errors', 'config', 'http', 'providers', 'crypto', 'db', 'matching', 'metrics'],
  demo: ['modules'], // the demo site computes TOTP codes
  app: ['config', 'crypto', 'db', 'http', 'metrics', 'modules', 'providers'],
  cli: ['app', 'config', 'crypto', 'db', 'demo', 'errors', 'http', 'metrics', 'modules', 'providers'],
  main: ['cli', 'config'],
};

describe('architecture', () => {
  it('every import follows the rule of its area (http never imports a module, nothing imports the CLI)', () => {
    const broken: string[] = [];
    for (const file of sourceFiles(SRC).filter((f) => !f.endsWith('.test.ts'))) {
      const from = areaOf(file);
      const allowed = MAY_IMPORT[from];
      expect(allowed, `no rule for ${from}`).toBeDefined();
      for (const { specifier, area } of importedAreas(file)) {
        if (area !== from && !allowed?.includes(area)) broken.push(`${relative(SRC, file)} imports ${specifier} (${area})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('each top folder of src/ says its rule in a README', () => {
    const folders = readdirSync(SRC, { withFileTypes: true }).filter((entry) => entry.isDirectory());
    for (const folder of folders) {
      const readme = join(SRC, folder.name, 'README.md');
      expect(existsSync(readme), `${folder.name}/README.md`).toBe(true);
      expect(readFileSync(readme, 'utf8'), folder.name).toMatch(/may import/i);
    }
  });

  it('only src/providers/onepassword/ imports the 1Password SDK', () => {
    const importers = sourceFiles(SRC)
      .filter((file) => /from ['"]@1password\/sdk['"]|import\(['"]@1password\/sdk['"]\)/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(SRC, file));
    expect(importers.length).toBeGreaterThan(0);
    for (const file of importers) expect(file).toMatch(/^providers\/onepassword\//);
  });

  it('only src/config.ts reads process.env', () => {
    const readers = sourceFiles(SRC)
      .filter((file) => !file.endsWith('.test.ts') && /process\.env\b/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(SRC, file));
    expect(readers).toEqual(['config.ts']);
  });

  it('the rule check sees a broken import (it can fail)', () => {
    const http = join(SRC, 'http', 'errors.ts');
    expect(importedAreas(http).map((i) => i.area)).not.toContain('modules');
    // A line as a wrong import would read, resolved the same way.
    const target = resolve(dirname(http), '../modules/vaults/index.js');
    expect(areaOf(target)).toBe('modules');
    expect(MAY_IMPORT.http).not.toContain('modules');
  });
});
