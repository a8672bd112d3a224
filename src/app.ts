// buildApp: wires plugins and modules together, nothing more.
import type { IncomingMessage, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { DestinationStream } from 'pino';
import type { Config } from './config.js';
import type { Envelope } from './crypto/envelope.js';
import type { TlsFiles } from './crypto/tls.js';
import { type Database, DatabaseReadOnlyError } from './db/database.js';
import { registerErrorHandling } from './http/errors.js';
import { createLoggerOptions, errorForLog, registerRequestLogging } from './http/logging.js';
import { registerRequestMetrics } from './http/metrics.js';
import { swaggerOptions } from './http/openapi.js';
import { SHARED_SCHEMAS } from './http/schemas.js';
import { registerValidation, schemaController } from './http/validation.js';
import { defaultMetrics, type MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from './metrics.js';
import { createAuditModule } from './modules/audit/index.js';
import { createAuthModule } from './modules/auth/index.js';
import { createFillModule } from './modules/fill/index.js';
import { createGrantsModule } from './modules/grants/index.js';
import { createIdempotencyModule } from './modules/idempotency/index.js';
import { createMcpModule } from './modules/mcp/index.js';
import { createRateLimitModule } from './modules/rate-limit/index.js';
import { createVaultsModule } from './modules/vaults/index.js';
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

export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  // A request without Host reaches the app, which answers it with a body, instead of Node's bare 400.
  // Request deadlines are checked every second (Node's default is every 30 s).
  const http = { requireHostHeader: false, connectionsCheckingInterval: 1_000 };
  const app = Fastify({
    ...(deps.tls ? { https: { ...deps.tls, ...http } } : { http }),
    logger: createLoggerOptions(config.logLevel, deps.logStream),
    logController: new LogController({ disableRequestLogging: true }), // one line per request, written in onResponse
    bodyLimit: config.bodyLimitBytes,
    // A client that trickles its request (headers or body) is answered 408 and cut off; idle keep-alive
    // connections close. 72 s by default: longer than the usual 60 s idle timeout of load balancers.
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    schemaController,
    // A long path segment must reach validation (a non-UUID vault_id is a 422), not the router's 414;
    // Node's header size limit still bounds the URL.
    // A trailing slash names the same route (as the platform's redirect_slashes does), so a 405's Allow
    // can never list the method that was used.
    routerOptions: { maxParamLength: 16 * 1024, ignoreTrailingSlash: true },
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
  });
  app.server.on('checkExpectation', answerUnsupportedExpectation);
  // Node swaps the two deadlines when headersTimeout (60 s) is the larger: keep it within the request's.
  app.server.headersTimeout = Math.min(app.server.headersTimeout, config.requestTimeoutMs);

  registerErrorHandling(app);
  registerValidation(app);
  registerRequestLogging(app, (request) => ({ org_id: request.caller?.orgId }));
  const metrics = deps.metrics ?? defaultMetrics;
  registerRequestMetrics(app, metrics);

  await app.register(
    swagger,
    swaggerOptions({
      title: 'Sesame',
      version: config.version,
      description: 'Vault configs backed by 1Password, wire-compatible with /api/v2/vaults',
    }),
  );
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);

  const { db } = deps.database;
  const warn = (message: string) => (err: Error) => app.log.warn({ err: errorForLog(err) }, message);
  const auth = createAuthModule({ db, onTouchError: warn('API key last-used time not recorded') });
  const idempotency = createIdempotencyModule({ db, ttlMs: config.idempotencyTtlMs, onPurgeError: warn('idempotency purge failed') });
  // The trail and grants ask whether a vault exists; the vaults module records into the trail.
  const vaultExists = (orgId: string, vaultId: string) => vaults.exists(orgId, vaultId);
  const audit = createAuditModule({ db, vaultExists });
  const vaults = createVaultsModule({
    db,
    envelope: deps.envelope,
    provider: deps.provider,
    audit: audit.service,
    idempotency: idempotency.store,
  });
  const grants = createGrantsModule({ db, audit: audit.service, vaultExists, cdpAllow: config.cdpAllow });
  const fill = createFillModule({
    vaults: vaults.service,
    grants: grants.service,
    audit: audit.service,
    provider: deps.provider,
    cdpAllow: config.cdpAllow,
    cdpTimeoutMs: config.cdpTimeoutMs,
    metrics,
  });
  const rateLimit = createRateLimitModule({
    db,
    settings: config.rateLimit,
    onSyncError: warn('rate-limit counters not synced; counting locally until the database answers'),
    metrics,
  });
  for (const module of [fill, rateLimit, idempotency]) app.addHook('onClose', () => module.close());

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true, version: config.version }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      await deps.database.ping();
      return { ok: true };
    } catch (err) {
      // Ready means writable: a database that answers but refuses writes would fail every change.
      const detail = err instanceof DatabaseReadOnlyError ? 'The database cannot be written' : 'The database is unreachable';
      return reply.code(503).header('retry-after', '5').send({ detail });
    }
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // Unauthenticated, like /healthz: labels come from closed sets, so it carries no token or org data.
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(PROMETHEUS_CONTENT_TYPE).send(await metrics.render()),
  );

  await app.register(
    async (api) => {
      auth.register(api, { mode: config.authMode, grants: grants.authenticate });
      rateLimit.register(api);
      for (const module of [vaults, grants, audit, fill]) await api.register(module.routes);
    },
    { prefix: '/api/v2' },
  );
  // MCP at /mcp, outside /api/v2: its own authentication (grants only) and its own answers (JSON-RPC).
  const mcp = createMcpModule({ authenticate: grants.authenticate, fill: fill.service, admit: rateLimit.admit, version: config.version });
  await app.register(mcp.routes);

  // While draining on shutdown, answers close their connection so keep-alive clients let the server exit.
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (draining) reply.header('connection', 'close');
  });

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
  const [status, text, detail] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'The request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'The request took too long to arrive; the connection is closed']
        : [400, 'Bad Request', 'The request could not be read'];
  const body = JSON.stringify({ detail });
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
