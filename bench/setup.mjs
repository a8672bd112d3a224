// What the fill and MCP benchmarks share: a throw-away work directory (removed on exit, with every
// child process), and a fixture with one login item for the demo site's login.app.localhost, with
// the environment that serves it. Needs `npm ci` (dist/).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');
export const BIN = join(ROOT, 'bin', 'sesame.js');
export const OP_VAULT = 'benchvault7turaasywpymt3j';
export const HOST = 'login.app.localhost';
export const ITEM_ID = 'benchitem0000000000000000';

const { mintFakeToken } = await import(join(ROOT, 'dist', 'providers', 'onepassword', 'fake-token.js'));

/** A temporary directory and a set of child processes, both gone when this process exits (Ctrl-C included). */
export function workspace(prefix) {
  const work = mkdtempSync(join(tmpdir(), prefix));
  const children = new Set();
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
  return { work, children };
}

/** A fixture file in `work` whose token reads one login (bench-user and a random password), and the environment of a server on it. */
export function loginFixture(work, seed) {
  const password = `pw-bench-${randomBytes(12).toString('base64url')}`;
  const token = mintFakeToken({ seed });
  const fixturePath = join(work, 'fixture.json');
  writeFileSync(
    fixturePath,
    JSON.stringify({
      tokens: { [token]: { vaults: [OP_VAULT], state: 'active' } },
      vaults: {
        [OP_VAULT]: {
          title: 'Bench logins',
          items: [
            {
              id: ITEM_ID,
              title: 'Bench site',
              category: 'Login',
              updated_at: '2026-01-01T00:00:00Z',
              websites: [{ url: `http://${HOST}`, autofill: 'AnywhereOnWebsite' }],
              fields: [
                { id: 'username', type: 'text', label: 'username', value: 'bench-user' },
                { id: 'password', type: 'concealed', label: 'password', value: password },
              ],
            },
          ],
        },
      },
      faults: {},
    }),
  );
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: `sqlite:${join(work, 'sesame.db')}`,
    SESAME_MASTER_KEY: randomBytes(32).toString('base64'),
    SESAME_ONEPASSWORD_FIXTURE: fixturePath,
    LOG_LEVEL: 'info',
    SESAME_RATE_LIMIT: '100000000',
  };
  return { token, password, env };
}
