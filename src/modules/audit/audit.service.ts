// Audit trail (docs/fill.md, "Audit events"): who did what to which vault, on which
// page origin. Events never hold a value, a token or a full URL: `origin` is cut down to
// scheme://host[:port] here, whatever the caller passes.
import { randomBytes } from 'node:crypto';
import { DomainError } from '../../errors.js';
import type { Caller } from '../auth/caller.js';
import type { AuditEventRow, AuditRepo } from './audit.repo.js';
import type { AuditEvent, AuditEventList } from './audit.schemas.js';

export type AuditAction =
  | 'list_secrets'
  | 'fill'
  | 'vault.create'
  | 'vault.update'
  | 'vault.rotate'
  | 'vault.delete'
  | 'vault.health'
  | 'grant.create'
  | 'grant.revoke';

export interface AuditEntry {
  /** Who acted: the event belongs to their org, and their credential is its actor. */
  caller: Caller;
  vaultId: string;
  action: AuditAction;
  /** A page or frame URL (or origin); only its origin is kept. */
  origin?: string | null;
  field?: string | null;
  itemId?: string | null;
  outcome: AuditEventRow['outcome'];
  reason?: string | null;
}

export interface AuditRecorder {
  record(entry: AuditEntry): Promise<void>;
  /** The row `record` would write, for a caller that writes it in its own transaction. */
  rowFor(entry: AuditEntry): AuditEventRow;
}

export interface AuditServiceDeps {
  repo: AuditRepo;
  /** Whether the org has this vault (a deleted vault's trail stays readable while it has events). */
  vaultExists: (orgId: string, vaultId: string) => Promise<boolean>;
  now?: () => Date;
}

export function createAuditService({ repo, vaultExists, now = () => new Date() }: AuditServiceDeps) {
  function rowFor(entry: AuditEntry): AuditEventRow {
    const at = now();
    return {
      id: timeOrderedId(at.getTime()),
      org_id: entry.caller.orgId,
      vault_id: entry.vaultId,
      at: at.toISOString(),
      actor_type: entry.caller.credential.type,
      actor_id: entry.caller.credential.id,
      action: entry.action,
      origin: originOf(entry.origin),
      field: entry.field ?? null,
      item_id: entry.itemId ?? null,
      outcome: entry.outcome,
      reason: entry.reason ?? null,
    };
  }

  return {
    rowFor,

    /** Writes one event. A failure propagates: an action whose record cannot be written reports an error. */
    async record(entry: AuditEntry): Promise<void> {
      await repo.insert(rowFor(entry));
    },

    async list({ orgId }: Caller, vaultId: string, limit: number, offset: number): Promise<AuditEventList> {
      const { total, rows } = await repo.list(orgId, vaultId, limit, offset);
      if (total === 0 && !(await vaultExists(orgId, vaultId))) throw new DomainError('vault_not_found');
      return { total, limit, offset, events: rows.map(toEvent) };
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;

function toEvent(row: AuditEventRow): AuditEvent {
  return {
    id: row.id,
    time: row.at,
    org_id: row.org_id,
    vault_id: row.vault_id,
    actor: { type: row.actor_type, id: row.actor_id },
    action: row.action,
    origin: row.origin,
    field: row.field,
    item_id: row.item_id,
    outcome: row.outcome,
    reason: row.reason,
  };
}

/** scheme://host[:port] of a URL, or null: paths and query strings carry tokens and never reach the trail. */
export function originOf(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? null : origin;
  } catch {
    return null;
  }
}

// UUIDv7 (RFC 9562): 48-bit milliseconds, then a per-process sequence, so ids written in the same
// millisecond still sort in the order they were written.
let lastMs = -1;
let sequence = 0;

export function timeOrderedId(nowMs: number): string {
  let ms = Math.max(nowMs, lastMs);
  if (ms === lastMs) {
    sequence += 1;
    if (sequence > 0xfff) {
      ms += 1;
      sequence = 0;
    }
  } else {
    sequence = 0;
  }
  lastMs = ms;
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
