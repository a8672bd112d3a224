import type { Kysely } from 'kysely';

// A grant may be bound to one browser (its DevTools endpoint, optionally one page of it): its fills
// then act on that browser only, and an agent holding it needs no endpoint of its own (MCP).
// Both columns are nullable: existing grants stay unbound and work as before. One ADD COLUMN per
// statement, which SQLite requires. Portable DDL only.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('grants').addColumn('cdp_endpoint', 'text').execute();
  await db.schema.alterTable('grants').addColumn('target_id', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('grants').dropColumn('target_id').execute();
  await db.schema.alterTable('grants').dropColumn('cdp_endpoint').execute();
}
