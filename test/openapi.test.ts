// /openapi.json as a client generator reads it: valid OpenAPI 3.1, the platform's names (operationIds,
// component schemas, tag) so that a client generated from Sesame's document matches one generated from
// the platform's, every status a route can answer declared, and every answer the server actually gives
// (successes, refusals, validation errors, outages, rate limits) valid against the document.
import { createServer } from 'node:net';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRUSTED_GATEWAY_ACK } from '../src/config.js';
import { OP_VAULT, OTHER_OP_VAULT } from './helpers/fixture.js';
import { startTestServer, type TestResponse, type TestServer } from './helpers/server.js';
import { createBody, MISSING_ID, uniqueName } from './helpers/vaults.js';

/** The platform's operationIds (FastAPI's defaults for its handlers), by method and path. */
const PLATFORM_OPERATIONS: Record<string, string> = {
  'POST /api/v2/vaults': 'create_vault_api_v2_vaults_post',
  'GET /api/v2/vaults': 'list_vaults_api_v2_vaults_get',
  'GET /api/v2/vaults/{vault_id}': 'get_vault_api_v2_vaults__vault_id__get',
  'PATCH /api/v2/vaults/{vault_id}': 'update_vault_api_v2_vaults__vault_id__patch',
  'DELETE /api/v2/vaults/{vault_id}': 'delete_vault_api_v2_vaults__vault_id__delete',
  'PUT /api/v2/vaults/{vault_id}/token': 'rotate_vault_token_api_v2_vaults__vault_id__token_put',
  'GET /api/v2/vaults/{vault_id}/health': 'vault_health_api_v2_vaults__vault_id__health_get',
};

/** Request and success schemas of the platform's operations, by component name. */
const PLATFORM_SCHEMAS: Record<string, { body?: string; success: [string, string | null] }> = {
  'POST /api/v2/vaults': { body: 'VaultCreateRequest', success: ['201', 'VaultConfigRead'] },
  'GET /api/v2/vaults': { success: ['200', 'VaultConfigList'] },
  'GET /api/v2/vaults/{vault_id}': { success: ['200', 'VaultConfigRead'] },
  'PATCH /api/v2/vaults/{vault_id}': { body: 'VaultUpdateRequest', success: ['200', 'VaultConfigRead'] },
  'DELETE /api/v2/vaults/{vault_id}': { success: ['204', null] },
  'PUT /api/v2/vaults/{vault_id}/token': { body: 'VaultTokenRotateRequest', success: ['204', null] },
  'GET /api/v2/vaults/{vault_id}/health': { success: ['200', 'VaultHealth'] },
};

const COMPONENTS = [
  'VaultCreateRequest',
  'VaultUpdateRequest',
  'VaultTokenRotateRequest',
  'VaultConfigRead',
  'VaultConfigList',
  'VaultHealth',
  'OnePasswordConfig',
  'HTTPValidationError',
  'ValidationError',
];

const RATE_LIMIT = 100;

interface Operation {
  operationId?: string;
  tags?: string[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
// biome-ignore lint/suspicious/noExplicitAny: the document is read as JSON
type Document = any;

let t: TestServer;
let gateway: TestServer;
let doc: Document;
/** Every answer the server gave in this file, with the operation it belongs to. */
const answers: { operation: string; response: TestResponse }[] = [];

async function call(
  server: TestServer,
  method: string,
  template: string,
  path: string,
  options: Parameters<TestServer['request']>[2] = {},
): Promise<TestResponse> {
  const response = await server.request(method, path, options);
  answers.push({ operation: `${method} ${template}`, response });
  return response;
}

function operations(): [string, Operation][] {
  return Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => [`${method.toUpperCase()} ${path}`, operation] as [string, Operation]),
  );
}

function operation(name: string): Operation {
  const [method = '', path = ''] = name.split(' ');
  const found = doc.paths[path]?.[method.toLowerCase()];
  if (!found) throw new Error(`${name} is not in the document`);
  return found;
}

