// Opens the database named by DATABASE_URL: an embedded SQLite file (default) or PostgreSQL.

import { createHash } from 'node:crypto';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  type Compilable,
  CompiledQuery,
  Kysely,
  Migrator,
  PostgresDialect,
  type SqliteDatabase as SqliteDialectDatabase,
  sql,
} from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config.js';
import { migrationProvider } from './migrations/index.js';
import type { Tables } from './schema.js';
import { NonBlockingSqliteDialect, SqliteGate } from './sqlite-driver.js';

export type Dialect = DatabaseConfig['dialect'];

/**
 * A write that belongs to a change and must commit in the change's own transaction, or not at all:
 * its audit event, the idempotency record of the request that made it.
 */
export type InTransaction = (trx: Kysely<Tables>) => Promise<void>;

export interface Database {
  dialect: Dialect;
  db: Kysely<Tables>;
  /**
   * Cheap check used by /readyz: the database answers and can be written. Throws DatabaseReadOnlyError
   * when it answers but cannot be written (a read-only file or file system, a PostgreSQL standby).
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Start-up cannot use the database named by DATABASE_URL; the message names it and says why, in one line. */
export class DatabaseStartError extends Error {
  override readonly name = 'DatabaseStartError';
}

/** The database answers but cannot be written. */
export class DatabaseReadOnlyError extends Error {
  override readonly name = 'DatabaseReadOnlyError';
}

export interface OpenOptions {
  /** PostgreSQL pool size per process. */
  poolSize?: number;
  /** Called when an idle PostgreSQL connection fails (server restart); the pool replaces it. */
  onPoolError?: (err: Error) => void;
}

/** Every database round trip has a deadline, so a stalled database yields 503s, never a hang. */
const STATEMENT_TIMEOUT_MS = 10_000;
/** The documented connect deadline (docs/deployment.md): start-up gives up after it, once. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** How long a SQLite write waits for another process's write lock before it answers 503. */
const SQLITE_LOCK_WAIT_MS = 5_000;

export function openDatabase(config: DatabaseConfig, options: OpenOptions = {}): Database {
  return config.dialect === 'sqlite' ? openSqlite(config.path) : openPostgres(config.url, options);
}

/** Where DATABASE_URL points, for messages: the SQLite file, or PostgreSQL's host, port and database (never a password). */
export function describeDatabase(config: DatabaseConfig): string {
  if (config.dialect === 'sqlite') return `the SQLite database ${config.path} (DATABASE_URL)`;
  const { host, port, database } = postgresTarget(config.url);
  return `PostgreSQL at ${host}:${port} (DATABASE_URL, database ${database})`;
}

function postgresTarget(url: string): { host: string; port: string; database: string } {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
    return { host, port: parsed.port || '5432', database: decodeURIComponent(parsed.pathname.slice(1)) || '(default)' };
  } catch {
    return { host: '(unparsable URL)', port: '?', database: '?' };
  }
}

/**
 * Why a SQLite file cannot be written by this process, or undefined when it can: the file, its WAL and
 * its directory. access(2) answers what the kernel would: a mode, a read-only mount (EROFS, also for
 * root), an immutable file (EPERM). A few syscalls, so /readyz asks it every time.
 */
function sqliteWriteProblem(path: string): string | undefined {
  const check = (target: string, what: string): string | undefined => {
    try {
      accessSync(target, constants.W_OK);
      return undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'EROFS') return `${what} is on a read-only file system`;
      return `${what} is read-only for this process (${code ?? 'not writable'})`;
    }
  };
  return (
    check(path, 'the file') ??
    check(`${path}-wal`, `its WAL file ${path}-wal`) ??
    check(dirname(path), `its directory ${dirname(path)}, where SQLite keeps its -wal and -shm files,`)
  );
}

/** An error of opening or first using a SQLite file, in a few words an operator can act on. */
function sqliteProblem(err: unknown, path: string): string {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : 'unknown error';
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return `it is not a SQLite database or it is damaged (${message}); restore it from a backup`;
  }
  if (code.startsWith('SQLITE_READONLY')) return `it is read-only for this process (${message})`;
  if (code === 'SQLITE_CANTOPEN') return `it cannot be opened (${message})`;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return `its directory ${dirname(path)} cannot be created (${code})`;
  return message;
}

