// Vault rows. Every method takes the org and puts it in the WHERE clause: a row of another org
// is indistinguishable from a missing one.
import type { Kysely } from 'kysely';
import type { SealedSecret } from '../../crypto/envelope.js';
import { isUniqueViolation, preparedQuery } from '../../db/database.js';
import type { Tables, VaultsTable } from '../../db/schema.js';
import { vaultNameTaken } from '../../errors.js';

export interface VaultRow extends Omit<VaultsTable, 'token_version'> {
  token_version: number;
}

/** What a conditional write expects to still be true; see updateIfUnchanged. */
export interface RowVersion {
  op_vault_id: string;
  token_version: number;
}

export type WriteResult = 'written' | 'missing' | 'changed';

const PUBLIC_COLUMNS = ['id', 'org_id', 'name', 'provider', 'op_vault_id', 'created_at', 'updated_at'] as const;
export type VaultRecord = Pick<VaultsTable, (typeof PUBLIC_COLUMNS)[number]>;

/** The stored token columns of a row, for key maintenance. */
export type SealedRow = Pick<VaultRow, 'id' | 'org_id' | 'token_key_id' | 'token_wrapped_key' | 'token_ciphertext'>;

/** One rewrapped data key to store, and what the row must still hold for it to be stored. */
export interface WrappedKeyChange {
  orgId: string;
  id: string;
  expected: Pick<SealedSecret, 'keyId' | 'wrappedKey'>;
  next: Pick<SealedSecret, 'keyId' | 'wrappedKey'>;
}

export function sealedOf(row: Pick<VaultRow, 'token_key_id' | 'token_wrapped_key' | 'token_ciphertext'>): SealedSecret {
  return { keyId: row.token_key_id, wrappedKey: row.token_wrapped_key, ciphertext: row.token_ciphertext };
}

