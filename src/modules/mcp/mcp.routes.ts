// MCP over Streamable HTTP at POST /mcp, stateless: each POST carries one JSON-RPC message and gets
// its answer as one JSON body, from a server built for that request. Fastify sends the answer itself,
// so the request log, the error handler and shutdown draining work as on every other route.
//
// Before the transport sees anything: a request from a web page (any Origin header) is refused (403,
// the DNS-rebinding guard the MCP specification asks for); only a grant authenticates (401 with
// WWW-Authenticate: Bearer otherwise, the body every 401 has); a batch is refused, so one HTTP request
// is at most one tool call. GET and DELETE (the stream and session end of stateful servers) answer
// 405 with Allow: POST through the app's not-found handler, which the SDK's client reads as "none".
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../../errors.js';
import { errorForLog } from '../../http/logging.js';
import { DOCUMENT_ONLY } from '../../http/openapi.js';
import { ErrorDetail, ref } from '../../http/schemas.js';
import type { Caller } from '../auth/caller.js';
import { JsonRpcRequest, JsonRpcResponse, MCP_SCHEMAS } from './mcp.schemas.js';
import { createMcpServer, type McpCallContext } from './mcp.server.js';
import { FILL_SECRET_AT, LIST_SECRETS } from './mcp.tools.js';

export interface McpRouteDeps extends Pick<McpCallContext, 'fill' | 'admit' | 'version'> {
  /** Resolves an Authorization header that carries a grant (anything else: undefined). */
  authenticate: (authorization: string | undefined) => Promise<Caller | undefined>;
}

const JSON_TYPE = /^application\/([\w.+-]+\+)?json(;.*)?$/i;
/** The body of a POST that is not JSON, as the parser hands it on. */
const UNREADABLE = Symbol('unreadable');
/** Headers the transport is not given: credentials (its handlers could read them) and the framing of a body already read. */
const WITHHELD_HEADERS = new Set(['authorization', 'cookie', 'content-length', 'transfer-encoding', 'connection', 'keep-alive']);
/** What the request log may say about a message: names from closed sets only, never caller text. */
const LOGGED_METHODS = new Set(['initialize', 'notifications/initialized', 'ping', 'tools/list', 'tools/call', 'notifications/cancelled']);

const jsonRpcError = (code: number, message: string) => ({ jsonrpc: '2.0', error: { code, message }, id: null });

export function mcpRoutes(deps: McpRouteDeps) {
  return async function register(app: FastifyInstance): Promise<void> {
    // A body that is not JSON is the protocol's parse error here, not the API's 422 list.
    const parseJson = app.getDefaultJsonParser('remove', 'remove');
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(JSON_TYPE, { parseAs: 'string' }, (request, body, done) => {
      if (String(body).trim() === '') return done(null, UNREADABLE);
      parseJson(request, String(body), (err, value) => done(null, err ? UNREADABLE : value));
    });

    app.decorateRequest('caller', null as unknown as Caller);
    app.addHook('onRequest', async (request) => {
      // Agent runtimes send no Origin; a browser always does, and a page reached by DNS rebinding would too.
      if (request.headers.origin !== undefined) throw new DomainError('origin_not_allowed');
      const caller = await deps.authenticate(request.headers.authorization);
      if (!caller?.grant) throw new DomainError('authentication_required');
      request.caller = caller;
    });

    for (const schema of MCP_SCHEMAS) app.addSchema(schema);
    const jsonRpc = (description: string) => ref(JsonRpcResponse, { description });
    const detail = (description: string) => ref(ErrorDetail, { description });
    const schema = {
      tags: ['MCP'],
      operationId: 'mcp',
      summary: 'MCP over Streamable HTTP: one JSON-RPC message per POST (tools list_secrets and fill_secret_at); grants only',
      security: [{ HTTPBearer: [] }],
      // Documented only: the SDK's transport checks the message and answers its errors as JSON-RPC.
      [DOCUMENT_ONLY]: {
        body: ref(JsonRpcRequest),
        response: {
          200: jsonRpc('The JSON-RPC answer (a tool refusal or failure is a result with isError)'),
          202: { type: 'null', description: 'A notification or response was accepted' },
          400: jsonRpc('Not one JSON-RPC message (a parse error, a batch), or an unsupported protocol version'),
          401: detail('Authentication required: only a grant authenticates; carries WWW-Authenticate: Bearer'),
          403: detail('The request came from a web page (it has an Origin header)'),
          406: jsonRpc('Accept must list application/json and text/event-stream'),
          413: detail('The request body is larger than 64 KiB'),
          415: detail('Content-Type must be application/json'),
          503: detail('The database is unavailable; see Retry-After'),
        },
      },
    };

    app.post('/mcp', { schema }, async (request, reply) => {
      const body = request.body;
      if (body === UNREADABLE || body === undefined) return reply.code(400).send(jsonRpcError(-32700, 'Parse error: the body is not JSON'));
      if (Array.isArray(body)) {
        return reply
          .code(400)
          .send(jsonRpcError(-32600, 'Invalid Request: batches are not accepted; send one JSON-RPC message per request'));
      }
      request.log = request.log.child({ mcp: describe(body) });

      const server = createMcpServer({
        caller: request.caller,
        fill: deps.fill,
        admit: deps.admit,
        version: deps.version,
        logUnexpected: (err) =>
          request.log.error({ err: err instanceof Error ? errorForLog(err) : typeof err }, 'unhandled error in an MCP tool'),
      });
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      await server.connect(transport);
      // The client hanging up closes the server, which aborts the running tool: nothing is typed after that.
      const hungUp = new Promise<null>((resolve) => reply.raw.once('close', () => resolve(null)));
      try {
        const response = await Promise.race([transport.handleRequest(webRequest(request), { parsedBody: body }), hungUp]);
        if (!response) {
          // Nobody is left to answer: no access line follows, so this is the request's line.
          request.log.info({ method: 'POST', route: '/mcp', status: null, org_id: request.caller.orgId }, 'client closed the connection');
          reply.hijack();
          return;
        }
        reply.code(response.status);
        response.headers.forEach((value, name) => {
          reply.header(name, value);
        });
        const text = await response.text();
        return reply.send(text === '' ? undefined : text);
      } finally {
        await server.close();
      }
    });
  };
}

/** The request as the web-standard transport reads it: the headers it checks, no credentials, no body (it gets the parsed one). */
function webRequest(request: FastifyRequest): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || WITHHELD_HEADERS.has(name)) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return new Request(new URL(request.url, 'http://localhost'), { method: request.method, headers });
}

function describe(body: unknown): string {
  if (typeof body !== 'object' || body === null) return 'other';
  const { method, params } = body as { method?: unknown; params?: { name?: unknown } };
  if (method === undefined) return 'response';
  if (typeof method !== 'string' || !LOGGED_METHODS.has(method)) return 'other';
  if (method !== 'tools/call') return method;
  const tool = params?.name;
  return `tools/call ${tool === LIST_SECRETS || tool === FILL_SECRET_AT ? tool : 'unknown'}`;
}
