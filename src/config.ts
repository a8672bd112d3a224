// The one configuration object. Parsed and validated once at start-up; nothing else reads process.env.
import { readFileSync } from 'node:fs';
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
  /** TLS_CERT_FILE and TLS_KEY_FILE: serve HTTPS with this certificate and key (both or neither). */
  tls: { certFile: string; keyFile: string } | undefined;
  /** How a request's org is found: an API key, or the X-User-Org header of a trusted gateway. */
  authMode: AuthMode;
  logLevel: string;
  loginDeadlineMs: number;
  callDeadlineMs: number;
  /** Worker threads hosting the 1Password SDK. */
  providerWorkers: number;
  /** A logged-in 1Password client unused this long is dropped. */
  providerClientIdleMs: number;
  /** Logged-in 1Password clients kept per worker (least recently used dropped first). */
  providerMaxClients: number;
  /** How long vault-access answers and item overviews are reused; 0 = never. */
  providerCacheTtlMs: number;
  /** Requests per window per credential (API key, grant), shared by all instances; limit 0 = off. */
  rateLimit: { limit: number; windowMs: number; syncIntervalMs: number };
  /** PostgreSQL connections per process. */
  databasePoolSize: number;
  /** SESAME_CDP_ALLOW: where the fill routes may connect (`loopback`, addresses, CIDR ranges, host names, `*.domain`). */
  cdpAllow: string[];
  /** Deadline of one list-secrets or fill call in the browser, connection included. */
  cdpTimeoutMs: number;
  bodyLimitBytes: number;
  /** Longest a client may take to send a whole request, headers and body; then 408 and the connection closes. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  idempotencyTtlMs: number;
  version: string;
}

export type AuthMode = 'api-key' | 'trusted-gateway';

/** Sesame's version, from package.json (one level above both src/ and dist/). */
export const SESAME_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

/** The exact value SESAME_TRUSTED_GATEWAY_ACK must hold: trusted-gateway mode cannot be switched on by one stray variable. */
export const TRUSTED_GATEWAY_ACK = 'only-the-gateway-can-reach-sesame';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Every environment variable this file reads, for `sesame serve --help` (and `sesame mcp --help`, for
 * the two of loadMcpClientConfig). The README's configuration table says more about each; a test keeps
 * the lists, this file and the README in step.
 */
