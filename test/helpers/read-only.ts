// Makes a file or directory read-only for the test's own process. chmod does not stop root, which CI
// runs as, so as root the file is made immutable instead (chattr +i: refused even to root, and what
// access(2) reports). Always undo it, or the temporary directory cannot be removed.
import { execFileSync } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';

const asRoot = process.getuid?.() === 0;

export function makeReadOnly(path: string): () => void {
  if (asRoot) {
    execFileSync('chattr', ['+i', path]);
    return () => execFileSync('chattr', ['-i', path]);
  }
  const mode = statSync(path).mode & 0o7777;
  chmodSync(path, mode & ~0o222);
  return () => chmodSync(path, mode);
}
