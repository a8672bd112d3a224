// Vault rows. Every method takes the org and puts it in the WHERE clause: a row of another org
// is indistinguishable from a missing one.
import type { Kysely } from 'kysely';
import type { SealedSecret } from '../../crypto/envelope.js';
import { isUniqueViolation } from '../../db/database.js';
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

export function sealedOf(row: VaultRow): SealedSecret {
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

  return {
    async insert(row: Omit<VaultRow, 'token_version'>): Promise<void> {
      await guardName(row.name, () => db.insertInto('vaults').values(row).execute());
    },

    /** The public columns only: the hot read path never loads the ciphertext. */
    async find(orgId: string, id: string): Promise<VaultRecord | undefined> {
      return db.selectFrom('vaults').select(PUBLIC_COLUMNS).where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    },

    /** The whole row, ciphertext included, for the operations that need the stored token. */
    async findWithToken(orgId: string, id: string): Promise<VaultRow | undefined> {
      return db.selectFrom('vaults').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    },

    async nameTaken(orgId: string, name: string, exceptId?: string): Promise<boolean> {
      let query = db.selectFrom('vaults').select('id').where('org_id', '=', orgId).where('name', '=', name);
      if (exceptId) query = query.where('id', '!=', exceptId);
      return (await query.executeTakeFirst()) !== undefined;
    },

    async list(orgId: string, limit: number, offset: number): Promise<{ total: number; rows: VaultRecord[] }> {
      const [count, rows] = await Promise.all([
        db
          .selectFrom('vaults')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('org_id', '=', orgId)
          .executeTakeFirstOrThrow(),
        db
          .selectFrom('vaults')
          .select(PUBLIC_COLUMNS)
          .where('org_id', '=', orgId)
          .orderBy('created_at')
          .orderBy('id')
          .limit(limit)
          .offset(offset)
          .execute(),
      ]);
      return { total: Number(count.n), rows };
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

    async delete(orgId: string, id: string): Promise<VaultRow | undefined> {
      const row = await this.findWithToken(orgId, id);
      if (!row) return undefined;
      const result = await db.deleteFrom('vaults').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0 ? row : undefined;
    },
  };
}

export type VaultRepo = ReturnType<typeof createVaultRepo>;
