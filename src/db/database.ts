// Opens the database named by DATABASE_URL: an embedded SQLite file (default) or PostgreSQL.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type SqliteDatabase as SqliteDialectDatabase, sql } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config.js';
import { migrationProvider } from './migrations/index.js';
import type { Tables } from './schema.js';

export type Dialect = DatabaseConfig['dialect'];

export interface Database {
  dialect: Dialect;
  db: Kysely<Tables>;
  /** Cheap round trip used by /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** PostgreSQL pool size per process. */
  poolSize?: number;
  /** Called when an idle PostgreSQL connection fails (server restart); the pool replaces it. */
  onPoolError?: (err: Error) => void;
}

/** Every database round trip has a deadline, so a stalled database yields 503s, never a hang. */
const STATEMENT_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;

export function openDatabase(config: DatabaseConfig, options: OpenOptions = {}): Database {
  return config.dialect === 'sqlite' ? openSqlite(config.path) : openPostgres(config.url, options);
}

function openSqlite(path: string): Database {
  mkdirSync(dirname(path), { recursive: true });
  const raw = new SqliteDatabase(path, { timeout: STATEMENT_TIMEOUT_MS });
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
  return {
    dialect: 'sqlite',
    db,
    ping: async () => {
      raw.prepare('SELECT 1').get();
    },
    close: () => db.destroy(),
  };
}

/**
 * Kysely's SQLite driver calls `prepare(sql)` for every query, which costs more than the read
 * itself (~8 µs of a ~6 µs point read). Queries are built from fixed shapes, so the SQL text
 * repeats and its prepared statement can be reused; the cache is bounded all the same.
 */
export function withStatementCache(raw: SqliteDatabase.Database, limit = 256): SqliteDialectDatabase {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => raw.close(),
    prepare: (text: string) => {
      let statement = cache.get(text);
      if (!statement) {
        statement = raw.prepare(text);
        if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
        cache.set(text, statement);
      }
      return statement;
    },
  };
}

function openPostgres(url: string, options: OpenOptions): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS + 2_000,
  });
  // Without a listener, an idle connection dropped by the server would crash the process.
  pool.on('error', (err) => options.onPoolError?.(err));
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return {
    dialect: 'postgres',
    db,
    ping: async () => {
      await sql`SELECT 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}

export async function migrate(database: Database): Promise<string[]> {
  const migrator = new Migrator({ db: database.db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Recognises a unique-constraint violation on either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/** Recognises a failure to reach or use the database (as opposed to a bug in a query). */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return (
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'ENOTFOUND',
      '57P01',
      '57P02',
      '57P03',
      '53300',
      '08006',
      '08001',
      '08003',
      '57014',
      'SQLITE_BUSY',
    ].includes(code) ||
    /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection is closed|Client has encountered a connection error/i.test(
      message,
    )
  );
}
