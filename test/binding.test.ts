// A stored token is bound to its row (AAD = org + vault) and authenticated (AES-GCM): copied into
// another vault's or another org's row, or changed by one byte, it no longer decrypts. Through the
// real server: health reports it (200, never a 5xx), `keys verify` names the row, and nothing leaks.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyKeysCommand } from '../src/cli/keys.js';
import { loadConfig } from '../src/config.js';
import { formatMasterKeys, generateMasterKey } from '../src/crypto/keyring.js';
import { OTHER_OP_VAULT } from './helpers/fixture.js';
import { describeDialects, startTestServer, type TestServer } from './helpers/server.js';
import { createVault, health, VAULTS } from './helpers/vaults.js';

const UNDECRYPTABLE = {
  ok: false,
  error: 'Sesame: the stored token cannot be decrypted; rotate it with PUT /api/v2/vaults/{vault_id}/token',
};

function flipByte(base64: string, index: number): string {
  const bytes = Buffer.from(base64, 'base64');
  bytes[index] = (bytes[index] as number) ^ 0x80;
  return bytes.toString('base64');
}

describeDialects('ciphertext binding (%s)', (dialect) => {
  const k1 = generateMasterKey('k1');
  const k2 = generateMasterKey('k2');
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ dialect, env: { SESAME_MASTER_KEY: formatMasterKeys([k1, k2]) } });
  });
  afterAll(() => t?.close());

  const db = () => t.server.database.db;
  const sealedColumns = (id: string) =>
    db()
      .selectFrom('vaults')
      .select(['token_key_id', 'token_wrapped_key', 'token_ciphertext'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
  const overwrite = (id: string, columns: Partial<Awaited<ReturnType<typeof sealedColumns>>>) =>
    db().updateTable('vaults').set(columns).where('id', '=', id).execute();
  const verify = () =>
    verifyKeysCommand(
      loadConfig({
        DATABASE_URL: dialect === 'sqlite' ? `sqlite:${t.databasePath}` : (t.databaseUrl as string),
        SESAME_MASTER_KEY: formatMasterKeys([k1, k2]),
      }),
    );

  it('does not decrypt a ciphertext copied into another vault of the same org or of another org', async () => {
    const a = await t.newOrg();
    const b = await t.newOrg();
    const source = await createVault(t, a.key);
    const sameOrg = await createVault(t, a.key);
    const otherOrg = await createVault(t, b.key);
    const copied = await sealedColumns(source.vault.id);
    await overwrite(sameOrg.vault.id, copied);
    await overwrite(otherOrg.vault.id, copied);

    expect((await health(t, a.key, source.vault.id)).body).toEqual({ ok: true, error: null });
    const sameAnswer = await health(t, a.key, sameOrg.vault.id);
    expect(sameAnswer.status).toBe(200);
    expect(sameAnswer.body).toEqual(UNDECRYPTABLE);
    expect((await health(t, b.key, otherOrg.vault.id)).body).toEqual(UNDECRYPTABLE);

    const report = await verify();
    const failed = report.failed.filter((f) => [sameOrg.vault.id, otherOrg.vault.id, source.vault.id].includes(f.vault_id));
    expect(failed).toEqual(
      [
        { vault_id: sameOrg.vault.id, org_id: a.orgId, key_id: 'k1', reason: 'stored secret failed authentication' },
        { vault_id: otherOrg.vault.id, org_id: b.orgId, key_id: 'k1', reason: 'stored secret failed authentication' },
      ].sort((x, y) => x.vault_id.localeCompare(y.vault_id)),
    );

    // Re-pointing needs the stored token: it cannot vouch for a new vault id, so that is a 409 that says what to do.
    const repoint = await t.request('PATCH', `${VAULTS}/${sameOrg.vault.id}`, {
      key: a.key,
      body: { provider_config: { op_vault_id: OTHER_OP_VAULT } },
    });
    expect(repoint.status).toBe(409);
    expect(repoint.body.detail).toMatch(/cannot be decrypted.*rotate the token/);

    // A rotation through the API re-seals the token for its own row: the vault works again.
    expect((await t.request('PUT', `${VAULTS}/${sameOrg.vault.id}/token`, { key: a.key, body: { token: sameOrg.token } })).status).toBe(
      204,
    );
    expect((await health(t, a.key, sameOrg.vault.id)).body).toEqual({ ok: true, error: null });
    for (const secret of [source.token, sameOrg.token, otherOrg.token]) expect(JSON.stringify(report)).not.toContain(secret.slice(4, 40));
  });

  it('fails authentication when a byte of the wrapped key or the ciphertext changes, or the key id is relabelled', async () => {
    const { key } = await t.newOrg();
    const { vault } = await createVault(t, key);
    const original = await sealedColumns(vault.id);
    // One byte in each part of both blobs (version, IV, body, tag); envelope.test.ts flips every byte.
    const regions = (base64: string) => {
      const n = Buffer.from(base64, 'base64').length;
      return [0, 1, 12, 13, Math.floor(n / 2), n - 17, n - 16, n - 1];
    };
    const tampered: Partial<typeof original>[] = [
      { token_key_id: 'k2' }, // another configured key: the AAD names the key id, so this cannot be passed off
      ...regions(original.token_wrapped_key).map((i) => ({ token_wrapped_key: flipByte(original.token_wrapped_key, i) })),
      ...regions(original.token_ciphertext).map((i) => ({ token_ciphertext: flipByte(original.token_ciphertext, i) })),
    ];
    for (const change of tampered) {
      await overwrite(vault.id, { ...original, ...change });
      const answer = await health(t, key, vault.id);
      expect([answer.status, answer.body], JSON.stringify(Object.keys(change))).toEqual([200, UNDECRYPTABLE]);
    }
    await overwrite(vault.id, original);
    expect((await health(t, key, vault.id)).body).toEqual({ ok: true, error: null });
    expect(t.logs.filter((line) => /"level":5\d/.test(line))).toEqual([]); // no 5xx-style error lines
  });
});
