import type { Kysely } from 'kysely';

// When each API key was last used (to about a minute: see auth.service.ts), for `sesame api-key list`.
// Nullable, so an instance of the previous version keeps inserting keys during a rolling upgrade.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('last_used_at', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').dropColumn('last_used_at').execute();
}
