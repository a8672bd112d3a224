// The real server (real HTTP, SQLite) on a provider the test built, e.g. the SDK backend on a fake SDK,
// with one org whose key every request carries.
import type { SecretsProvider } from '../../../src/providers/provider.js';
import { startTestServer, type TestResponse } from '../../helpers/server.js';

export interface ProviderServer {
  logs: string[];
  request(method: string, path: string, body?: unknown): Promise<TestResponse>;
  close(): Promise<void>;
}

export async function startProviderServer(provider: SecretsProvider): Promise<ProviderServer> {
  const server = await startTestServer({ dialect: 'sqlite', provider: () => provider });
  const { key } = await server.newOrg();
  return {
    logs: server.logs,
    request: (method, path, body) => server.request(method, path, { key, body }),
    close: () => server.close(),
  };
}