function openSqlite(path: string): Database {
  const where = describeDatabase({ dialect: 'sqlite', path });
  let raw: SqliteDatabase.Database;
  try {
    mkdirSync(dirname(path), { recursive: true });
    // Opening (and switching to WAL) may wait for the lock synchronously: nothing is served yet.
    raw = new SqliteDatabase(path, { timeout: STATEMENT_TIMEOUT_MS });
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.pragma('foreign_keys = ON');
    // Reads the schema: a damaged file usually fails here rather than on the first request.
    raw.prepare('SELECT count(*) FROM sqlite_master').get();
    // From now on a busy lock fails at once and is waited for asynchronously (see sqlite-driver.ts).
    raw.pragma('busy_timeout = 0');
  } catch (err) {
    // A read-only file or directory makes SQLite fail in several ways; access(2) names which one.
    const readOnly = /^SQLITE_(READONLY|CANTOPEN)|^EACCES$|^EPERM$|^EROFS$/.test(String((err as { code?: unknown }).code));
    const problem = (readOnly && sqliteWriteProblem(path)) || sqliteProblem(err, path);
    throw new DatabaseStartError(`${where}: ${problem}`);
  }
  const statements = withStatementCache(raw);
  const gate = new SqliteGate(raw, { deadlineMs: SQLITE_LOCK_WAIT_MS });
  const db = new Kysely<Tables>({ dialect: new NonBlockingSqliteDialect(gate, statements) });
  // better-sqlite3 is synchronous: a cached statement runs at once, outside any open transaction of this process.
  fastPaths.set(db, (text, parameters) => gate.outside(() => statements.prepare(text).all(parameters) as unknown[]));
  return {
    dialect: 'sqlite',
    db,
    ping: async () => {
      await gate.outside(() => raw.prepare('SELECT 1').get());
      const problem = sqliteWriteProblem(path);
      if (problem) throw new DatabaseReadOnlyError(`${where}: ${problem}`);
    },
    close: () => db.destroy(),
  };
}

/**
 * Kysely's SQLite driver calls `prepare(sql)` for every query, which costs more than the read
 * itself (~8 µs of a ~6 µs point read). Queries are built from fixed shapes, so the SQL text
 * repeats and its prepared statement can be reused; the cache is bounded all the same.
 */
export function withStatementCache(
  raw: SqliteDatabase.Database,
  limit = 256,
): SqliteDialectDatabase & { prepare(text: string): SqliteDatabase.Statement } {
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
  // The pool listens only while a connection is idle. One that dies mid-query (a crashed or killed
  // server) rejects the query and then emits 'error', which would crash the process unheard.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  // Named statements are parsed and planned once per connection instead of on every execution.
  fastPaths.set(db, async (text, parameters) => (await pool.query({ name: statementName(text), text, values: [...parameters] })).rows);
  return {
    dialect: 'postgres',
    db,
    ping: async () => {
      // A standby (or default_transaction_read_only) answers, but every write would fail.
      const { rows } = await sql<{ read_only: string }>`SELECT current_setting('transaction_read_only') AS read_only`.execute(db);
      if (rows[0]?.read_only !== 'off') {
        throw new DatabaseReadOnlyError(`${describeDatabase({ dialect: 'postgres', url })}: it is read-only (a standby?)`);
      }
    },
    close: () => db.destroy(),
  };
}

/**
 * Before serving or migrating: the database answers within its connect deadline (once: no retry
 * doubles it) and can be written. Throws DatabaseStartError naming DATABASE_URL's file, or host and port.
 */
export async function checkDatabase(database: Database, config: DatabaseConfig): Promise<void> {
  const where = describeDatabase(config);
  if (config.dialect === 'sqlite') {
    const problem = sqliteWriteProblem(config.path);
    if (problem) throw new DatabaseStartError(`${where}: ${problem}; Sesame must be able to write it`);
    return;
  }
  try {
    await database.ping();
  } catch (err) {
    if (err instanceof DatabaseReadOnlyError) throw new DatabaseStartError(err.message);
    throw new DatabaseStartError(`cannot use ${where}: ${postgresProblem(err)}`);
  }
}

