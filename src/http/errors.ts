// The one place where errors become HTTP answers: the table from domain error codes to status,
// headers and body, the 422 list shape for validation, {"detail": …} for everything else, 404/405
// for unknown routes, and no internals in any 5xx body.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { isDatabaseBusy, isDatabaseUnavailable, isStorageFull } from '../db/database.js';
import { DomainError, type ErrorCode, type ErrorData, type ProviderField } from '../errors.js';
import { describeJsonError } from './json-error.js';
import { errorForLog } from './logging.js';
import { TOKEN_MASK } from './redact.js';
import { ValidationError, type ValidationIssue } from './validation.js';

/** How a code is answered: its status, its headers, and for a 422 the entries of the list (built around the error's sentence). */
interface Answer<C extends ErrorCode> {
  status: number;
  headers?: (data: ErrorData[C]) => Record<string, string>;
  issues?: (data: ErrorData[C], msg: string) => ValidationIssue[];
}

const TOKEN_LOC = ['body', 'token'];
const LOC: Record<ProviderField, string[]> = { token: TOKEN_LOC, op_vault_id: ['body', 'provider_config', 'op_vault_id'] };
const retryAfter = (seconds: number) => ({ 'retry-after': String(seconds) });
/** A provider's refusal, at the request field it is about; a token is never echoed. */
const providerRejected = ({ field, opVaultId }: { field: ProviderField; opVaultId: string }, msg: string): ValidationIssue[] => [
  { type: 'provider_rejected', loc: LOC[field], msg, input: field === 'token' ? TOKEN_MASK : opVaultId },
];

/** Every domain error code and how it is answered. */
const ANSWERS: { [C in ErrorCode]: Answer<C> } = {
  authentication_required: { status: 401, headers: () => ({ 'www-authenticate': 'Bearer' }) },
  origin_not_allowed: { status: 403 },
  invalid_org_id: { status: 400 },
  rate_limited: { status: 429, headers: ({ retryAfterSeconds }) => retryAfter(retryAfterSeconds) },
  organization_not_found: { status: 404 },
  vault_not_found: { status: 404 },
  grant_not_found: { status: 404 },
  vault_name_taken: { status: 409 },
  concurrent_change: { status: 409 },
  token_malformed: { status: 422, issues: (_, msg) => [{ type: 'token_format', loc: TOKEN_LOC, msg, input: TOKEN_MASK }] },
  token_rejected: { status: 422, issues: providerRejected },
  vault_inaccessible: { status: 422, issues: providerRejected },
  provider_unavailable: { status: 503, headers: ({ retryAfterSeconds }) => retryAfter(retryAfterSeconds) },
  undecryptable: { status: 409 },
  // Every 422 is the list the SDKs parse (the document's HTTPValidationError), this one at the header.
  idempotency_key_reused: {
    status: 422,
    issues: (_, msg) => [{ type: 'value_error', loc: ['header', 'idempotency-key'], msg: `Value error, ${msg}`, input: null }],
  },
  idempotency_in_progress: { status: 409, headers: () => retryAfter(1) },
  database_unavailable: { status: 503, headers: () => retryAfter(5) },
  storage_full: { status: 503, headers: () => retryAfter(30) },
  database_busy: { status: 503, headers: () => retryAfter(2) },
  invalid_allowed_domains: {
    status: 422,
    issues: ({ problems }) =>
      problems.map(({ index, input, problem, host }) => ({
        type: 'value_error',
        loc: ['body', 'allowed_domains', index],
        msg:
          problem === 'public_suffix'
            ? `Value error, '${host}' is a public suffix; name a domain that one owner controls`
            : 'Value error, expected a host name such as example.com, without scheme, port or path',
        input,
      })),
  },
  cdp_not_allowed: {
    status: 422,
    issues: ({ endpoint }, msg) => [{ type: 'value_error', loc: ['body', 'cdp_endpoint'], msg, input: endpoint }],
  },
  cdp_endpoint_mismatch: {
    status: 422,
    issues: ({ endpoint }, msg) => [{ type: 'value_error', loc: ['body', 'cdp_endpoint'], msg, input: endpoint }],
  },
  target_id_mismatch: {
    status: 422,
    issues: ({ targetId }, msg) => [{ type: 'value_error', loc: ['body', 'target_id'], msg, input: targetId }],
  },
  target_id_without_cdp_endpoint: {
    status: 422,
    issues: ({ targetId }, msg) => [{ type: 'value_error', loc: ['body', 'target_id'], msg, input: targetId }],
  },
  // What request validation answers for a missing required field: only a grant bound to a browser may leave it out.
  browser_not_bound: { status: 422, issues: (_, msg) => [{ type: 'missing', loc: ['body', 'cdp_endpoint'], msg, input: null }] },
  page_not_found: { status: 422, issues: (_, msg) => [{ type: 'value_error', loc: ['body', 'target_id'], msg, input: null }] },
  browser_unreachable: { status: 502 },
  browser_timeout: { status: 504 },
  browser_gone: { status: 502 },
};

