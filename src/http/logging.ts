// Structured JSON logs (pino): one line per request, with tokens and credentials redacted at the
// logger so that a mistake elsewhere cannot print them.
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { type DestinationStream, destination } from 'pino';

/** Paths pino censors wherever they appear in a log object. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  '*.*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'body',
  '*.body',
];

export function createLoggerOptions(level: string, stream?: DestinationStream): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Logs go to stderr: stdout is reserved for machine-readable command output.
    stream: stream ?? destination(2),
  };
}

export function registerRequestLogging(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        // The route pattern, not the raw URL: paths and query strings are caller-controlled text.
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        org_id: request.principal?.orgId,
      },
      'request',
    );
  });
}
