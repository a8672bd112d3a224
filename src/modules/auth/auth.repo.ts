// Organizations and API keys. Unlike vault queries these cannot be scoped by org up front:
// authentication is what finds the org, and key revocation is an operator action by key id.
import type { Kysely } from 'kysely';
import { preparedQuery } from '../../db/database.js';
import type { ApiKeysTable, OrganizationsTable, Tables } from '../../db/schema.js';

export type Organization = OrganizationsTable;
export type ApiKeyRow = ApiKeysTable;

export function createAuthRepo(db: Kysely<Tables>) {
  const activeApiKey = preparedQuery(db, (db, param) =>
    db.selectFrom('api_keys').select(['id', 'org_id']).where('key_hash', '=', param('keyHash')).where('revoked_at', 'is', null),
  );

  return {
    async insertOrganization(org: Organization): Promise<void> {
      await db.insertInto('organizations').values(org).execute();
    },

    /** Creates the org unless it exists; safe when several instances race on the same id. */
    async insertOrganizationIfMissing(org: Organization): Promise<void> {
      await db
        .insertInto('organizations')
        .values(org)
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    },

    async findOrganization(id: string): Promise<Organization | undefined> {
      return db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
    },

    async listOrganizations(): Promise<Organization[]> {
      return db.selectFrom('organizations').selectAll().orderBy('created_at').orderBy('id').execute();
    },

    /** An org's keys, oldest first, without their hashes. */
    async listApiKeys(orgId: string): Promise<Omit<ApiKeyRow, 'key_hash'>[]> {
      return db
        .selectFrom('api_keys')
        .select(['id', 'org_id', 'name', 'created_at', 'last_used_at', 'revoked_at'])
        .where('org_id', '=', orgId)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
    },

    /** Records a use; never moves the time backwards when instances race. */
    async touchApiKey(id: string, at: string): Promise<void> {
      await db
        .updateTable('api_keys')
        .set({ last_used_at: at })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
        .execute();
    },

    async countOrganizations(): Promise<number> {
      const row = await db
        .selectFrom('organizations')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async insertApiKey(key: ApiKeyRow): Promise<void> {
      await db.insertInto('api_keys').values(key).execute();
    },

    /** The hot path of every request: one indexed read by hash, no cache, so revocation is immediate everywhere. */
    async findActiveApiKey(keyHash: string): Promise<Pick<ApiKeyRow, 'id' | 'org_id'> | undefined> {
      return (await activeApiKey({ keyHash }))[0];
    },

    /** Returns false when no such key exists. Revoking twice keeps the first revocation time. */
    async revokeApiKey(id: string, at: string): Promise<boolean> {
      const existing = await db.selectFrom('api_keys').select(['id', 'revoked_at']).where('id', '=', id).executeTakeFirst();
      if (!existing) return false;
      if (!existing.revoked_at) await db.updateTable('api_keys').set({ revoked_at: at }).where('id', '=', id).execute();
      return true;
    },
  };
}

export type AuthRepo = ReturnType<typeof createAuthRepo>;