export const ENVIRONMENT: readonly { name: string; default: string; summary: string; command?: 'mcp' }[] = [
  { name: 'HOST', default: '127.0.0.1', summary: 'address to bind' },
  { name: 'PORT', default: '8080', summary: 'port to bind (0 = any free port)' },
  { name: 'DATABASE_URL', default: 'sqlite:./data/sesame.db', summary: 'sqlite:<path> or postgres://…' },
  {
    name: 'SESAME_MASTER_KEY',
    default: '—',
    summary: 'master key(s): base64 of 32 bytes (id "default"), or id:key,id:key; required with PostgreSQL',
  },
  { name: 'SESAME_MASTER_KEY_FILE', default: 'master.key beside the SQLite file', summary: 'the embedded key file (mode 0600)' },
  { name: 'TLS_CERT_FILE', default: '—', summary: 'PEM certificate chain: serve HTTPS (with TLS_KEY_FILE; SIGHUP reloads)' },
  { name: 'TLS_KEY_FILE', default: '—', summary: 'PEM private key (with TLS_CERT_FILE)' },
  { name: 'SESAME_AUTH_MODE', default: 'api-key', summary: 'api-key, or trusted-gateway (org from X-User-Org)' },
  { name: 'SESAME_TRUSTED_GATEWAY_ACK', default: '—', summary: `must be ${TRUSTED_GATEWAY_ACK} for trusted-gateway mode` },
  { name: 'SESAME_TRUSTED_GATEWAY_ALLOW_NON_LOOPBACK', default: '—', summary: 'true: trusted-gateway mode on a non-loopback HOST' },
  { name: 'SESAME_ONEPASSWORD_FIXTURE', default: '—', summary: 'a fixture file instead of 1Password (tests and demos only)' },
  { name: 'SESAME_PROVIDER_LOGIN_TIMEOUT_MS', default: '15000', summary: 'deadline of a 1Password login' },
  { name: 'SESAME_PROVIDER_CALL_TIMEOUT_MS', default: '10000', summary: 'deadline of any other 1Password call' },
  { name: 'SESAME_PROVIDER_WORKERS', default: '1', summary: 'worker threads hosting the 1Password SDK (1-16)' },
  { name: 'SESAME_PROVIDER_CLIENT_IDLE_MS', default: '900000', summary: 'drop a logged-in 1Password client unused this long' },
  { name: 'SESAME_PROVIDER_MAX_CLIENTS', default: '256', summary: 'logged-in 1Password clients kept per worker' },
  { name: 'SESAME_PROVIDER_CACHE_TTL_MS', default: '30000', summary: 'reuse vault-access answers and item lists this long (0 = never)' },
  { name: 'SESAME_CDP_ALLOW', default: 'loopback', summary: 'where the fill routes may connect to a browser' },
  { name: 'SESAME_CDP_TIMEOUT_MS', default: '10000', summary: 'deadline of one list-secrets or fill call in the browser' },
  { name: 'SESAME_RATE_LIMIT', default: '6000', summary: 'requests per credential per window (0 = no limit)' },
  { name: 'SESAME_RATE_LIMIT_WINDOW_S', default: '60', summary: 'the rate-limit window in seconds' },
  { name: 'SESAME_RATE_LIMIT_SYNC_MS', default: '1000', summary: 'how often instances exchange their counts' },
  { name: 'SESAME_REQUEST_TIMEOUT_MS', default: '30000', summary: 'longest a client may take to send a whole request (408 beyond)' },
  { name: 'SESAME_KEEP_ALIVE_TIMEOUT_MS', default: '72000', summary: 'an idle keep-alive connection is closed after this' },
  { name: 'SESAME_DATABASE_POOL_SIZE', default: '10', summary: 'PostgreSQL connections per process' },
  { name: 'LOG_LEVEL', default: 'info', summary: 'fatal, error, warn, info, debug, trace or silent (JSON lines on stderr)' },
  { name: 'DEBUG', default: '—', summary: "Node's debug switch; Playwright protocol logging is refused" },
  { name: 'SESAME_GRANT', default: '—', summary: 'the grant (sesame_gr_…) the tool calls authenticate with', command: 'mcp' },
  { name: 'SESAME_MCP_TIMEOUT_MS', default: '60000', summary: 'deadline of one forwarded tool call', command: 'mcp' },
];

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const database = parseDatabaseUrl(env.DATABASE_URL ?? 'sqlite:./data/sesame.db');
  const masterKey = nonEmpty(env.SESAME_MASTER_KEY);
  if (database.dialect === 'postgres' && !masterKey) {
    throw new ConfigError('SESAME_MASTER_KEY is required with PostgreSQL (generate one with: openssl rand -base64 32)');
  }
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.has(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${[...LOG_LEVELS].join(', ')}`);
  const host = parseHost(env.HOST ?? '127.0.0.1');
  refusePlaywrightDebug(env.DEBUG);
  return {
    host,
    port: parseInteger('PORT', env.PORT, 8080, 0, 65535),
    database,
    masterKey,
    masterKeyFile:
      nonEmpty(env.SESAME_MASTER_KEY_FILE) ?? resolve(database.dialect === 'sqlite' ? dirname(database.path) : '.', 'master.key'),
    onePasswordFixture: nonEmpty(env.SESAME_ONEPASSWORD_FIXTURE),
    tls: parseTls(nonEmpty(env.TLS_CERT_FILE), nonEmpty(env.TLS_KEY_FILE)),
    authMode: parseAuthMode(env, host),
    logLevel,
    loginDeadlineMs: parseInteger('SESAME_PROVIDER_LOGIN_TIMEOUT_MS', env.SESAME_PROVIDER_LOGIN_TIMEOUT_MS, 15_000, 100, 120_000),
    callDeadlineMs: parseInteger('SESAME_PROVIDER_CALL_TIMEOUT_MS', env.SESAME_PROVIDER_CALL_TIMEOUT_MS, 10_000, 100, 120_000),
    providerWorkers: parseInteger('SESAME_PROVIDER_WORKERS', env.SESAME_PROVIDER_WORKERS, 1, 1, 16),
    providerClientIdleMs: parseInteger('SESAME_PROVIDER_CLIENT_IDLE_MS', env.SESAME_PROVIDER_CLIENT_IDLE_MS, 900_000, 10_000, 86_400_000),
    providerMaxClients: parseInteger('SESAME_PROVIDER_MAX_CLIENTS', env.SESAME_PROVIDER_MAX_CLIENTS, 256, 1, 100_000),
    providerCacheTtlMs: parseInteger('SESAME_PROVIDER_CACHE_TTL_MS', env.SESAME_PROVIDER_CACHE_TTL_MS, 30_000, 0, 600_000),
    rateLimit: {
      limit: parseInteger('SESAME_RATE_LIMIT', env.SESAME_RATE_LIMIT, 6000, 0, 100_000_000),
      windowMs: parseInteger('SESAME_RATE_LIMIT_WINDOW_S', env.SESAME_RATE_LIMIT_WINDOW_S, 60, 1, 86_400) * 1000,
      syncIntervalMs: parseInteger('SESAME_RATE_LIMIT_SYNC_MS', env.SESAME_RATE_LIMIT_SYNC_MS, 1000, 50, 60_000),
    },
    databasePoolSize: parseInteger('SESAME_DATABASE_POOL_SIZE', env.SESAME_DATABASE_POOL_SIZE, 10, 1, 1000),
    cdpAllow: parseCdpAllow(env.SESAME_CDP_ALLOW ?? 'loopback'),
    cdpTimeoutMs: parseInteger('SESAME_CDP_TIMEOUT_MS', env.SESAME_CDP_TIMEOUT_MS, 10_000, 100, 120_000),
    bodyLimitBytes: 64 * 1024,
    requestTimeoutMs: parseInteger('SESAME_REQUEST_TIMEOUT_MS', env.SESAME_REQUEST_TIMEOUT_MS, 30_000, 1_000, 600_000),
    keepAliveTimeoutMs: parseInteger('SESAME_KEEP_ALIVE_TIMEOUT_MS', env.SESAME_KEEP_ALIVE_TIMEOUT_MS, 72_000, 1_000, 600_000),
    idempotencyTtlMs: 24 * 60 * 60 * 1000,
    version: SESAME_VERSION,
  };
}

/** What `sesame mcp` (the stdio bridge to a running server) needs; it reads nothing else: no database, no keys. */
export interface McpClientConfig {
  /** SESAME_GRANT: the grant every tool call authenticates with. */
  grant: string;
  /** SESAME_MCP_TIMEOUT_MS: deadline of one forwarded tool call. */
  timeoutMs: number;
  version: string;
}

export function loadMcpClientConfig(env: NodeJS.ProcessEnv = process.env): McpClientConfig {
  const grant = nonEmpty(env.SESAME_GRANT);
  if (!grant) throw new ConfigError('SESAME_GRANT must hold the grant (sesame_gr_…) the tool calls authenticate with');
  // Never echoed: it may be a real credential pasted in the wrong place.
  if (!/^sesame_gr_[A-Za-z0-9_-]{43}$/.test(grant))
    throw new ConfigError('SESAME_GRANT is not a grant (sesame_gr_ and 43 more characters)');
  return {
    grant,
    timeoutMs: parseInteger('SESAME_MCP_TIMEOUT_MS', env.SESAME_MCP_TIMEOUT_MS, 60_000, 1_000, 600_000),
    version: SESAME_VERSION,
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

function parseTls(certFile: string | undefined, keyFile: string | undefined): Config['tls'] {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError('TLS_CERT_FILE and TLS_KEY_FILE must be set together (or neither, to serve plain HTTP)');
  return { certFile: resolve(certFile), keyFile: resolve(keyFile) };
}

/**
 * Trusted-gateway mode lets anyone who can reach Sesame act as any org, so it needs the mode, an exact
 * acknowledgement, and (off loopback) a second explicit opt-in. TLS alone does not count: it hides
 * traffic but does not tell the gateway apart from any other client.
 */
function parseAuthMode(env: NodeJS.ProcessEnv, host: string): AuthMode {
  const mode = env.SESAME_AUTH_MODE ?? 'api-key';
  if (mode === 'api-key') return mode;
  if (mode !== 'trusted-gateway') throw new ConfigError('SESAME_AUTH_MODE must be api-key (default) or trusted-gateway');
  if (env.SESAME_TRUSTED_GATEWAY_ACK !== TRUSTED_GATEWAY_ACK) {
    throw new ConfigError(
      'SESAME_AUTH_MODE=trusted-gateway takes the org from the X-User-Org header without any key: whoever can reach Sesame can act ' +
        `as any organization. Set SESAME_TRUSTED_GATEWAY_ACK=${TRUSTED_GATEWAY_ACK} to confirm that only your gateway can reach it`,
    );
  }
  if (!isLoopbackHost(host) && env.SESAME_TRUSTED_GATEWAY_ALLOW_NON_LOOPBACK !== 'true') {
    throw new ConfigError(
      'SESAME_AUTH_MODE=trusted-gateway on a non-loopback HOST needs SESAME_TRUSTED_GATEWAY_ALLOW_NON_LOOPBACK=true, set only ' +
        'when the network lets nothing but the gateway connect (bind 127.0.0.1 when the gateway runs beside Sesame)',
    );
  }
  return mode;
}

/** Comma-separated allow-list entries, lower-cased; each must be `loopback`, an IP, a CIDR range, a host name or `*.domain`. */
export function parseCdpAllow(text: string): string[] {
  const entries = text
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean);
  if (entries.length === 0) throw new ConfigError('SESAME_CDP_ALLOW must name at least one entry (default: loopback)');
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split('/');
    const version = isIP(address ?? '');
    const validCidr =
      prefix !== undefined && extra === undefined && version !== 0 && /^\d+$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
    const validName = prefix === undefined && /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(entry);
    if (entry !== 'loopback' && version === 0 && !validCidr && !validName) {
      throw new ConfigError(`SESAME_CDP_ALLOW: '${entry}' is not loopback, an IP address, a CIDR range, a host name or *.domain`);
    }
    if (prefix !== undefined && !validCidr) throw new ConfigError(`SESAME_CDP_ALLOW: '${entry}' is not a valid CIDR range`);
  }
  return entries;
}

/**
 * Playwright's debug logging (DEBUG=pw:protocol, pw:api, …) prints CDP messages, and a fill's
 * Input.insertText message carries the secret value: refuse to start rather than log it.
 */
function refusePlaywrightDebug(debug: string | undefined): void {
  const patterns = (debug ?? '').split(/[\s,]+/).filter(Boolean);
  const toRegex = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*?')}$`);
  const skipped = patterns.filter((p) => p.startsWith('-')).map((p) => toRegex(p.slice(1)));
  const enabled = patterns.filter((p) => !p.startsWith('-')).map(toRegex);
  const logs = (name: string) => enabled.some((r) => r.test(name)) && !skipped.some((r) => r.test(name));
  if (['pw:protocol', 'pw:api', 'pw:channel', 'pw:server:channel'].some(logs)) {
    throw new ConfigError('DEBUG enables Playwright protocol logging, which would print filled secret values; unset DEBUG or exclude pw:*');
  }
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
