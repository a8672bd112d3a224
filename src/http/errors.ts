// The one place where errors become HTTP answers: the 422 list shape for validation, {"detail": …}
// for everything else, 404/405 for unknown routes, and no internals in any 5xx body.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { isDatabaseUnavailable } from '../db/database.js';
import { databaseUnavailable, HttpError, ValidationError } from '../errors.js';
import { errorForLog } from './logging.js';

const DETAIL_BY_STATUS: Record<number, string> = {
  400: 'The request could not be read',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'The request body is larger than 64 KiB',
  415: 'Content-Type must be application/json',
  431: 'The request headers are too large',
};

export function registerErrorHandling(app: FastifyInstance): void {
  registerJsonParser(app);
  const routes = trackRoutes(app);

  app.setNotFoundHandler(async (request, reply) => {
    const allowed = routes.methodsFor(request.url);
    if (allowed.length > 0) {
      return reply.code(405).header('allow', allowed.join(', ')).send({ detail: DETAIL_BY_STATUS[405] });
    }
    return reply.code(404).send({ detail: DETAIL_BY_STATUS[404] });
  });

  app.setErrorHandler(async (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ValidationError) return reply.code(422).send({ detail: error.issues });
    if (error instanceof HttpError) return reply.code(error.statusCode).headers(error.headers).send({ detail: error.detail });
    const status = (error as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.code(status).send({ detail: DETAIL_BY_STATUS[status] ?? 'The request could not be processed' });
    }
    if (isDatabaseUnavailable(error)) {
      request.log.error({ err: errorForLog(error) }, 'database unavailable');
      const unavailable = databaseUnavailable();
      return reply.code(503).headers(unavailable.headers).send({ detail: unavailable.detail });
    }
    request.log.error({ err: errorForLog(error) }, 'unhandled error');
    return reply.code(500).send({ detail: 'Internal server error' });
  });
}

/** JSON bodies only. A syntax error is a 422 `json_invalid`; `__proto__` keys are dropped. */
function registerJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('remove', 'remove');
  app.removeAllContentTypeParsers();
  // Fastify matches a RegExp against the whole header, parameters included ("application/json; charset=utf-8").
  app.addContentTypeParser(/^application\/([\w.+-]+\+)?json(;.*)?$/i, { parseAs: 'string' }, (request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, (err, value) => {
      if (!err) return done(null, value);
      const position = /position (\d+)/.exec(String((err as Error).message))?.[1];
      done(
        new ValidationError([
          {
            type: 'json_invalid',
            loc: ['body', position ? Number(position) : 0],
            msg: 'JSON decode error',
            input: {},
            ctx: { error: 'Invalid JSON' },
          },
        ]),
      );
    });
  });
}

/** Remembers every route's path pattern so an unknown method on a known path answers 405, not 404. */
function trackRoutes(app: FastifyInstance) {
  const patterns: { regex: RegExp; method: string }[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const source = route.url
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    for (const method of [route.method].flat()) patterns.push({ regex: new RegExp(`^${source}/?$`), method });
  });
  return {
    methodsFor(url: string): string[] {
      const path = url.split('?')[0] ?? '';
      return [...new Set(patterns.filter((p) => p.regex.test(path)).map((p) => p.method))];
    },
  };
}
