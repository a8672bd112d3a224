import { afterAll, beforeAll, expect, it } from 'vitest';
import { OP_VAULT } from './helpers/fixture.js';
import { describeDialects, startTestServer, type TestServer } from './helpers/server.js';

describeDialects('smoke (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ dialect });
  });
  afterAll(() => t?.close());

  it('creates and reads a vault', async () => {
    const { key } = await t.newOrg();
    const token = t.fixture.token();
    const created = await t.request('POST', '/api/v2/vaults', {
      key,
      body: { name: 'a', provider_config: { op_vault_id: OP_VAULT }, token },
    });
    expect(created.status).toBe(201);
    const got = await t.request('GET', `/api/v2/vaults/${created.body.id}`, { key });
    expect(got.body).toEqual(created.body);
  });
});
