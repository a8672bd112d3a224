// The real server (real HTTP, SQLite) on a provider the test built, e.g. the SDK backend on a fake SDK.
// test/helpers/server.ts always configures the fixture backend; this passes the provider in instead.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startServer } from '../../../src/cli/serve.js';
import { loadConfig } from '../../../src/config.js';
import { createAuthRepo } from '../../../src/modules/auth/auth.repo.js';
import { createAuthService } from '../../../src/modules/auth/auth.service.js';
import type { SecretsProvider } from '../../../src/providers/provider.js';

export interface ProviderServer {
  logs: string[];
  request(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; text: string }>;
  close(): Promise<void>;
}

export async function startProviderServer(provider: SecretsProvider): Promise<ProviderServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-provider-'));
  const config = loadConfig({
    DATABASE_URL: `sqlite:${join(dir, 'sesame.db')}`,
    SESAME_MASTER_KEY: randomBytes(32).toString('base64'),
    PORT: '0',
    LOG_LEVEL: 'debug',
  });
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const server = await startServer(config, { provider, logStream, bootstrap: false });
  const auth = createAuthService({ repo: createAuthRepo(server.database.db) });
  const org = await auth.createOrganization('provider-test');
  const { key } = await auth.issueApiKey(org.id);
  return {
    logs,
    async request(method, path, body) {
      const headers: Record<string, string> = { authorization: `Bearer ${key}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: response.status, headers: response.headers, text: await response.text() };
    },
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