export function createVaultRepo(db: Kysely<Tables>) {
  /** Runs a write that may hit the (org_id, name) unique constraint and reports it as the API's 409. */
  async function guardName<T>(name: string | undefined, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (name !== undefined && isUniqueViolation(err)) throw vaultNameTaken(name);
      throw err;
    }
  }

  // Hot-path reads, compiled once (see preparedQuery).
  const byId = preparedQuery(db, (db, param) =>
    db.selectFrom('vaults').select(PUBLIC_COLUMNS).where('org_id', '=', param('orgId')).where('id', '=', param('id')),
  );
  const byName = preparedQuery(db, (db, param) =>
    db.selectFrom('vaults').select('id').where('org_id', '=', param('orgId')).where('name', '=', param('name')),
  );
  const countInOrg = preparedQuery(db, (db, param) =>
    db
      .selectFrom('vaults')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('org_id', '=', param('orgId')),
  );
  const page = preparedQuery(db, (db, param) =>
    db
      .selectFrom('vaults')
      .select(PUBLIC_COLUMNS)
      .where('org_id', '=', param('orgId'))
      .orderBy('created_at')
      .orderBy('id')
      .limit(param('limit') as unknown as number)
      .offset(param('offset') as unknown as number),
  );

  return {
    async insert(row: Omit<VaultRow, 'token_version'>): Promise<void> {
      await guardName(row.name, () => db.insertInto('vaults').values(row).execute());
    },

    /** The public columns only: the hot read path never loads the ciphertext. */
    async find(orgId: string, id: string): Promise<VaultRecord | undefined> {
      return (await byId({ orgId, id }))[0];
    },

    /** The whole row, ciphertext included, for the operations that need the stored token. */
    async findWithToken(orgId: string, id: string): Promise<VaultRow | undefined> {
      return db.selectFrom('vaults').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    },

    async nameTaken(orgId: string, name: string, exceptId?: string): Promise<boolean> {
      return (await byName({ orgId, name })).some((row) => row.id !== exceptId);
    },

    async list(orgId: string, limit: number, offset: number): Promise<{ total: number; rows: VaultRecord[] }> {
      const [count, rows] = await Promise.all([countInOrg({ orgId }), page({ orgId, limit, offset })]);
      return { total: Number(count[0]?.n ?? 0), rows };
    },

    /**
     * Writes `changes` only if the provider-relevant state (vault id, token version) is still what the
     * caller checked against the provider; a concurrent rotation or re-point makes it 'changed'.
     */
    async updateIfUnchanged(
      orgId: string,
      id: string,
      expected: RowVersion,
      changes: Partial<
        Pick<VaultRow, 'name' | 'op_vault_id' | 'token_key_id' | 'token_wrapped_key' | 'token_ciphertext' | 'updated_at'>
      > & {
        bumpTokenVersion?: boolean;
      },
    ): Promise<WriteResult> {
      const { bumpTokenVersion, ...columns } = changes;
      const result = await guardName(columns.name, () =>
        db
          .updateTable('vaults')
          .set((eb) => ({ ...columns, ...(bumpTokenVersion ? { token_version: eb('token_version', '+', 1) } : {}) }))
          .where('org_id', '=', orgId)
          .where('id', '=', id)
          .where('op_vault_id', '=', expected.op_vault_id)
          .where('token_version', '=', expected.token_version)
          .executeTakeFirst(),
      );
      if (Number(result.numUpdatedRows) > 0) return 'written';
      return (await this.find(orgId, id)) ? 'changed' : 'missing';
    },

    // Key maintenance (`sesame keys …`) is an operator action over every org's rows, so the three
    // methods below are the only ones not scoped to one org; they never return a public vault.

    /** One page of a walk over all rows in id order, optionally only rows whose data key is not wrapped by `exceptKeyId`. */
    async listSealed(afterId: string | undefined, limit: number, exceptKeyId?: string): Promise<SealedRow[]> {
      let query = db.selectFrom('vaults').select(['id', 'org_id', 'token_key_id', 'token_wrapped_key', 'token_ciphertext']);
      if (afterId !== undefined) query = query.where('id', '>', afterId);
      if (exceptKeyId !== undefined) query = query.where('token_key_id', '!=', exceptKeyId);
      return query.orderBy('id').limit(limit).execute();
    },

    /**
     * Swaps wrapped data keys, each only while its row still holds exactly `expected`: a token rotated
     * (or a row deleted) since it was read is left alone (false). One transaction per call, so a batch
     * costs one commit; the token version does not change, since the token did not.
     */
    async replaceWrappedKeys(changes: readonly WrappedKeyChange[]): Promise<boolean[]> {
      return db.transaction().execute(async (trx) => {
        const written: boolean[] = [];
        for (const { orgId, id, expected, next } of changes) {
          const result = await trx
            .updateTable('vaults')
            .set({ token_key_id: next.keyId, token_wrapped_key: next.wrappedKey })
            .where('org_id', '=', orgId)
            .where('id', '=', id)
            .where('token_key_id', '=', expected.keyId)
            .where('token_wrapped_key', '=', expected.wrappedKey)
            .executeTakeFirst();
          written.push(Number(result.numUpdatedRows) > 0);
        }
        return written;
      });
    },

    /** How many rows each master key id wraps. */
    async countByKeyId(): Promise<Record<string, number>> {
      const rows = await db
        .selectFrom('vaults')
        .select(['token_key_id', (eb) => eb.fn.countAll<number>().as('n')])
        .groupBy('token_key_id')
        .orderBy('token_key_id')
        .execute();
      return Object.fromEntries(rows.map((row) => [row.token_key_id, Number(row.n)]));
    },

    async delete(orgId: string, id: string): Promise<VaultRow | undefined> {
      const row = await this.findWithToken(orgId, id);
      if (!row) return undefined;
      const result = await db.deleteFrom('vaults').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0 ? row : undefined;
    },
  };
}

export type VaultRepo = ReturnType<typeof createVaultRepo>;
