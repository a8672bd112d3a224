// Master key rotation (docs/security.md, "Rotation runbook"): rotate, rewrap online and resumably, verify,
// retire the old key, on both databases, through the real server and the real CLI actions.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseBatchSize, retireKeyCommand, rewrapKeysCommand, rotateKeysCommand, verifyKeysCommand } from '../src/cli/keys.js';
import { loadConfig } from '../src/config.js';
import { createEnvelope } from '../src/crypto/envelope.js';
import { formatMasterKeys, generateMasterKey, Keyring, type MasterKey, parseMasterKeys } from '../src/crypto/keyring.js';
import { openDatabase } from '../src/db/database.js';
import { createVaultRepo, sealedOf } from '../src/modules/vaults/vaults.repo.js';
import { tokenContext } from '../src/modules/vaults/vaults.service.js';
import { OP_VAULT, TestFixture } from './helpers/fixture.js';
import { createTestPostgres } from './helpers/postgres.js';
import { type Dialect, describeDialects, startTestServer, type TestServer } from './helpers/server.js';
import { createVault, health, sleep, VAULTS } from './helpers/vaults.js';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '..', 'bin', 'sesame.js');

const k1 = generateMasterKey('k1');
const k2 = generateMasterKey('k2');

/** Runs `work` on at most `limit` items at a time (two cores: keep the load modest). */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

