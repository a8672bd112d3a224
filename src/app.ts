// buildApp: wires plugins and modules together, nothing more.
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { DestinationStream } from 'pino';
import type { Config } from './config.js';
import type { Envelope } from './crypto/envelope.js';
import type { Database } from './db/database.js';
import { requireApiKey } from './http/auth.js';
import { registerErrorHandling } from './http/errors.js';
import { createIdempotencyStore } from './http/idempotency.js';
import { createLoggerOptions, registerRequestLogging } from './http/logging.js';
import { registerValidation } from './http/validation.js';
import { createAuthRepo } from './modules/auth/auth.repo.js';
import { createAuthService } from './modules/auth/auth.service.js';
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
}

const IDEMPOTENCY_PURGE_INTERVAL_MS = 10 * 60 * 1000;

export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: createLoggerOptions(config.logLevel, deps.logStream),
    logController: new LogController({ disableRequestLogging: true }), // one line per request, written in onResponse
    bodyLimit: config.bodyLimitBytes,
    // A long path segment must reach validation (a non-UUID vault_id is a 422), not the router's 414;
    // Node's header size limit still bounds the URL.
    maxParamLength: 16 * 1024,
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
  });

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
  const vaultService = createVaultService({ repo: createVaultRepo(deps.database.db), envelope: deps.envelope, provider: deps.provider });
  const idempotency = createIdempotencyStore(deps.database.db, { ttlMs: config.idempotencyTtlMs });

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

  await app.register(
    async (api) => {
      requireApiKey(api, authService);
      await api.register(vaultRoutes(vaultService, idempotency));
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
    idempotency
      .purgeExpired()
      .catch((err: Error) => app.log.warn({ err: { type: err.name, message: err.message } }, 'idempotency purge failed'));
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