/** The answer to a domain error: status, headers and the body's `detail` (its sentence, or the 422 list). */
export function answerFor(error: DomainError): { status: number; headers: Record<string, string>; detail: string | ValidationIssue[] } {
  const answer = ANSWERS[error.code] as Answer<ErrorCode>;
  return {
    status: answer.status,
    headers: answer.headers?.(error.data) ?? {},
    detail: answer.issues?.(error.data, error.message) ?? error.message,
  };
}

function send(reply: FastifyReply, { status, detail, headers }: ReturnType<typeof answerFor>) {
  return reply.code(status).headers(headers).send({ detail });
}

const DETAIL_BY_STATUS: Record<number, string> = {
  400: 'The request could not be read',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'The request body is larger than 64 KiB',
  415: 'Content-Type must be application/json',
  431: 'The request headers are too large',
};

export function registerErrorHandling(app: FastifyInstance): void {
  const storageFullLog = throttle(60_000);
  registerJsonParser(app);
  const routes = trackRoutes(app);

  // An answer sent before the request body was read (a 401, a 413) closes the connection: a client
  // must not keep it by trickling the rest of a body nobody reads.
  app.addHook('onSend', async (request, reply) => {
    if (!request.raw.complete) reply.header('connection', 'close');
  });

  // HTTP/1.1 requires Host (RFC 9112 §3.2); Node would answer its absence with an empty 400.
  app.addHook('onRequest', async (request, reply) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      return reply.code(400).header('connection', 'close').send({ detail: 'The request has no Host header' });
    }
  });

  app.setNotFoundHandler(async (request, reply) => {
    const allowed = routes.methodsFor(request.url);
    // A 405 whose Allow lists the method used would contradict itself.
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      return reply.code(405).header('allow', allowed.join(', ')).send({ detail: DETAIL_BY_STATUS[405] });
    }
    return reply.code(404).send({ detail: DETAIL_BY_STATUS[404] });
  });

  app.setErrorHandler(async (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ValidationError) return reply.code(422).send({ detail: error.issues });
    if (error instanceof DomainError) return send(reply, answerFor(error));
    const status = (error as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.code(status).send({ detail: DETAIL_BY_STATUS[status] ?? 'The request could not be processed' });
    }
    if (isStorageFull(error)) {
      // The real cause (SQLITE_FULL / 53100), once a minute at most: a full disk fails every write.
      if (storageFullLog.due()) {
        request.log.error(
          { err: errorForLog(error), suppressed: storageFullLog.suppressed() },
          'storage full: writes refused until space is freed',
        );
      }
      return send(reply, answerFor(new DomainError('storage_full')));
    }
    if (isDatabaseBusy(error)) {
      request.log.warn({ err: errorForLog(error) }, 'database locked by another process past the write deadline');
      return send(reply, answerFor(new DomainError('database_busy')));
    }
    if (isDatabaseUnavailable(error)) {
      request.log.error({ err: errorForLog(error) }, 'database unavailable');
      return send(reply, answerFor(new DomainError('database_unavailable')));
    }
    request.log.error({ err: errorForLog(error) }, 'unhandled error');
    return reply.code(500).send({ detail: 'Internal server error' });
  });
}

/** JSON bodies only. A syntax error is a 422 `json_invalid` at the parser's position; `__proto__` keys are dropped. */
function registerJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('remove', 'remove');
  app.removeAllContentTypeParsers();
  // Fastify matches a RegExp against the whole header, parameters included ("application/json; charset=utf-8").
  app.addContentTypeParser(/^application\/([\w.+-]+\+)?json(;.*)?$/i, { parseAs: 'string' }, (request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, (err, value) => {
      if (!err) return done(null, value);
      // The platform's answer: where the parser stopped, and its message (never quoting the body).
      // Fastify's parser replaces the parser's error with one sentence of its own; parsing again gives it back.
      const { position, message } = describeJsonError(text, syntaxErrorOf(text) ?? err);
      done(
        new ValidationError([
          { type: 'json_invalid', loc: ['body', position], msg: 'JSON decode error', input: {}, ctx: { error: message } },
        ]),
      );
    });
  });
}

function syntaxErrorOf(text: string): unknown {
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    return err;
  }
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

/** At most one log line per `ms`; counts the ones it held back. */
function throttle(ms: number) {
  let last = Number.NEGATIVE_INFINITY;
  let held = 0;
  return {
    due(): boolean {
      const now = Date.now();
      if (now - last < ms) {
        held++;
        return false;
      }
      last = now;
      return true;
    },
    suppressed(): number {
      const n = held;
      held = 0;
      return n;
    },
  };
}
