// Which `sesame serve` processes are running and which master keys each holds (ids only). Each server
// writes its row at start, refreshes it every HEARTBEAT_MS and deletes it when it stops; a row not
// refreshed for LIVE_MS is a server that is gone (killed, or cut off from the database).
// Master-key maintenance reads it: a rewrap must not seal data keys with a key some running server
// cannot open, and a key must not be retired while a running server still seals with it.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { ServerInstancesTable, Tables } from '../../db/schema.js';

export const HEARTBEAT_MS = 30_000;
/** Three missed heartbeats. */
export const LIVE_MS = 3 * HEARTBEAT_MS;
/** Rows of servers gone this long are removed by the next server that starts. */
const FORGET_MS = 24 * 60 * 60 * 1000;

export interface RunningServer {
  id: string;
  host: string;
  pid: number;
  version: string;
  current_key_id: string;
  key_ids: string[];
  started_at: string;
  seen_at: string;
}

export interface Presence {
  stop(): Promise<void>;
}

export interface PresenceOptions {
  db: Kysely<Tables>;
  version: string;
  /** Master key ids, current first. */
  keyIds: readonly string[];
  heartbeatMs?: number;
  now?: () => Date;
  /** A heartbeat could not be written (the database is away); the next one tries again. */
  onError?: (err: Error) => void;
}

/** Announces this server and keeps its row fresh until `stop()`. */
export async function announceServer({
  db,
  version,
  keyIds,
  heartbeatMs = HEARTBEAT_MS,
  now = () => new Date(),
  onError = () => {},
}: PresenceOptions): Promise<Presence> {
  const id = randomUUID();
  const startedAt = now().toISOString();
  const row = (): ServerInstancesTable => ({
    id,
    host: hostname(),
    pid: process.pid,
    version,
    current_key_id: keyIds[0] ?? '',
    key_ids: keyIds.join(','),
    started_at: startedAt,
    seen_at: now().toISOString(),
  });
  const write = () =>
    db
      .insertInto('server_instances')
      .values(row())
      .onConflict((oc) => oc.column('id').doUpdateSet({ seen_at: (eb) => eb.ref('excluded.seen_at') }))
      .execute();
  await db
    .deleteFrom('server_instances')
    .where('seen_at', '<', new Date(now().getTime() - FORGET_MS).toISOString())
    .execute();
  await write();
  const timer = setInterval(() => {
    write().catch((err: unknown) => onError(err instanceof Error ? err : new Error(String(err))));
  }, heartbeatMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await db
        .deleteFrom('server_instances')
        .where('id', '=', id)
        .execute()
        .catch(() => undefined);
    },
  };
}

/** The servers seen within LIVE_MS, oldest first. */
export async function runningServers(db: Kysely<Tables>, now: Date = new Date()): Promise<RunningServer[]> {
  const rows = await db
    .selectFrom('server_instances')
    .selectAll()
    .where('seen_at', '>=', new Date(now.getTime() - LIVE_MS).toISOString())
    .orderBy('started_at')
    .execute();
  return rows.map((r) => ({ ...r, pid: Number(r.pid), key_ids: r.key_ids.split(',').filter(Boolean) }));
}

/** "vm pid 4242 (started 2026-05-07T14:30:00.000Z)", for messages. */
export const describeServer = (s: RunningServer) => `${s.host} pid ${s.pid} (started ${s.started_at})`;