beforeAll(async () => {
  t = await startTestServer({ dialect: 'sqlite', env: { SESAME_RATE_LIMIT: String(RATE_LIMIT) } });
  gateway = await startTestServer({
    dialect: 'sqlite',
    env: { SESAME_AUTH_MODE: 'trusted-gateway', SESAME_TRUSTED_GATEWAY_ACK: TRUSTED_GATEWAY_ACK },
  });
  doc = (await t.request('GET', '/openapi.json')).body;
});

afterAll(async () => {
  await t?.close();
  await gateway?.close();
});

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(structuredClone(doc));
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("uses the platform's operationIds, tag and component schemas, by $ref", () => {
    for (const [name, id] of Object.entries(PLATFORM_OPERATIONS)) {
      const op = operation(name);
      expect(op.operationId, name).toBe(id);
      expect(op.tags, name).toEqual(['Vaults']);
      const { body, success } = PLATFORM_SCHEMAS[name] ?? { success: ['', null] };
      if (body) expect(op.requestBody?.content['application/json']?.schema, name).toEqual({ $ref: `#/components/schemas/${body}` });
      else expect(op.requestBody, name).toBeUndefined();
      const [status, schema] = success;
      const answer = op.responses[status];
      expect(answer, name).toBeDefined();
      if (schema) expect(answer?.content?.['application/json']?.schema, name).toEqual({ $ref: `#/components/schemas/${schema}` });
      else expect(answer?.content, name).toBeUndefined();
      expect(op.responses['422']?.content?.['application/json']?.schema, name).toEqual({
        $ref: '#/components/schemas/HTTPValidationError',
      });
    }
    for (const component of COMPONENTS) expect(doc.components.schemas[component], component).toBeDefined();
    // No anonymous definitions: every schema a generator names has the name the platform gives it.
    expect(Object.keys(doc.components.schemas).filter((name) => name.startsWith('def-'))).toEqual([]);
    expect(doc.components.schemas.ValidationError.required).toEqual(['loc', 'msg', 'type']);
    expect(doc.components.schemas.VaultConfigRead.properties.provider_config).toEqual({ $ref: '#/components/schemas/OnePasswordConfig' });
    // PATCH accepts null for either field, as the platform's schema does; no token property is offered.
    const update = doc.components.schemas.VaultUpdateRequest;
    expect(update.properties.name.anyOf.map((s: { type?: string }) => s.type)).toEqual(['string', 'null']);
    expect(update.properties.provider_config.anyOf).toEqual([{ $ref: '#/components/schemas/OnePasswordConfig' }, { type: 'null' }]);
    expect(Object.keys(update.properties)).toEqual(['name', 'provider_config']);
  });

  it("names Sesame's own operations in the same style, each once", () => {
    const ids = operations().map(([name, op]) => [name, op.operationId] as const);
    for (const [name, id] of ids) {
      const [method = '', path = ''] = name.split(' ');
      // FastAPI: <handler>_<path with non-word characters as _>_<method>
      const suffix = `${path.replace(/\W/g, '_')}_${method.toLowerCase()}`;
      expect(id, name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(id?.endsWith(suffix), `${name}: ${id}`).toBe(true);
      expect(id?.length, name).toBeGreaterThan(suffix.length);
    }
    expect(new Set(ids.map(([, id]) => id)).size).toBe(ids.length);
    expect(Object.fromEntries(ids)).toMatchObject({
      'POST /api/v2/vaults/{vault_id}/grants': 'create_grant_api_v2_vaults__vault_id__grants_post',
      'GET /api/v2/vaults/{vault_id}/grants': 'list_grants_api_v2_vaults__vault_id__grants_get',
      'DELETE /api/v2/vaults/{vault_id}/grants/{grant_id}': 'revoke_grant_api_v2_vaults__vault_id__grants__grant_id__delete',
      'GET /api/v2/vaults/{vault_id}/events': 'list_vault_events_api_v2_vaults__vault_id__events_get',
      'POST /api/v2/vaults/{vault_id}/list-secrets': 'list_secrets_api_v2_vaults__vault_id__list_secrets_post',
      'POST /api/v2/vaults/{vault_id}/fill': 'fill_secret_api_v2_vaults__vault_id__fill_post',
    });
  });

  it('declares every status each route can answer', () => {
    expect(operation('POST /mcp').operationId).toBe('mcp_mcp_post');
    expect(Object.keys(operation('POST /mcp').responses)).toEqual(['200', '202', '400', '401', '403', '406', '413', '415', '503']);
    for (const [name, op] of operations().filter(([name]) => name.includes(' /api/v2/'))) {
      const statuses = Object.keys(op.responses);
      const [method = '', path = ''] = name.split(' ');
      const expected = ['400', '401', '422', '429', '503'];
      if (path.includes('{vault_id}')) expected.push('404');
      if (['POST', 'PUT', 'PATCH'].includes(method)) expected.push('413', '415');
      if (['POST /api/v2/vaults', 'PATCH /api/v2/vaults/{vault_id}', 'PUT /api/v2/vaults/{vault_id}/token'].includes(name)) {
        expected.push('409');
      }
      for (const status of expected) expect(statuses, `${name} ${status}`).toContain(status);
    }
  });
});