describeDialects('master key rotation (%s)', (dialect: Dialect) => {
  let dir: string;
  let database: string;
  let dropDatabase: () => Promise<void>;
  let fixture: TestFixture;
  const servers: TestServer[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-keys-'));
    if (dialect === 'sqlite') {
      database = join(dir, 'sesame.db');
      dropDatabase = async () => {};
    } else {
      const postgres = await createTestPostgres();
      database = postgres.url;
      dropDatabase = postgres.drop;
    }
    fixture = new TestFixture();
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    await dropDatabase();
    fixture.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The real server on the shared database with this key list; it gets a copy of the fixture (a server's close removes its own). */
  async function serveWith(keys: MasterKey[], env: Record<string, string> = {}): Promise<TestServer> {
    const server = await startTestServer({
      dialect,
      database,
      fixture: new TestFixture(structuredClone(fixture.data)),
      env: { SESAME_MASTER_KEY: formatMasterKeys(keys), ...env },
    });
    servers.push(server);
    return server;
  }

  async function stop(server: TestServer): Promise<void> {
    servers.splice(servers.indexOf(server), 1);
    await server.close();
  }

  /** The configuration a `sesame keys …` command would see with this key list. */
  function keysConfig(keys: MasterKey[]) {
    return loadConfig({
      DATABASE_URL: dialect === 'sqlite' ? `sqlite:${database}` : database,
      SESAME_MASTER_KEY: formatMasterKeys(keys),
    });
  }

  /** Every stored row, decrypted with `keys` only (what the token columns hold now). */
  async function storedTokens(keys: MasterKey[]): Promise<Map<string, { keyId: string; token: string }>> {
    const db = openDatabase(keysConfig(keys).database);
    try {
      const envelope = createEnvelope(new Keyring(keys));
      const rows = await db.db.selectFrom('vaults').selectAll().execute();
      return new Map(
        rows.map((row) => [row.id, { keyId: row.token_key_id, token: envelope.open(sealedOf(row), tokenContext(row.org_id, row.id)) }]),
      );
    } finally {
      await db.close();
    }
  }

  async function countByKey(): Promise<Record<string, number>> {
    const db = openDatabase(keysConfig([k1]).database);
    try {
      return await createVaultRepo(db.db).countByKeyId();
    } finally {
      await db.close();
    }
  }

  /** Creates `count` vaults over `orgs` (round robin) on `server`, with tokens already in the fixture. */
  async function createVaults(server: TestServer, orgs: { key: string }[], tokens: string[]) {
    const vaults: { id: string; key: string; token: string }[] = [];
    for (const [i, token] of tokens.entries()) {
      const { key } = orgs[i % orgs.length] as { key: string };
      const { vault } = await createVault(server, key, { token });
      vaults.push({ id: vault.id, key, token });
    }
    return vaults;
  }

  async function expectAllHealthy(server: TestServer, vaults: { id: string; key: string }[]): Promise<void> {
    const answers = await Promise.all(vaults.map(async ({ id, key }) => (await health(server, key, id)).body));
    expect(answers).toEqual(vaults.map(() => ({ ok: true, error: null })));
  }

  it('resumes a rewrap interrupted half-way, then the old key can go and every vault still works', async () => {
    const tokens = Array.from({ length: 25 }, () => fixture.token());
    const before = await serveWith([k1]);
    const vaults = await createVaults(before, [await before.newOrg(), await before.newOrg()], tokens);
    await stop(before);
    expect(await countByKey()).toEqual({ k1: 25 });

    // Rotate: k2 is current, k1 still opens. A crash after three batches of four…
    let batches = 0;
    const crash = new Error('simulated crash');
    await expect(
      rewrapKeysCommand(keysConfig([k2, k1]), {
        batchSize: 4,
        onBatch: () => {
          if (++batches === 3) throw crash;
        },
      }),
    ).rejects.toBe(crash);
    expect(await countByKey()).toEqual({ k1: 13, k2: 12 });
    const half = await storedTokens([k2, k1]);
    expect(vaults.every(({ id, token }) => half.get(id)?.token === token)).toBe(true);

    // …the API keeps working on the half-rewrapped table, for rows under either key…
    const during = await serveWith([k2, k1]);
    await expectAllHealthy(during, vaults);
    await stop(during);

    // …and running it again continues where it stopped; a third run finds nothing to do.
    expect(await rewrapKeysCommand(keysConfig([k2, k1]), { batchSize: 4 })).toEqual({
      current: 'k2',
      rewrapped: 13,
      skipped: 0,
      failed: [],
    });
    expect(await rewrapKeysCommand(keysConfig([k2, k1]), { batchSize: 4 })).toEqual({
      current: 'k2',
      rewrapped: 0,
      skipped: 0,
      failed: [],
    });
    expect(await countByKey()).toEqual({ k2: 25 });

    // k1 retired (with SESAME_MASTER_KEY: the shorter list to deploy is printed)…
    expect(await retireKeyCommand(keysConfig([k2, k1]), 'k1')).toEqual({
      current: 'k2',
      keys: ['k2'],
      SESAME_MASTER_KEY: formatMasterKeys([k2]),
    });
    // …verify passes and every vault decrypts to its own token, in storage and through the API.
    expect(await verifyKeysCommand(keysConfig([k2]))).toEqual({ current: 'k2', checked: 25, by_key: { k2: 25 }, failed: [] });
    const stored = await storedTokens([k2]);
    for (const { id, token } of vaults) expect(stored.get(id)).toEqual({ keyId: 'k2', token });
    await expectAllHealthy(await serveWith([k2]), vaults);
  });

  it('loses no token rotation made through the API while a rewrap runs', async () => {
    const count = 30;
    const rounds = 3;
    const tokens = Array.from({ length: count }, () => fixture.token());
    const rotations = Array.from({ length: count }, () => Array.from({ length: rounds }, () => fixture.token()));
    const before = await serveWith([k1]);
    const vaults = await createVaults(before, [await before.newOrg()], tokens);
    await stop(before);

    const server = await serveWith([k2, k1]);
    const latest = new Map(vaults.map(({ id, token }) => [id, token]));
    const rotating = inParallel(
      vaults.map((vault, i) => ({ vault, next: rotations[i] as string[] })),
      4,
      async ({ vault, next }) => {
        for (const token of next) {
          const answer = await server.request('PUT', `${VAULTS}/${vault.id}/token`, { key: vault.key, body: { token } });
          expect(answer.status).toBe(204);
          latest.set(vault.id, token);
        }
      },
    );
    // Small batches with a pause between them, so reads and writes of both sides interleave.
    const rewrap = rewrapKeysCommand(keysConfig([k2, k1]), {
      batchSize: 3,
      onBatch: async () => {
        await sleep(2);
      },
    });
    const [result] = await Promise.all([rewrap, rotating]);
    expect(result.failed).toEqual([]);
    expect(result.rewrapped + result.skipped).toBeLessThanOrEqual(count);
    console.info(`rewrap racing ${count * rounds} rotations: ${result.rewrapped} rewrapped, ${result.skipped} skipped`);

    // Whatever the interleaving: nothing is left under k1 and each vault holds its latest token.
    expect(await countByKey()).toEqual({ k2: count });
    const stored = await storedTokens([k2]);
    for (const { id } of vaults) expect(stored.get(id)?.token).toBe(latest.get(id));
    await expectAllHealthy(server, vaults);
    await stop(server);
    await expectAllHealthy(await serveWith([k2]), vaults);
  });

  it('keeps a rotation whose provider check spans the whole rewrap', async () => {
    const [first, second] = [fixture.token(), fixture.token()];
    const before = await serveWith([k1]);
    const [vault] = await createVaults(before, [await before.newOrg()], [first as string]);
    await stop(before);
    fixture.setFaults({ latency_ms: 700 });
    const server = await serveWith([k2, k1]);
    const { id, key } = vault as { id: string; key: string };

    // The rotation has read the row and waits on 1Password while the rewrap rewraps that row.
    const rotation = server.request('PUT', `${VAULTS}/${id}/token`, { key, body: { token: second } });
    await sleep(150);
    expect(await rewrapKeysCommand(keysConfig([k2, k1]))).toEqual({ current: 'k2', rewrapped: 1, skipped: 0, failed: [] });
    expect((await rotation).status).toBe(204);
    expect((await storedTokens([k2])).get(id)).toEqual({ keyId: 'k2', token: second });
  });

  it('leaves a row alone when its token was rotated between the rewrap reading and writing it', async () => {
    const [first, second] = [fixture.token(), fixture.token()];
    const server = await serveWith([k2, k1]);
    const org = await server.newOrg();
    // Seal the first token under k1, as an instance that had not yet been given k2 would have.
    const { vault } = await createVault(server, org.key, { token: first });
    const db = openDatabase(keysConfig([k1]).database);
    try {
      const repo = createVaultRepo(db.db);
      const old = createEnvelope(new Keyring([k1])).seal(first as string, tokenContext(org.orgId, vault.id));
      await db.db
        .updateTable('vaults')
        .set({ token_key_id: old.keyId, token_wrapped_key: old.wrappedKey, token_ciphertext: old.ciphertext })
        .where('id', '=', vault.id)
        .execute();

      const [read] = await repo.listSealed(undefined, 10, 'k2');
      expect(read?.id).toBe(vault.id);
      expect((await server.request('PUT', `${VAULTS}/${vault.id}/token`, { key: org.key, body: { token: second } })).status).toBe(204);
      const rewrapped = createEnvelope(new Keyring([k2, k1])).rewrap(sealedOf(read as never), tokenContext(org.orgId, vault.id));
      const expected = { keyId: 'k1', wrappedKey: (read as { token_wrapped_key: string }).token_wrapped_key };
      expect(await repo.replaceWrappedKeys([{ orgId: org.orgId, id: vault.id, expected, next: rewrapped }])).toEqual([false]);
    } finally {
      await db.close();
    }
    expect((await storedTokens([k2])).get(vault.id)).toEqual({ keyId: 'k2', token: second });
    expect(await rewrapKeysCommand(keysConfig([k2, k1]))).toEqual({ current: 'k2', rewrapped: 0, skipped: 0, failed: [] });
  });

  it('refuses to rewrap while a running server lacks the new key, and to retire a key a running server seals with', async () => {
    const token = fixture.token();
    const old = await serveWith([k1]);
    const org = await old.newOrg();
    const { vault } = await createVault(old, org.key, { token });
    const said: string[] = [];
    const tell = (line: string) => said.push(line);

    // A server on [k1] could not open what a rewrap seals with k2.
    await expect(rewrapKeysCommand(keysConfig([k2, k1]), {}, tell)).rejects.toThrow(
      /^1 running server\(s\) do not have master key 'k2' and could not open what the rewrap seals with it: .+ pid \d+ \(started .+\)\. Restart them with the new key list first$/,
    );
    expect(await countByKey()).toEqual({ k1: 1 });

    // The first step of a rolling deploy: k2 known everywhere, k1 still current on this server.
    await stop(old);
    const rolling = await serveWith([k1, k2]);
    expect(await rewrapKeysCommand(keysConfig([k2, k1]), {}, tell)).toEqual({ current: 'k2', rewrapped: 1, skipped: 0, failed: [] });
    expect(said.at(-1)).toMatch(/^note: 1 running server\(s\) still seal new tokens with an older key \(k1\)/);
    await expect(retireKeyCommand(keysConfig([k2, k1]), 'k1', tell)).rejects.toThrow(
      /^master key 'k1' is still the current key of 1 running server\(s\), which seal new tokens with it: .+\. Restart them with the new key list, run sesame keys rewrap, then retire 'k1'$/,
    );
    // The current key of the list itself is refused for that reason, before anything else.
    await expect(retireKeyCommand(keysConfig([k2, k1]), 'k2', tell)).rejects.toThrow(
      "master key 'k2' is the current key; rotate to a new key before retiring it",
    );

    // Second step: every server on [k2, k1]. Now k1 can go.
    await stop(rolling);
    const current = await serveWith([k2, k1]);
    expect(await retireKeyCommand(keysConfig([k2, k1]), 'k1', tell)).toMatchObject({ current: 'k2', keys: ['k2'] });
    expect(said.at(-1)).toBe("'k1' is removed: deploy the SESAME_MASTER_KEY printed on stdout to every instance.");
    expect((await health(current, org.key, vault.id)).body).toEqual({ ok: true, error: null });
  });

  it('reports rows it cannot unwrap, and verify names them without any secret', async () => {
    const k0 = generateMasterKey('k0');
    const tokens = [fixture.token(), fixture.token(), fixture.token()];
    const lost = await serveWith([k0]);
    const [orphan] = await createVaults(lost, [await lost.newOrg()], [tokens[0] as string]);
    await stop(lost);
    const before = await serveWith([k1]);
    const org = await before.newOrg();
    const good = await createVaults(before, [org], tokens.slice(1));
    // The server says at start-up which keys it lacks, and that a rewrap is pending.
    await stop(before);
    const server = await serveWith([k2, k1]);
    const startup = server.logs.join('\n');
    expect(startup).toContain('"key_id":"k0","vaults":1');
    expect(startup).toMatch(/"older":\{"k1":2\}.*run sesame keys rewrap/);
    const { id: orphanId } = orphan as { id: string };

    const result = await rewrapKeysCommand(keysConfig([k2, k1]));
    expect(result).toEqual({ current: 'k2', rewrapped: 2, skipped: 0, failed: [orphanId] });
    const report = await verifyKeysCommand(keysConfig([k2]));
    expect(report.checked).toBe(3);
    expect(report.by_key).toEqual({ k0: 1, k2: 2 });
    expect(report.failed).toEqual([
      { vault_id: orphanId, org_id: expect.any(String), key_id: 'k0', reason: "master key 'k0' is not configured" },
    ]);
    const text = JSON.stringify(report);
    for (const token of tokens) expect(text).not.toContain(token.slice(4, 40));
    await expectAllHealthy(server, good);
  });
});

describe('--batch-size', () => {
  it('takes an integer from 1 to 10000', () => {
    expect(parseBatchSize('1')).toBe(1);
    expect(parseBatchSize('10000')).toBe(10_000);
    for (const bad of ['0', '10001', '-1', '1.5', '1e3', 'x', ''])
      expect(() => parseBatchSize(bad), bad).toThrow('must be an integer from 1 to 10000');
  });
});

// Each command is a new Node process (~1.5 s of CPU on the 2-core machine): the wiring of main.ts (JSON
// output, exit codes) is checked once per command, the rest in-process; and these get more time.
describe('sesame keys (the executable)', { timeout: 60_000 }, () => {
  let dir: string;
  let env: Record<string, string>;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-keys-cli-'));
    env = { ...(process.env as Record<string, string>), DATABASE_URL: `sqlite:${join(dir, 'sesame.db')}`, PORT: '0', LOG_LEVEL: 'info' };
    delete env.SESAME_MASTER_KEY;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function sesame(args: string[], extraEnv: Record<string, string> = {}) {
    try {
      const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...env, ...extraEnv } });
      return { code: 0, json: JSON.parse(stdout), stdout, stderr };
    } catch (err) {
      const failed = err as { code: number; stdout: string; stderr: string };
      return {
        code: failed.code,
        json: failed.stdout ? JSON.parse(failed.stdout) : undefined,
        stdout: failed.stdout,
        stderr: failed.stderr,
      };
    }
  }

  it('rotates the embedded key file in place, and refuses to retire a key still in use', async () => {
    const embedded = loadConfig({ DATABASE_URL: env.DATABASE_URL });
    expect(() => rotateKeysCommand(embedded)).toThrow(`no key file at ${join(dir, 'master.key')}`);
    // The embedded default: the first server start creates the key file (k1).
    const server = await startTestServer({ dialect: 'sqlite', database: join(dir, 'sesame.db'), env: { SESAME_MASTER_KEY: '' } });
    try {
      const { key } = await server.newOrg();
      await createVault(server, key, { token: server.fixture.token([OP_VAULT]) });
    } finally {
      await server.close();
    }
    const rotated = await sesame(['keys', 'rotate']);
    expect(rotated.json).toEqual({ current: 'k2', keys: ['k2', 'k1'], key_file: join(dir, 'master.key') });
    expect(rotated.stdout).not.toMatch(/[A-Za-z0-9+/]{43}=/); // ids only, never key material, in file mode
    expect(rotated.stderr.trim()).toBe(
      `k2 is now the current master key in ${join(dir, 'master.key')}. Running servers keep sealing with k1 and cannot open what k2 ` +
        'seals until they restart: restart every running sesame serve, then run sesame keys rewrap.',
    );

    await expect(retireKeyCommand(embedded, 'k1')).rejects.toThrow(
      "master key 'k1' still wraps 1 stored token(s): run sesame keys rewrap first",
    );

    expect((await sesame(['keys', 'rewrap', '--batch-size', '1'])).json).toEqual({ current: 'k2', rewrapped: 1, skipped: 0, failed: [] });
    expect(await verifyKeysCommand(embedded)).toEqual({ current: 'k2', checked: 1, by_key: { k2: 1 }, failed: [] });
    expect((await sesame(['keys', 'retire', '--id', 'k1'])).json).toEqual({
      current: 'k2',
      keys: ['k2'],
      key_file: join(dir, 'master.key'),
    });
  });

  it('with SESAME_MASTER_KEY prints the new list to deploy, and verify exits 1 on a record it cannot open', async () => {
    const rotated = await sesame(['keys', 'rotate'], { SESAME_MASTER_KEY: formatMasterKeys([k1]) });
    expect(rotated.json).toEqual({ current: 'k2', keys: ['k2', 'k1'], SESAME_MASTER_KEY: expect.any(String) });
    const deployed = parseMasterKeys(rotated.json.SESAME_MASTER_KEY);
    expect(deployed.ids).toEqual(['k2', 'k1']);
    expect(deployed.get('k1')?.key.equals(k1.key)).toBe(true);
    expect(deployed.current.key.equals(k1.key)).toBe(false);
    // What must happen before a rewrap, on stderr; never key material there.
    expect(rotated.stderr).toMatch(
      /^k2 is the new current master key\. Deploy the SESAME_MASTER_KEY printed on stdout to every instance and restart them/,
    );
    expect(rotated.stderr).toContain('then run sesame keys rewrap');
    expect(rotated.stderr).not.toContain(rotated.json.SESAME_MASTER_KEY.split(':')[1].slice(0, 20));

    const server = await startTestServer({
      dialect: 'sqlite',
      database: join(dir, 'sesame.db'),
      env: { SESAME_MASTER_KEY: formatMasterKeys([k1]) },
    });
    let vaultId: string;
    try {
      const { key } = await server.newOrg();
      vaultId = (await createVault(server, key, { token: server.fixture.token([OP_VAULT]) })).vault.id;
    } finally {
      await server.close();
    }
    const verify = await sesame(['keys', 'verify'], { SESAME_MASTER_KEY: formatMasterKeys([k2]) });
    expect(verify.code).toBe(1);
    expect(verify.json.failed).toEqual([
      { vault_id: vaultId, org_id: expect.any(String), key_id: 'k1', reason: "master key 'k1' is not configured" },
    ]);
    const rewrap = await sesame(['keys', 'rewrap'], { SESAME_MASTER_KEY: formatMasterKeys([k2]) });
    expect(rewrap.code).toBe(1);
    expect(rewrap.json).toEqual({ current: 'k2', rewrapped: 0, skipped: 0, failed: [vaultId] });
  });
});