/** A failure to connect to or use PostgreSQL, in a few words; server messages name no password. */
function postgresProblem(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : 'unknown error';
  if (code === 'ECONNREFUSED') return 'connection refused (is PostgreSQL running and listening there?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return `unknown host (${code})`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT') return `host unreachable (${code})`;
  if (/timeout|timed out/i.test(message)) return `no answer within the connect deadline of ${CONNECT_TIMEOUT_MS / 1000} s`;
  if (/^[0-9A-Z]{5}$/.test(code)) return `${message} (${code})`; // PostgreSQL's own answer: a role, a password, a database name
  return message;
}

type RunCompiled = (text: string, parameters: readonly unknown[]) => Promise<unknown[]>;

/** How each open database runs an already-compiled query without Kysely's per-query work. */
const fastPaths = new WeakMap<Kysely<Tables>, RunCompiled>();

function runThroughKysely(db: Kysely<Tables>, text: string, parameters: readonly unknown[]): Promise<unknown[]> {
  return db.executeQuery(CompiledQuery.raw(text, [...parameters])).then((result) => result.rows);
}

function statementName(text: string): string {
  return `sesame_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
}

const PARAMETER = '\u0000sesame-parameter:';

/**
 * A query for the hot path: built and compiled by Kysely once, then run with new parameters through a
 * cached prepared statement (SQLite) or a named statement (PostgreSQL). Building and compiling a Kysely
 * query costs more than a point read itself; the SQL text never changes, only the values.
 * `build` receives `param(name)`, a stand-in for a value supplied at each call. Select explicit columns
 * (not `*`): a named statement's result shape must not change under a rolling schema migration.
 */
export function preparedQuery<Row, Name extends string>(
  db: Kysely<Tables>,
  build: (db: Kysely<Tables>, param: (name: Name) => string) => Compilable<Row>,
): (values: Record<Name, unknown>) => Promise<Row[]> {
  const compiled = build(db, (name) => `${PARAMETER}${name}`).compile();
  // Each compiled parameter is either a named stand-in, filled at each call, or a constant of the query.
  const slots = compiled.parameters.map((value): ((values: Record<Name, unknown>) => unknown) => {
    if (typeof value !== 'string' || !value.startsWith(PARAMETER)) return () => value;
    const name = value.slice(PARAMETER.length) as Name;
    return (values) => values[name];
  });
  const run = fastPaths.get(db) ?? ((text, parameters) => runThroughKysely(db, text, parameters));
  return (values) =>
    run(
      compiled.sql,
      slots.map((slot) => slot(values)),
    ) as Promise<Row[]>;
}

export async function migrate(database: Database): Promise<string[]> {
  // During a rolling upgrade (or a rollback) an older version can start against a database a newer one
  // has migrated. Migrations only add, so when all of its own are applied it serves as is; Kysely would
  // refuse to start it ("previously executed migration … is missing").
  const known = Object.keys(await migrationProvider.getMigrations());
  const applied = await appliedMigrations(database);
  if (applied.some((name) => !known.includes(name)) && known.every((name) => applied.includes(name))) return [];
  const migrator = new Migrator({ db: database.db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

async function appliedMigrations(database: Database): Promise<string[]> {
  try {
    const { rows } = await sql<{ name: string }>`SELECT name FROM kysely_migration`.execute(database.db);
    return rows.map((row) => row.name);
  } catch (err) {
    // A new database: the table does not exist yet. Anything else (an unreachable server) is not
    // swallowed, or the migrator would try to connect a second time and double the wait.
    const code = (err as { code?: unknown }).code;
    if (code === '42P01' || /no such table/i.test(String((err as Error).message))) return [];
    throw err;
  }
}

/** Recognises a unique-constraint violation on either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/**
 * The disk under the database is full: SQLite's SQLITE_FULL, or SQLITE_IOERR_SHMSIZE (the WAL index
 * could not grow: a connection opened on a full disk cannot even read), PostgreSQL's disk_full (53100).
 */
export function isStorageFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_SHMSIZE' || code === '53100';
}

/**
 * A lock held elsewhere made the write give up, with nothing changed: SQLite's write lock past the
 * statement's deadline, PostgreSQL's lock_timeout (55P03), a deadlock (40P01) or a serialization failure (40001).
 */
export function isDatabaseBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || ['55P03', '40P01', '40001'].includes(code));
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
