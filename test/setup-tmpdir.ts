// Every test file runs with a temporary directory of its own as TMPDIR, removed when the file ends:
// whatever the file leaves in it (a server killed with SIGKILL on purpose, Chromium's or Playwright's
// scratch directories, a helper that was not closed) goes with it. Child processes inherit it. The
// directories live in one directory of the run (test/global-setup.ts), which the run removes at its
// end, so a file whose hooks never ran (all of its tests skipped) leaves nothing either.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, inject } from 'vitest';

const dir = mkdtempSync(join(inject('tmpRoot'), 'file-'));
chmodSync(dir, 0o711); // as the run's directory: the private PostgreSQL runs as the postgres user
process.env.TMPDIR = dir;

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