// docs/security.md's runbook for SESAME_MASTER_KEY starts from one bare key, as docs/deployment.md
// generates it: its id is `default`, so the ids the commands print are `k1` and `default`.
describe('the runbook with a single SESAME_MASTER_KEY (id default)', () => {
  it('rotates to k1 and retires default, with the ids the runbook shows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-keys-default-'));
    const bare = generateMasterKey('default').key.toString('base64');
    const config = (value: string) => loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'sesame.db')}`, SESAME_MASTER_KEY: value });
    const said: string[] = [];
    const fixture = new TestFixture();
    const token = fixture.token([OP_VAULT]);
    const serve = (value: string) =>
      startTestServer({
        dialect: 'sqlite',
        database: join(dir, 'sesame.db'),
        fixture: new TestFixture(structuredClone(fixture.data)),
        env: { SESAME_MASTER_KEY: value },
      });
    try {
      const server = await serve(bare);
      const { key } = await server.newOrg();
      const { vault } = await createVault(server, key, { token });
      await server.close();

      const rotated = rotateKeysCommand(config(bare), undefined, (line) => said.push(line));
      expect(rotated).toMatchObject({ current: 'k1', keys: ['k1', 'default'] });
      const list = rotated.SESAME_MASTER_KEY as string;
      expect(list).toMatch(/^k1:[A-Za-z0-9+/]{43}=,default:/);
      expect(said[0]).toMatch(/^k1 is the new current master key\./);
      expect(await rewrapKeysCommand(config(list), {}, () => {})).toEqual({ current: 'k1', rewrapped: 1, skipped: 0, failed: [] });
      expect(await verifyKeysCommand(config(list))).toEqual({ current: 'k1', checked: 1, by_key: { k1: 1 }, failed: [] });
      const retired = await retireKeyCommand(config(list), 'default', () => {});
      expect(retired).toMatchObject({ current: 'k1', keys: ['k1'] });
      const after = await serve(retired.SESAME_MASTER_KEY as string);
      try {
        expect((await health(after, key, vault.id)).body).toEqual({ ok: true, error: null });
      } finally {
        await after.close();
      }
    } finally {
      fixture.remove();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
