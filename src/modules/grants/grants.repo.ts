// Grant rows. Management methods take the org and vault and put them in the WHERE clause; the
// authentication lookup is by hash, like API keys, since it is what finds the org.
import type { Kysely } from 'kysely';
import type { AuditEventsTable, GrantsTable, Tables } from '../../db/schema.js';

export interface GrantRow extends Omit<GrantsTable, 'fills_used'> {
  fills_used: number;
}

export function createGrantRepo(db: Kysely<Tables>) {
  return {
    /** The grant and the audit event recording it, in one transaction. */
    async insert(row: Omit<GrantRow, 'fills_used'>, event: AuditEventsTable): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('grants').values(row).execute();
        await trx.insertInto('audit_events').values(event).execute();
      });
    },

    /** One vault's grants, newest first. */
    async list(orgId: string, vaultId: string, limit: number, offset: number): Promise<{ total: number; rows: GrantRow[] }> {
      const [count, rows] = await Promise.all([
        db
          .selectFrom('grants')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('org_id', '=', orgId)
          .where('vault_id', '=', vaultId)
          .executeTakeFirstOrThrow(),
        db
          .selectFrom('grants')
          .selectAll()
          .where('org_id', '=', orgId)
          .where('vault_id', '=', vaultId)
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(limit)
          .offset(offset)
          .execute(),
      ]);
      return { total: Number(count.n), rows };
    },

    /** Marks the grant revoked (keeping the first revocation time); false when the vault has no such grant. */
    async revoke(orgId: string, vaultId: string, id: string, at: string, event: AuditEventsTable): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const found = await trx
          .selectFrom('grants')
          .select('id')
          .where('org_id', '=', orgId)
          .where('vault_id', '=', vaultId)
          .where('id', '=', id)
          .executeTakeFirst();
        if (!found) return false;
        await trx
          .updateTable('grants')
          .set({ revoked_at: at })
          .where('org_id', '=', orgId)
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .execute();
        await trx.insertInto('audit_events').values(event).execute();
        return true;
      });
    },

    /** The hot path of a grant-authenticated request: one indexed read, no cache, so revocation is immediate everywhere. */
    async findUnrevoked(tokenHash: string): Promise<GrantRow | undefined> {
      return db.selectFrom('grants').selectAll().where('token_hash', '=', tokenHash).where('revoked_at', 'is', null).executeTakeFirst();
    },

    /**
     * Counts one fill against the grant if it is still live and under its limit. One conditional
     * update, so concurrent fills on several instances can never exceed `max_fills`.
     */
    async reserveFill(orgId: string, id: string, now: string): Promise<boolean> {
      const result = await db
        .updateTable('grants')
        .set((eb) => ({ fills_used: eb('fills_used', '+', 1) }))
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now)
        .where((eb) => eb.or([eb('max_fills', 'is', null), eb('fills_used', '<', eb.ref('max_fills'))]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    /** Gives back a reserved fill whose value never reached the page (the provider failed). */
    async releaseFill(orgId: string, id: string): Promise<void> {
      await db
        .updateTable('grants')
        .set((eb) => ({ fills_used: eb('fills_used', '-', 1) }))
        .where('org_id', '=', orgId)
        .where('id', '=', id)
        .where('fills_used', '>', 0)
        .execute();
    },
  };
}

export type GrantRepo = ReturnType<typeof createGrantRepo>;
