// Master-key maintenance over every stored token (`sesame keys rewrap`, `sesame keys verify`), run
// while the API keeps serving. Rewrapping touches only the 61-byte wrapped data keys; tokens are
// never decrypted into strings here.

import type { Kysely } from 'kysely';
import { DecryptError, type Envelope } from '../../crypto/envelope.js';
import type { Tables } from '../../db/schema.js';
import { createVaultRepo, type SealedRow, sealedOf, type WrappedKeyChange } from './vaults.repo.js';
import { tokenContext } from './vaults.service.js';

export interface RewrapProgress {
  /** Rows now wrapped by the current master key. */
  rewrapped: number;
  /** Rows whose token was rotated (or that were deleted) after they were read: already current, or gone. */
  skipped: number;
  /** Vault ids whose data key could not be unwrapped (unknown master key, or a corrupted row). */
  failed: string[];
}

export interface RewrapOptions {
  batchSize?: number;
  /** Called after each batch is written (progress reports); a throw stops the run, as a crash would. */
  onBatch?: (progress: RewrapProgress) => void | Promise<void>;
}

export interface VerifyFailure {
  vault_id: string;
  org_id: string;
  key_id: string;
  /** DecryptError's message: fixed, or naming only a key id. */
  reason: string;
}

export interface VerifyReport {
  checked: number;
  /** Rows per master key id, so an operator can see when an old key no longer wraps anything. */
  by_key: Record<string, number>;
  failed: VerifyFailure[];
}

export interface KeyMaintenanceDeps {
  db: Kysely<Tables>;
  envelope: Envelope;
}

const DEFAULT_REWRAP_BATCH = 100;
const VERIFY_BATCH = 500;

const contextOf = (row: SealedRow) => tokenContext(row.org_id, row.id);

export function createKeyMaintenance({ db, envelope }: KeyMaintenanceDeps) {
  const repo = createVaultRepo(db);
  return {
    /** Stored tokens per master key id that wraps their data key. */
    usage: () => repo.countByKeyId(),

    /**
     * Rewraps every data key not under the current master key, a batch per transaction of conditional
     * writes, so the run can stop anywhere: progress is simply "rows not under the current key", and
     * running it again continues. Rows are walked in id order, so a run ends even when some rows fail.
     */
    async rewrap({ batchSize = DEFAULT_REWRAP_BATCH, onBatch }: RewrapOptions = {}): Promise<RewrapProgress> {
      const progress: RewrapProgress = { rewrapped: 0, skipped: 0, failed: [] };
      let cursor: string | undefined;
      for (;;) {
        const rows = await repo.listSealed(cursor, batchSize, envelope.currentKeyId);
        if (rows.length === 0) return progress;
        const changes: WrappedKeyChange[] = [];
        for (const row of rows) {
          try {
            const next = envelope.rewrap(sealedOf(row), contextOf(row));
            changes.push({ orgId: row.org_id, id: row.id, expected: { keyId: row.token_key_id, wrappedKey: row.token_wrapped_key }, next });
          } catch (err) {
            if (!(err instanceof DecryptError)) throw err;
            progress.failed.push(row.id);
          }
        }
        for (const written of await repo.replaceWrappedKeys(changes)) {
          if (written) progress.rewrapped++;
          else progress.skipped++;
        }
        cursor = rows.at(-1)?.id;
        await onBatch?.({ ...progress, failed: [...progress.failed] });
      }
    },

    /** Authenticates every stored token with the configured keys; failures name the row, never a secret. */
    async verify(): Promise<VerifyReport> {
      const report: VerifyReport = { checked: 0, by_key: {}, failed: [] };
      let cursor: string | undefined;
      for (;;) {
        const rows = await repo.listSealed(cursor, VERIFY_BATCH);
        if (rows.length === 0) return report;
        for (const row of rows) {
          cursor = row.id;
          report.checked++;
          report.by_key[row.token_key_id] = (report.by_key[row.token_key_id] ?? 0) + 1;
          try {
            envelope.check(sealedOf(row), contextOf(row));
          } catch (err) {
            if (!(err instanceof DecryptError)) throw err;
            report.failed.push({ vault_id: row.id, org_id: row.org_id, key_id: row.token_key_id, reason: err.message });
          }
        }
      }
    },
  };
}

export type KeyMaintenance = ReturnType<typeof createKeyMaintenance>;
