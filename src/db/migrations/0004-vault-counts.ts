import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Each org's number of vaults, kept by triggers so that listing a page of an org with 10,000 vaults
// does not count 10,000 index entries first. The count is split over 16 slots (the first character of
// the vault id) so concurrent creates in one org do not queue on one row until they commit. Triggers,
// not application code, keep it: an instance of an older version writing during a rolling upgrade
// keeps it right too.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('vault_counts')
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('vaults', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('vault_counts_pk', ['org_id', 'slot'])
    .execute();

  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`
      CREATE FUNCTION sesame_count_vaults() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO vault_counts (org_id, slot, vaults) VALUES (NEW.org_id, substr(NEW.id, 1, 1), 1)
            ON CONFLICT (org_id, slot) DO UPDATE SET vaults = vault_counts.vaults + 1;
          RETURN NEW;
        END IF;
        UPDATE vault_counts SET vaults = vaults - 1 WHERE org_id = OLD.org_id AND slot = substr(OLD.id, 1, 1);
        RETURN OLD;
      END $$`.execute(db);
    // Created before the backfill: the trigger's lock holds off concurrent writes until this migration commits.
    await sql`CREATE TRIGGER vaults_counted AFTER INSERT OR DELETE ON vaults FOR EACH ROW EXECUTE FUNCTION sesame_count_vaults()`.execute(
      db,
    );
  } else {
    await sql`
      CREATE TRIGGER vaults_counted_insert AFTER INSERT ON vaults BEGIN
        INSERT INTO vault_counts (org_id, slot, vaults) VALUES (NEW.org_id, substr(NEW.id, 1, 1), 1)
          ON CONFLICT (org_id, slot) DO UPDATE SET vaults = vaults + 1;
      END`.execute(db);
    await sql`
      CREATE TRIGGER vaults_counted_delete AFTER DELETE ON vaults BEGIN
        UPDATE vault_counts SET vaults = vaults - 1 WHERE org_id = OLD.org_id AND slot = substr(OLD.id, 1, 1);
      END`.execute(db);
  }
  await sql`
    INSERT INTO vault_counts (org_id, slot, vaults)
    SELECT org_id, substr(id, 1, 1), count(*) FROM vaults GROUP BY org_id, substr(id, 1, 1)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`DROP TRIGGER vaults_counted ON vaults`.execute(db);
    await sql`DROP FUNCTION sesame_count_vaults()`.execute(db);
  } else {
    await sql`DROP TRIGGER vaults_counted_insert`.execute(db);
    await sql`DROP TRIGGER vaults_counted_delete`.execute(db);
  }
  await db.schema.dropTable('vault_counts').execute();
}
