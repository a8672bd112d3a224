// `sesame serve`: migrate, start, and drain in-flight requests on SIGTERM/SIGINT.

import { rmSync, writeFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { buildApp } from '../app.js';
import { type Config, isLoopbackHost } from '../config.js';
import { createEnvelope } from '../crypto/envelope.js';
import type { Keyring } from '../crypto/keyring.js';
import { loadTlsFiles } from '../crypto/tls.js';
import { checkDatabase, type Database, migrate, openDatabase } from '../db/database.js';
import { errorForLog } from '../http/logging.js';
import { createAuthModule } from '../modules/auth/index.js';
import { announceServer, createKeyMaintenance, type Presence } from '../modules/vaults/index.js';
import { createProvider } from '../providers/index.js';
import type { SecretsProvider } from '../providers/provider.js';
import { loadKeyring, say } from './runtime.js';

export interface RunningServer {
  app: FastifyInstance;
  database: Database;
  url: string;
  close(): Promise<void>;
}

export interface ServeOptions {
  logStream?: DestinationStream;
  /** Replaces the configured provider's backend (tests); the metrics and request budget still go around it. */
  provider?: SecretsProvider;
  /** Create a first org and key on a new embedded database (default true). */
  bootstrap?: boolean;
}

export async function startServer(config: Config, options: ServeOptions = {}): Promise<RunningServer> {
  const tls = config.tls && loadTlsFiles(config.tls.certFile, config.tls.keyFile);
  let app: FastifyInstance | undefined;
  const database = openDatabase(config.database, {
    poolSize: config.databasePoolSize,
    onPoolError: (err) => app?.log.warn({ err: errorForLog(err) }, 'database connection lost; the pool reconnects'),
  });
  let provider: SecretsProvider | undefined;
  const earlyWarnings: string[] = []; // the provider may warn before the app (and its logger) exists
  let keyring: Keyring;
  let createdFile: string | undefined;
  let presence: Presence | undefined;
  try {
    // The database first, within its connect deadline: a wrong DATABASE_URL is named before anything else is done.
    await checkDatabase(database, config.database);
    ({ keyring, createdFile } = loadKeyring(config));
    await migrate(database);
    provider = createProvider({
      fixturePath: config.onePasswordFixture,
      loginDeadlineMs: config.loginDeadlineMs,
      callDeadlineMs: config.callDeadlineMs,
      workers: config.providerWorkers,
      clientIdleMs: config.providerClientIdleMs,
      maxClients: config.providerMaxClients,
      version: config.version,
      cacheTtlMs: config.providerCacheTtlMs,
      backend: options.provider,
      onWarning: (message) => (app ? app.log.warn(message) : earlyWarnings.push(message)),
    });
    app = await buildApp(config, { database, envelope: createEnvelope(keyring), provider, logStream: options.logStream, tls });
    for (const message of earlyWarnings) app.log.warn(message);
    if (createdFile)
      app.log.warn({ path: createdFile }, 'generated a new master key file; back it up: without it stored tokens cannot be decrypted');
    if (config.onePasswordFixture) {
      app.log.warn(
        { path: config.onePasswordFixture },
        'USING THE 1PASSWORD FIXTURE BACKEND: no real 1Password calls are made. Never do this in production',
      );
    }
    if (config.authMode === 'trusted-gateway') {
      app.log.warn(
        'TRUSTED-GATEWAY MODE: API keys are not checked; every request acts as the organization named by its X-User-Org header. ' +
          'Only the gateway may be able to reach this server',
      );
    }
    app.log.debug(
      {
        host: config.host,
        database: config.database.dialect,
        auth_mode: config.authMode,
        tls: Boolean(tls),
        master_keys: keyring.ids, // ids only: the keys themselves are never logged
        master_key_source: config.masterKey ? 'SESAME_MASTER_KEY' : config.masterKeyFile,
      },
      'configuration',
    );
    await reportKeyUsage(app, database, keyring);
    await app.listen({ host: config.host, port: config.port });
    // From now on this server seals with its current key: keys rewrap and retire take it into account.
    const log = app.log;
    presence = await announceServer({
      db: database.db,
      version: config.version,
      keyIds: keyring.ids,
      onError: (err) => log.warn({ err: errorForLog(err) }, 'server heartbeat not written; retrying'),
    });
    if (options.bootstrap !== false) await bootstrapFirstKey(config, database, app);
  } catch (err) {
    await presence?.stop();
    await app?.close();
    await provider?.close();
    await database.close();
    throw err;
  }

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  if (!tls && !isLoopbackHost(config.host)) {
    app.log.warn(
      'serving plain HTTP on a non-loopback address: set TLS_CERT_FILE and TLS_KEY_FILE, or put a TLS-terminating proxy in front of Sesame',
    );
  }
  const protocol = tls ? 'https' : 'http';
  app.log.info({ port, database: config.database.dialect, protocol }, 'sesame is listening');
  const running = app;
  return {
    app: running,
    database,
    url: `${protocol}://${host}:${port}`,
    async close() {
      await running.close(); // stops accepting, waits for in-flight requests
      await presence?.stop();
      await provider?.close();
      await database.close();
    },
  };
}

/**
 * Says at start-up when stored tokens are wrapped by a master key this instance lacks (they cannot be
 * decrypted: a key was removed too early) or by an older key (a rewrap is pending). Ids only.
 */
async function reportKeyUsage(app: FastifyInstance, database: Database, keyring: Keyring): Promise<void> {
  const byKey = Object.entries(await createKeyMaintenance({ db: database.db, envelope: createEnvelope(keyring) }).usage());
  for (const [keyId, vaults] of byKey.filter(([id]) => !keyring.get(id))) {
    app.log.error(
      { key_id: keyId, vaults },
      'stored tokens are wrapped by a master key that is not configured: they cannot be decrypted until it is added back to the key list',
    );
  }
  const older = byKey.filter(([id]) => id !== keyring.current.id && keyring.get(id));
  if (older.length > 0) {
    app.log.info(
      { current: keyring.current.id, older: Object.fromEntries(older) },
      'some stored tokens are wrapped by an older master key: run sesame keys rewrap',
    );
  }
}

/** Where the first start of a new data directory leaves the first API key when no terminal watches it. */
export const FIRST_KEY_FILE = 'first-api-key.json';

/**
 * On a brand-new embedded database, once the port is bound, create a first organization and API key
 * so a newcomer can curl at once. The key never goes into the log stream: it is shown on the terminal
 * when stderr is one, and otherwise written once to a 0600 file next to the database, whose path
 * (never the key) is logged. Not done on PostgreSQL, where organizations are created deliberately
 * with `sesame org create`.
 */
async function bootstrapFirstKey(config: Config, database: Database, app: FastifyInstance): Promise<void> {
  if (config.database.dialect !== 'sqlite') return;
  const auth = createAuthModule({ db: database.db }).service;
  if ((await auth.countOrganizations()) > 0) return;
  const org = await auth.createOrganization('default');
  const issued = await auth.issueApiKey(org.id, 'first key');
  const ids = { org_id: org.id, key_id: issued.id };
  if (process.stderr.isTTY) {
    say(
      [
        '',
        `New data directory: created organization "default" (${org.id}) and its first API key (${issued.id}).`,
        'This key is shown once and never again; store it now:',
        '',
        `  ${issued.key}`,
        '',
        `  export SESAME_API_KEY=${issued.key}`,
        '',
      ].join('\n'),
    );
    app.log.info(ids, 'created organization "default" and its first API key; the key was shown on the terminal');
    return;
  }
  const path = join(dirname(config.database.path), FIRST_KEY_FILE);
  // A file left by an earlier, deleted database holds a key that no longer exists. Created anew, mode 0600.
  rmSync(path, { force: true });
  writeFileSync(path, `${JSON.stringify({ id: issued.id, org_id: org.id, key: issued.key })}\n`, { mode: 0o600, flag: 'wx' });
  app.log.warn(
    { ...ids, path },
    'created organization "default" and its first API key; the key is in this file (mode 0600): store it elsewhere, then delete the file',
  );
}

export async function serveCommand(config: Config): Promise<void> {
  const server = await startServer(config);
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    server.app.log.info({ signal }, 'shutting down: draining in-flight requests');
    server.close().then(
      () => process.exit(0),
      (err: Error) => {
        server.app.log.error({ err: errorForLog(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const { tls } = config;
  if (tls) {
    // Renewed certificates are picked up without a restart; a bad pair keeps the one being served.
    process.on('SIGHUP', () => {
      try {
        (server.app.server as unknown as HttpsServer).setSecureContext(loadTlsFiles(tls.certFile, tls.keyFile));
        server.app.log.info('reloaded TLS_CERT_FILE and TLS_KEY_FILE');
      } catch (err) {
        server.app.log.error({ err: errorForLog(err as Error) }, 'TLS files not reloaded; still serving the previous ones');
      }
    });
  }
}
