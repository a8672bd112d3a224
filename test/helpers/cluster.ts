// Several `sesame serve` processes (the built CLI in dist/, as an operator runs it) on one database,
// with the CLI for orgs and keys, and an HTTP client that opens a fresh connection per request so a
// test sees exactly which requests an instance accepted.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseDatabaseUrl } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import type { AuthService } from '../../src/modules/auth/auth.service.js';
import { createAuthModule } from '../../src/modules/auth/index.js';
import { TestFixture } from './fixture.js';
import { createTestPostgres, type TestPostgres } from './postgres.js';
import type { TestResponse } from './server.js';

const run = promisify(execFile);
export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'sesame.js');
// Enough to find what went wrong, bounded for long fuzz runs.
const MAX_LOG_CHARS = 32 * 1024 * 1024;

export interface Instance {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stderr (its JSON log lines), up to a bound. */
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string | null>;
  alive(): boolean;
}

export interface RequestOptions {
  key?: string;
  body?: unknown;
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
  /** Give up (reject) after this long; default 30 s. */
  timeoutMs?: number;
}

export interface Cluster {
  databaseUrl: string;
  fixture: TestFixture;
  instances: Instance[];
  /** The environment every process of the cluster runs with. */
  env: Record<string, string>;
  /** Runs a CLI command against the cluster's database; resolves with its JSON output. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
  sesame(args: string[]): Promise<any>;
  /** A new organization and API key, made as the CLI makes them. */
  newOrg(): Promise<{ orgId: string; key: string; keyId: string }>;
  /** Another API key of an org. */
  issueKey(orgId: string): Promise<{ id: string; key: string }>;
  /** Starts one more instance. */
  start(extraEnv?: Record<string, string>): Promise<Instance>;
  request(instance: Instance, method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  instances: number;
  dialect?: 'sqlite' | 'postgres';
  /** An existing database (e.g. a private PostgreSQL server); otherwise one is made for the run. */
  databaseUrl?: string;
  fixture?: TestFixture;
  env?: Record<string, string>;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const { dialect = 'postgres', fixture = new TestFixture() } = options;
  const dir = mkdtempSync(join(tmpdir(), 'sesame-cluster-'));
  let postgres: TestPostgres | undefined;
  let databaseUrl = options.databaseUrl;
  if (!databaseUrl) {
    if (dialect === 'postgres') postgres = await createTestPostgres();
    databaseUrl = postgres ? postgres.url : `sqlite:${join(dir, 'sesame.db')}`;
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    DATABASE_URL: databaseUrl,
    SESAME_MASTER_KEY: randomBytes(32).toString('base64'),
    SESAME_ONEPASSWORD_FIXTURE: fixture.path,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const instances: Instance[] = [];

  async function sesame(args: string[]) {
    const { stdout } = await run(process.execPath, [BIN, ...args], { env, timeout: 30_000 });
    return JSON.parse(stdout);
  }

  async function start(extraEnv: Record<string, string> = {}): Promise<Instance> {
    const instance = await serve({ ...env, ...extraEnv });
    instances.push(instance);
    return instance;
  }

  try {
    // Started together, as an orchestrator would: they race for the migration lock.
    await Promise.all(Array.from({ length: options.instances }, () => start()));
  } catch (err) {
    await Promise.all(instances.map(stop));
    await postgres?.drop();
    throw err;
  }

  return {
    databaseUrl,
    fixture,
    instances,
    env,
    sesame,
    newOrg: () =>
      withAuth(databaseUrl, async (auth) => {
        const org = await auth.createOrganization(`org-${randomBytes(3).toString('hex')}`);
        const issued = await auth.issueApiKey(org.id);
        return { orgId: org.id, key: issued.key, keyId: issued.id };
      }),
    issueKey: (orgId) => withAuth(databaseUrl, (auth) => auth.issueApiKey(orgId)),
    start,
    request,
    async close() {
      await Promise.all(instances.map(stop));
      await postgres?.drop();
      if (!options.fixture) fixture.remove();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What `sesame org create` and `sesame api-key create` do, in this process: a CLI start costs seconds on a busy machine. */
async function withAuth<T>(databaseUrl: string, action: (auth: AuthService) => Promise<T>): Promise<T> {
  const database = openDatabase(parseDatabaseUrl(databaseUrl));
  try {
    return await action(createAuthModule({ db: database.db }).service);
  } finally {
    await database.close();
  }
}

/** Starts `sesame serve` and resolves once it logs the port it listens on. */
export function serve(env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let exitState: number | string | null | undefined;
  const exited = new Promise<number | string | null>((resolve) =>
    child.on('exit', (code, signal) => {
      exitState = code ?? signal;
      resolve(exitState);
    }),
  );
  return new Promise((resolve, reject) => {
    let url: string | undefined;
    child.stdout?.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
      if (stderr.length > MAX_LOG_CHARS) stderr = stderr.slice(-MAX_LOG_CHARS / 2);
      if (url) return;
      const port = /"port":(\d+),"database"/.exec(stderr)?.[1];
      if (!port) return;
      url = `http://127.0.0.1:${port}`;
      resolve({ url, child, stderr: () => stderr, exited, alive: () => exitState === undefined });
    });
    exited.then((code) => {
      if (!url) reject(new Error(`sesame serve exited early (${code}): ${stderr}`));
    });
  });
}

async function stop(instance: Instance): Promise<void> {
  if (!instance.alive()) return;
  instance.child.kill('SIGTERM');
  const timer = setTimeout(() => instance.child.kill('SIGKILL'), 10_000);
  await instance.exited;
  clearTimeout(timer);
}

/** One request on its own connection (no keep-alive), so a closed listener shows as ECONNREFUSED. */
export function request(instance: Instance, method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body: string | Buffer | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = http.request(`${instance.url}${path}`, { method, headers, agent: false, timeout: options.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        resolve({ status: res.statusCode ?? 0, headers: responseHeaders, text, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? 30_000} ms: ${method} ${path}`)));
    req.on('error', reject);
    req.end(body);
  });
}
