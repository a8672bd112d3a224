import type { Kysely } from 'kysely';

// Audit events and grants (docs/fill.md, "Audit events" and "Grants"). Portable DDL only.
export async function up(db: Kysely<unknown>): Promise<void> {
  // No foreign key to vaults: a vault's trail outlives the vault (its deletion is the last event).
  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('vault_id', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor_type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('origin', 'text')
    .addColumn('field', 'text')
    .addColumn('item_id', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .execute();
  // Reading one vault's trail newest first.
  await db.schema.createIndex('audit_events_vault_idx').on('audit_events').columns(['org_id', 'vault_id', 'at', 'id']).execute();

  // A grant dies with its vault.
  await db.schema
    .createTable('grants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('vault_id', 'text', (c) => c.notNull().references('vaults.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('allowed_domains', 'text')
    .addColumn('max_fills', 'integer')
    .addColumn('fills_used', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('grants_vault_idx').on('grants').columns(['org_id', 'vault_id', 'created_at', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('grants').execute();
  await db.schema.dropTable('audit_events').execute();
}