describe('every answer validates against the document', () => {
  it('gives each answer a declared status and a body of the declared schema', async () => {
    const { key } = await t.newOrg();
    const V = '/api/v2/vaults';
    const VI = `${V}/{vault_id}`;
    const json = { 'content-type': 'application/json' };

    // Create: 201, 409, 422 (shape, JSON, token shape, provider refusal, idempotency reuse), 401, 413, 415, 503.
    const token = t.fixture.token([OP_VAULT]);
    const name = uniqueName();
    const created = await call(t, 'POST', V, V, { key, body: createBody(name, token), headers: { 'idempotency-key': 'k1' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`${V}/${created.body.id}`);
    const id = created.body.id as string;
    expect((await call(t, 'POST', V, V, { key, body: createBody(name, t.fixture.token()) })).status).toBe(409);
    expect((await call(t, 'POST', V, V, { key, body: { name: '', provider_config: 'x' } })).status).toBe(422);
    expect((await call(t, 'POST', V, V, { key, rawBody: '{"name": "x",', headers: json })).status).toBe(422);
    expect((await call(t, 'POST', V, V, { key, body: createBody(uniqueName(), 'not-a-token') })).status).toBe(422);
    expect((await call(t, 'POST', V, V, { key, body: createBody(uniqueName(), t.fixture.token([OTHER_OP_VAULT])) })).status).toBe(422);
    const reused = await call(t, 'POST', V, V, {
      key,
      body: createBody(uniqueName(), t.fixture.token()),
      headers: { 'idempotency-key': 'k1' },
    });
    expect(reused.status).toBe(422);
    expect((await call(t, 'POST', V, V, { body: createBody('x', token) })).status).toBe(401);
    expect((await call(t, 'POST', V, V, { key, rawBody: JSON.stringify({ name: 'x'.repeat(70_000) }), headers: json })).status).toBe(413);
    expect((await call(t, 'POST', V, V, { key, rawBody: 'name=x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);

    // List, retrieve, update (null included), health.
    expect((await call(t, 'GET', V, `${V}?limit=5`, { key })).status).toBe(200);
    expect((await call(t, 'GET', V, `${V}?limit=0&offset=x`, { key })).status).toBe(422);
    expect((await call(t, 'GET', VI, `${V}/${id}`, { key })).status).toBe(200);
    expect((await call(t, 'GET', VI, `${V}/${MISSING_ID}`, { key })).status).toBe(404);
    expect((await call(t, 'GET', VI, `${V}/not-a-uuid`, { key })).status).toBe(422);
    expect((await call(t, 'PATCH', VI, `${V}/${id}`, { key, body: { name: null, provider_config: null } })).status).toBe(200);
    expect((await call(t, 'PATCH', VI, `${V}/${id}`, { key, body: { name: uniqueName() } })).status).toBe(200);
    expect((await call(t, 'PATCH', VI, `${V}/${id}`, { key, body: { token: 'x' } })).status).toBe(422);
    expect((await call(t, 'PATCH', VI, `${V}/${MISSING_ID}`, { key, body: {} })).status).toBe(404);
    const other = await call(t, 'POST', V, V, { key, body: createBody(uniqueName(), t.fixture.token()) });
    expect((await call(t, 'PATCH', VI, `${V}/${id}`, { key, body: { name: other.body.name } })).status).toBe(409);
    expect((await call(t, 'GET', `${VI}/health`, `${V}/${id}/health`, { key })).body).toEqual({ ok: true, error: null });

    // Rotate: 204, 422 at the token, 404.
    expect((await call(t, 'PUT', `${VI}/token`, `${V}/${id}/token`, { key, body: { token: t.fixture.token() } })).status).toBe(204);
    const refused = await call(t, 'PUT', `${VI}/token`, `${V}/${id}/token`, { key, body: { token: t.fixture.token([OTHER_OP_VAULT]) } });
    expect(refused.body.detail[0].loc).toEqual(['body', 'token']);
    expect((await call(t, 'PUT', `${VI}/token`, `${V}/${MISSING_ID}/token`, { key, body: { token } })).status).toBe(404);

    // 1Password unreachable: create and rotate answer 503; health answers 200 with the reason.
    t.fixture.setFaults({ unavailable: true });
    expect((await call(t, 'POST', V, V, { key, body: createBody(uniqueName(), t.fixture.token()) })).status).toBe(503);
    expect((await call(t, 'PUT', `${VI}/token`, `${V}/${id}/token`, { key, body: { token: t.fixture.token() } })).status).toBe(503);
    expect((await call(t, 'PATCH', VI, `${V}/${id}`, { key, body: { provider_config: { op_vault_id: OTHER_OP_VAULT } } })).status).toBe(
      503,
    );
    expect((await call(t, 'GET', `${VI}/health`, `${V}/${id}/health`, { key })).body.ok).toBe(false);
    t.fixture.setFaults({});

    // Grants, the audit trail, and the agent routes (no browser listens: 502).
    const G = `${VI}/grants`;
    const grant = await call(t, 'POST', G, `${V}/${id}/grants`, { key, body: { expires_in: 600, allowed_domains: ['example.com'] } });
    expect(grant.status).toBe(201);
    expect((await call(t, 'POST', G, `${V}/${id}/grants`, { key, body: { expires_in: 1, extra: true } })).status).toBe(422);
    expect((await call(t, 'POST', G, `${V}/${MISSING_ID}/grants`, { key, body: { expires_in: 600 } })).status).toBe(404);
    expect((await call(t, 'GET', G, `${V}/${id}/grants`, { key })).status).toBe(200);
    expect((await call(t, 'GET', `${VI}/events`, `${V}/${id}/events?limit=3`, { key })).status).toBe(200);
    expect((await call(t, 'GET', `${VI}/events`, `${V}/${MISSING_ID}/events`, { key })).status).toBe(404);
    const closedPort = await unusedPort();
    const cdp = { cdp_endpoint: `http://127.0.0.1:${closedPort}` };
    const agent = { key: grant.body.grant as string };
    expect((await call(t, 'POST', `${VI}/list-secrets`, `${V}/${id}/list-secrets`, { ...agent, body: cdp })).status).toBe(502);
    expect(
      (await call(t, 'POST', `${VI}/fill`, `${V}/${id}/fill`, { ...agent, body: { ...cdp, x: 1, y: 1, field: 'password' } })).status,
    ).toBe(502);
    expect(
      (await call(t, 'POST', `${VI}/list-secrets`, `${V}/${id}/list-secrets`, { key, body: { cdp_endpoint: 'http://10.1.2.3:9222' } }))
        .status,
    ).toBe(422);
    expect((await call(t, 'DELETE', `${G}/{grant_id}`, `${V}/${id}/grants/${grant.body.id}`, { key })).status).toBe(204);
    expect((await call(t, 'DELETE', `${G}/{grant_id}`, `${V}/${id}/grants/${MISSING_ID}`, { key })).status).toBe(404);

    // Delete last, then 404.
    expect((await call(t, 'DELETE', VI, `${V}/${id}`, { key })).status).toBe(204);
    expect((await call(t, 'DELETE', VI, `${V}/${id}`, { key })).status).toBe(404);

    // Trusted-gateway mode: an X-User-Org that is not a UUID is a 400.
    expect((await call(gateway, 'GET', V, V, { headers: { 'x-user-org': 'acme' } })).status).toBe(400);

    // MCP: a tool list, a notification, a parse error, no grant, a web page, a wrong Accept.
    const mcpGrant = await call(t, 'POST', G, `${V}/${other.body.id}/grants`, { key, body: { expires_in: 600 } });
    const mcpHeaders = { authorization: `Bearer ${mcpGrant.body.grant}`, accept: 'application/json, text/event-stream' };
    const mcp = (headers: Record<string, string>, body?: unknown, rawBody?: string) =>
      call(t, 'POST', '/mcp', '/mcp', {
        headers: { ...mcpHeaders, ...(rawBody === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body,
        rawBody,
      });
    const toolsList = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
    expect((await mcp({}, toolsList)).status).toBe(200);
    expect((await mcp({}, { jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
    expect((await mcp({}, undefined, '{"jsonrpc":')).status).toBe(400);
    expect((await mcp({ authorization: 'Bearer nonsense' }, toolsList)).status).toBe(401);
    expect((await mcp({ origin: 'http://evil.example' }, toolsList)).status).toBe(403);
    expect((await mcp({ accept: 'application/json' }, toolsList)).status).toBe(406);

    // A credential past its limit: 429 with Retry-After.
    const { key: busy } = await t.newOrg();
    let limited: TestResponse | undefined;
    for (let i = 0; i <= RATE_LIMIT && !limited; i++) {
      const response = await call(t, 'GET', V, `${V}?limit=1`, { key: busy });
      if (response.status === 429) limited = response;
    }
    expect(limited?.status).toBe(429);

    validateAll();
  });
});

/** Every recorded answer: a declared status, the declared body (or none), the headers its status promises. */
function validateAll(): void {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  ajv.addFormat(
    'date-time',
    (value: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(value) && !Number.isNaN(Date.parse(value)),
  );
  ajv.addSchema({ $id: 'sesame-openapi', components: doc.components });
  // The validator bites: a body of another shape fails.
  const vaultSchema = ajv.compile({ $ref: 'sesame-openapi#/components/schemas/VaultConfigRead' });
  expect(vaultSchema({ id: MISSING_ID, name: 'x' })).toBe(false);
  expect(ajv.compile({ $ref: 'sesame-openapi#/components/schemas/HTTPValidationError' })({ detail: 'a sentence' })).toBe(false);
  const statusesSeen = new Map<string, Set<string>>();
  for (const { operation: name, response } of answers) {
    const op = operation(name);
    const status = String(response.status);
    statusesSeen.set(name, (statusesSeen.get(name) ?? new Set()).add(status));
    const declared = op.responses[status];
    expect(declared, `${name} answered ${status}, which the document does not declare: ${response.text}`).toBeDefined();
    const schema = declared?.content?.['application/json']?.schema;
    if (!schema) {
      expect(response.text, `${name} ${status} has no body`).toBe('');
      continue;
    }
    expect(response.headers.get('content-type'), `${name} ${status}`).toMatch(/^application\/json/);
    const validate = ajv.compile(rebase(schema));
    expect(validate(response.body), `${name} ${status} ${response.text}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    if (status === '401') expect(response.headers.get('www-authenticate')).toBe('Bearer');
    if (status === '429' || status === '503') expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
  }
  // Each platform operation was seen answering its success, and the error statuses were all met.
  for (const [name, { success }] of Object.entries(PLATFORM_SCHEMAS)) expect(statusesSeen.get(name), name).toContain(success[0]);
  const all = new Set([...statusesSeen.values()].flatMap((set) => [...set]));
  for (const status of ['202', '400', '401', '403', '404', '406', '409', '413', '415', '422', '429', '502', '503']) {
    expect(all, status).toContain(status);
  }
}

/** The document's `#/components/...` references, pointed at the copy of the components added to Ajv. */
function rebase(schema: unknown): object {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"sesame-openapi#/components/'));
}

function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
