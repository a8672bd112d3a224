// Rules of the layout that review alone would not keep true.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('architecture', () => {
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
});
