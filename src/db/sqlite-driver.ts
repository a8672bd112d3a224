// A Kysely driver for better-sqlite3 that never waits for a lock synchronously.
//
// better-sqlite3 runs every statement on the event loop, and SQLite's busy handler sleeps in it: with
// a busy timeout, one write behind another process's write lock froze every request for the whole
// timeout. Here the busy timeout is 0, so a statement that cannot get the lock fails at once with
// SQLITE_BUSY (having changed nothing), and is retried after an asynchronous back-off until its
// deadline; the event loop, and reads (WAL: readers never wait for a writer), keep going meanwhile.
// Write transactions start with BEGIN IMMEDIATE, so the lock is taken (and retried) before anything
// runs in them and no statement inside one can be refused for it. A rollback is skipped when SQLite
// has already rolled the transaction back itself (SQLITE_FULL, SQLITE_IOERR, …), so the real
// error reaches the caller instead of "cannot rollback - no transaction is active".
import type BetterSqlite3 from 'better-sqlite3';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  SelectQueryNode,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';

export interface LockWaitOptions {
  /** How long a statement or a transaction's BEGIN may wait for another process's write lock. */
  deadlineMs: number;
  /** First back-off; doubled up to maxDelayMs. */
  firstDelayMs?: number;
  maxDelayMs?: number;
}

interface Statements {
  prepare(text: string): BetterSqlite3.Statement;
}

/** SQLITE_BUSY and its extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_RECOVERY, SQLITE_BUSY_TIMEOUT). */
export function isSqliteBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The one better-sqlite3 connection, shared by every Kysely "connection": statements outside a
 * transaction run at once (they are atomic and synchronous), while a transaction of this process is
 * open they wait for its end, and a busy lock is waited for asynchronously.
 */
export class SqliteGate {
  readonly #raw: BetterSqlite3.Database;
  readonly #options: Required<LockWaitOptions>;
  /** The Kysely connection whose transaction is open (or starting); others queue behind it. */
  #owner: object | undefined;
  #ended: Promise<void> = Promise.resolve();
  #end: () => void = () => {};

  constructor(raw: BetterSqlite3.Database, options: LockWaitOptions) {
    this.#raw = raw;
    this.#options = { firstDelayMs: 2, maxDelayMs: 50, ...options };
  }

  get raw(): BetterSqlite3.Database {
    return this.#raw;
  }

  /**
   * Runs `work` (one synchronous statement) outside any transaction of this process, retrying it while
   * another process holds the lock. A statement refused with SQLITE_BUSY changed nothing, so a retry is safe.
   */
  outside<T>(work: () => T, deadline = Date.now() + this.#options.deadlineMs): Promise<T> {
    return this.#whileBusy(deadline, async () => {
      // (A transaction nobody here owns, begun on the raw handle, is not waited for: it would never end.)
      while (this.#raw.inTransaction && this.#owner !== undefined) await this.#ended;
      return work();
    });
  }

  /** Only for the owner of the open transaction: its statements run at once, with no lock to wait for. */
  inside<T>(owner: object, work: () => T): T {
    if (this.#owner !== owner) throw new Error('statement outside its transaction');
    return work();
  }

  ownsTransaction(owner: object): boolean {
    return this.#owner === owner && this.#raw.inTransaction;
  }

  async begin(owner: object): Promise<void> {
    const deadline = Date.now() + this.#options.deadlineMs;
    while (this.#owner !== undefined) await this.#ended; // one transaction of this process at a time
    this.#owner = owner;
    this.#ended = new Promise((resolve) => {
      this.#end = resolve;
    });
    try {
      // BEGIN IMMEDIATE takes the write lock now: nothing inside the transaction can be refused for it.
      await this.outside(() => this.#raw.exec('BEGIN IMMEDIATE'), deadline);
    } catch (err) {
      this.#release();
      throw err;
    }
  }

  async commit(owner: object): Promise<void> {
    this.#check(owner);
    // In WAL mode a COMMIT does not wait for readers; a rollback journal's would, so it is retried too.
    await this.#whileBusy(Date.now() + this.#options.deadlineMs, async () => this.#raw.exec('COMMIT'));
    // A failed COMMIT (SQLITE_FULL) keeps the ownership: Kysely calls rollbackTransaction next.
    this.#release();
  }

  async rollback(owner: object): Promise<void> {
    if (this.#owner !== owner) return;
    try {
      // SQLite rolls a transaction back by itself after some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM);
      // a ROLLBACK then throws "cannot rollback - no transaction is active", which would hide the real error.
      if (this.#raw.inTransaction) this.#raw.exec('ROLLBACK');
    } finally {
      this.#release();
    }
  }

  /** Safety net: a connection released with its transaction still open rolls it back. */
  released(owner: object): void {
    if (this.#owner !== owner) return;
    if (this.#raw.inTransaction) this.#raw.exec('ROLLBACK');
    this.#release();
  }

  /** Runs `attempt` again after a growing pause while SQLite answers SQLITE_BUSY, until `deadline`. */
  async #whileBusy<T>(deadline: number, attempt: () => Promise<T>): Promise<T> {
    let delay = this.#options.firstDelayMs;
    for (;;) {
      try {
        return await attempt();
      } catch (err) {
        if (!isSqliteBusy(err) || Date.now() + delay > deadline) throw err;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, this.#options.maxDelayMs);
    }
  }

  #check(owner: object): void {
    if (this.#owner !== owner) throw new Error('not the transaction owner');
  }

  #release(): void {
    this.#owner = undefined;
    const end = this.#end;
    this.#end = () => {};
    end();
  }
}

class GateConnection implements DatabaseConnection {
  constructor(
    readonly gate: SqliteGate,
    readonly statements: Statements,
  ) {}

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { sql, parameters } = compiledQuery;
    const run = (): QueryResult<R> => {
      const statement = this.statements.prepare(sql);
      if (statement.reader) return { rows: statement.all(parameters) as R[] };
      const { changes, lastInsertRowid } = statement.run(parameters);
      return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    };
    return this.gate.ownsTransaction(this) ? Promise.resolve(this.gate.inside(this, run)) : this.gate.outside(run);
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(compiledQuery.query)) throw new Error('Sqlite driver only supports streaming of select queries');
    const rows = await this.executeQuery<R>(compiledQuery);
    for (const row of rows.rows) yield { rows: [row] };
  }
}

class GateDriver implements Driver {
  constructor(
    readonly gate: SqliteGate,
    readonly statements: Statements,
  ) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    // A new object per acquisition: it identifies the transaction it may open.
    return new GateConnection(this.gate, this.statements);
  }
  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await this.gate.begin(connection);
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await this.gate.commit(connection);
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await this.gate.rollback(connection);
  }
  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    this.gate.released(connection);
  }
  async destroy(): Promise<void> {
    this.gate.raw.close();
  }
}

/** SqliteDialect with the gate's driver: same compiler, adapter and introspector as Kysely's own. */
export class NonBlockingSqliteDialect implements Dialect {
  constructor(
    readonly gate: SqliteGate,
    readonly statements: Statements,
  ) {}
  createDriver(): Driver {
    return new GateDriver(this.gate, this.statements);
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }
  // biome-ignore lint/suspicious/noExplicitAny: Kysely's introspector takes any schema
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
