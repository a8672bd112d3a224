// Audit events. Every method takes the org and puts it in the WHERE clause.
import type { Kysely } from 'kysely';
import type { AuditEventsTable, Tables } from '../../db/schema.js';

export type AuditEventRow = AuditEventsTable;

export function createAuditRepo(db: Kysely<Tables>) {
  return {
    async insert(row: AuditEventRow): Promise<void> {
      await db.insertInto('audit_events').values(row).execute();
    },

    /** One vault's events, newest first. */
    async list(orgId: string, vaultId: string, limit: number, offset: number): Promise<{ total: number; rows: AuditEventRow[] }> {
      const [count, rows] = await Promise.all([
        db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('org_id', '=', orgId)
          .where('vault_id', '=', vaultId)
          .executeTakeFirstOrThrow(),
        db
          .selectFrom('audit_events')
          .selectAll()
          .where('org_id', '=', orgId)
          .where('vault_id', '=', vaultId)
          .orderBy('at', 'desc')
          .orderBy('id', 'desc')
          .limit(limit)
          .offset(offset)
          .execute(),
      ]);
      return { total: Number(count.n), rows };
    },
  };
}

export type AuditRepo = ReturnType<typeof createAuditRepo>;
