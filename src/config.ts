// The one configuration object. Parsed and validated once at start-up; nothing else reads process.env.
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';

export type DatabaseConfig = { dialect: 'sqlite'; path: string } | { dialect: 'postgres'; url: string };

export interface Config {
  host: string;
  port: number;
  database: DatabaseConfig;
  /** SESAME_MASTER_KEY as given; undefined means "use the embedded key file" (SQLite only). */
  masterKey: string | undefined;
  /** Where the embedded default keeps its generated master key. */
  masterKeyFile: string;
  onePasswordFixture: string | undefined;
  logLevel: string;
  loginDeadlineMs: number;
  callDeadlineMs: number;
  bodyLimitBytes: number;
  idempotencyTtlMs: number;
  version: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const database = parseDatabaseUrl(env.DATABASE_URL ?? 'sqlite:./data/sesame.db');
  const masterKey = nonEmpty(env.SESAME_MASTER_KEY);
  if (database.dialect === 'postgres' && !masterKey) {
    throw new ConfigError('SESAME_MASTER_KEY is required with PostgreSQL (generate one with: openssl rand -base64 32)');
  }
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.has(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${[...LOG_LEVELS].join(', ')}`);
  return {
    host: parseHost(env.HOST ?? '127.0.0.1'),
    port: parseInteger('PORT', env.PORT, 8080, 0, 65535),
    database,
    masterKey,
    masterKeyFile:
      nonEmpty(env.SESAME_MASTER_KEY_FILE) ?? resolve(database.dialect === 'sqlite' ? dirname(database.path) : '.', 'master.key'),
    onePasswordFixture: nonEmpty(env.SESAME_ONEPASSWORD_FIXTURE),
    logLevel,
    loginDeadlineMs: parseInteger('SESAME_PROVIDER_LOGIN_TIMEOUT_MS', env.SESAME_PROVIDER_LOGIN_TIMEOUT_MS, 15_000, 100, 120_000),
    callDeadlineMs: parseInteger('SESAME_PROVIDER_CALL_TIMEOUT_MS', env.SESAME_PROVIDER_CALL_TIMEOUT_MS, 10_000, 100, 120_000),
    bodyLimitBytes: 64 * 1024,
    idempotencyTtlMs: 24 * 60 * 60 * 1000,
    version: '0.1.0',
  };
}

export function parseDatabaseUrl(url: string): DatabaseConfig {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path) throw new ConfigError('DATABASE_URL sqlite: needs a file path, e.g. sqlite:./data/sesame.db');
    return { dialect: 'sqlite', path: resolve(path) };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { dialect: 'postgres', url };
  throw new ConfigError('DATABASE_URL must start with sqlite:, postgres:// or postgresql://');
}

function parseHost(host: string): string {
  if (!host || /\s/.test(host)) throw new ConfigError('HOST must be an address or host name');
  return host;
}

function parseInteger(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() !== '' ? value.trim() : undefined;
}

/** True when the bound address is reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
