// buildApp: wires plugins and modules together, nothing more.
import type { IncomingMessage, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { DestinationStream } from 'pino';
import type { Config } from './config.js';
import type { Envelope } from './crypto/envelope.js';
import type { TlsFiles } from './crypto/tls.js';
import type { Database } from './db/database.js';
import { requireAuthentication } from './http/auth.js';
import { registerErrorHandling } from './http/errors.js';
import { createIdempotencyStore } from './http/idempotency.js';
import { createLoggerOptions, errorForLog, registerRequestLogging } from './http/logging.js';
import { createCounterStore, createRateLimiter, registerRateLimit } from './http/rate-limit.js';
import { registerValidation } from './http/validation.js';
import { defaultMetrics, type MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from './metrics.js';
import { createAuditRepo } from './modules/audit/audit.repo.js';
import { auditRoutes } from './modules/audit/audit.routes.js';
import { createAuditService } from './modules/audit/audit.service.js';
import { createAuthRepo } from './modules/auth/auth.repo.js';
import { createAuthService } from './modules/auth/auth.service.js';
import { createCdpAllowList, createCdpPool } from './modules/fill/cdp.js';
import { fillRoutes } from './modules/fill/fill.routes.js';
import { createFillService } from './modules/fill/fill.service.js';
import { createFieldCache } from './modules/fill/vault-source.js';
import { createGrantRepo } from './modules/grants/grants.repo.js';
import { grantRoutes } from './modules/grants/grants.routes.js';
import { createGrantService } from './modules/grants/grants.service.js';
import { createVaultRepo } from './modules/vaults/vaults.repo.js';
import { vaultRoutes } from './modules/vaults/vaults.routes.js';
import { createVaultService } from './modules/vaults/vaults.service.js';
import type { SecretsProvider } from './providers/provider.js';

export interface AppDeps {
  database: Database;
  envelope: Envelope;
  provider: SecretsProvider;
  /** Where log lines go (default: stderr). Tests pass a stream they can search. */
  logStream?: DestinationStream;
  /** Serve HTTPS with this certificate and key (TLS_CERT_FILE, TLS_KEY_FILE). */
  tls?: TlsFiles;
  /** Served at GET /metrics (default: the process's registry, where the provider counts its calls). */
  metrics?: MetricsRegistry;
}

const IDEMPOTENCY_PURGE_INTERVAL_MS = 10 * 60 * 1000;

export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.tls ? { https: deps.tls } : {}),
    logger: createLoggerOptions(config.logLevel, deps.logStream),
    logController: new LogController({ disableRequestLogging: true }), // one line per request, written in onResponse
    bodyLimit: config.bodyLimitBytes,
    // A long path segment must reach validation (a non-UUID vault_id is a 422), not the router's 414;
    // Node's header size limit still bounds the URL.
    routerOptions: { maxParamLength: 16 * 1024 },
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
  });
  app.server.on('checkExpectation', answerUnsupportedExpectation);

  registerErrorHandling(app);
  registerValidation(app);
  registerRequestLogging(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Sesame',
        version: config.version,
        description: 'Vault configs backed by 1Password, wire-compatible with /api/v2/vaults',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    },
  });

  const authService = createAuthService({ repo: createAuthRepo(deps.database.db) });
  const vaultRepo = createVaultRepo(deps.database.db);
  const vaultExists = async (orgId: string, id: string) => (await vaultRepo.find(orgId, id)) !== undefined;
  const audit = createAuditService({ repo: createAuditRepo(deps.database.db), vaultExists });
  const vaultService = createVaultService({ repo: vaultRepo, envelope: deps.envelope, provider: deps.provider, audit });
  const grantService = createGrantService({ repo: createGrantRepo(deps.database.db), vaultExists, audit });
  const browsers = createCdpPool({ timeoutMs: config.cdpTimeoutMs });
  app.addHook('onClose', () => browsers.close());
  const fillService = createFillService({
    vaults: vaultRepo,
    envelope: deps.envelope,
    provider: deps.provider,
    grants: grantService,
    audit,
    browsers,
    allowList: createCdpAllowList(config.cdpAllow),
    fieldCache: createFieldCache(),
    timeoutMs: config.cdpTimeoutMs,
  });
  const idempotency = createIdempotencyStore(deps.database.db, { ttlMs: config.idempotencyTtlMs });
  const rateLimiter = createRateLimiter(createCounterStore(deps.database.db), config.rateLimit, {
    onSyncError: (err) =>
      app.log.warn({ err: errorForLog(err) }, 'rate-limit counters not synced; counting locally until the database answers'),
  });
  app.addHook('onClose', () => rateLimiter.close());

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      await deps.database.ping();
      return { ok: true };
    } catch {
      return reply.code(503).header('retry-after', '5').send({ detail: 'The database is unreachable' });
    }
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // Unauthenticated, like /healthz: labels come from closed sets, so it carries no token or org data.
  const metrics = deps.metrics ?? defaultMetrics;
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => reply.type(PROMETHEUS_CONTENT_TYPE).send(metrics.render()));

  await app.register(
    async (api) => {
      requireAuthentication(api, authService, config.authMode, grantService);
      registerRateLimit(api, rateLimiter, config.rateLimit);
      await api.register(vaultRoutes(vaultService, idempotency));
      await api.register(grantRoutes(grantService));
      await api.register(auditRoutes(audit));
      await api.register(fillRoutes(fillService));
    },
    { prefix: '/api/v2' },
  );

  // While draining on shutdown, answers close their connection so keep-alive clients let the server exit.
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (draining) reply.header('connection', 'close');
  });

  const purge = setInterval(() => {
    idempotency.purgeExpired().catch((err: Error) => app.log.warn({ err: errorForLog(err) }, 'idempotency purge failed'));
  }, IDEMPOTENCY_PURGE_INTERVAL_MS);
  purge.unref();
  app.addHook('onClose', async () => clearInterval(purge));

  return app;
}

/** Router-level failures (an undecodable URL) get the {"detail"} shape too, and never echo the URL. */
function answerFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
  reply.code(status).send({ detail: status === 414 ? 'The request URL is too long' : 'The request could not be read' });
}

/** Node answers an Expect other than 100-continue with a bare 417 of its own; this one has the {"detail"} shape. */
function answerUnsupportedExpectation(_request: IncomingMessage, response: ServerResponse): void {
  const body = JSON.stringify({ detail: 'Only "Expect: 100-continue" is supported' });
  response.writeHead(417, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  response.end(body);
}

/** Malformed HTTP (bad request line, oversized headers) still gets a {"detail"} body, never a 5xx. */
function answerClientError(err: Error & { code?: string }, socket: import('node:net').Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, text] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
  const body = JSON.stringify({ detail: status === 431 ? 'The request headers are too large' : 'The request could not be read' });
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
