// Generated hostile HTTP against a real `sesame serve` process, per database: malformed bodies
// (random JSON, wrong types, lone surrogates, NUL, huge numbers, deep nesting, duplicate keys,
// truncated or non-JSON text, invalid UTF-8), wrong content types, bad UUIDs, bad query strings,
// odd headers and methods, on every route the OpenAPI document lists. Whatever arrives: no 5xx, the
// process stays up, every 4xx has its documented shape, and no token or key is echoed.
//
// CI runs a small count; the full run is `npm run fuzz` (SESAME_FUZZ_RUNS=20000 requests on SQLite,
// a quarter of that on PostgreSQL). SESAME_FUZZ_SEED replays a run.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, type Instance, startCluster } from './helpers/cluster.js';
import { OP_VAULT } from './helpers/fixture.js';
import { POSTGRES_AVAILABLE } from './helpers/postgres.js';
import { type RawRequest, type RawResponse, sendRaw } from './helpers/raw-http.js';
import { createBody, MISSING_ID, uniqueName, VAULTS } from './helpers/vaults.js';

const SQLITE_REQUESTS = Number(process.env.SESAME_FUZZ_RUNS ?? 1200);
const POSTGRES_REQUESTS = Math.ceil(SQLITE_REQUESTS / 4);
const SEED = process.env.SESAME_FUZZ_SEED === undefined ? undefined : Number(process.env.SESAME_FUZZ_SEED);
// Requests per generated case, sent at once.
const BATCH = 8;

interface Target {
  method: string;
  path: string; // OpenAPI form: /api/v2/vaults/{vault_id}
  bodyKeys: string[];
  queryKeys: string[];
}

interface Context {
  key: string;
  vaultIds: string[];
  grantIds: string[];
  tokens: string[]; // valid fixture tokens: never to appear in an answer
  targets: Target[];
}

const TEST_TIMEOUT_MS = 3 * 60_000 + SQLITE_REQUESTS * 20;

describe.each([
  ['sqlite', SQLITE_REQUESTS],
  ['postgres', POSTGRES_REQUESTS],
] as const)('fuzz (%s)', (dialect, requests) => {
  // Without a PostgreSQL server this half is reported as skipped (test/global-setup.ts said so).
  if (dialect === 'postgres' && !POSTGRES_AVAILABLE) {
    it.skip('needs PostgreSQL', () => {});
    return;
  }
  let cluster: Cluster;
  let server: Instance;
  let ctx: Context;

  beforeAll(async () => {
    // The limiter stays on (its hook runs) with a budget the run cannot use up.
    cluster = await startCluster({ instances: 1, dialect, env: { SESAME_RATE_LIMIT: '100000000', LOG_LEVEL: 'info' } });
    server = cluster.instances[0] as Instance;
    const { key } = await cluster.newOrg();
    const tokens = [cluster.fixture.token(), cluster.fixture.token()];
    const vaultIds: string[] = [];
    for (let i = 0; i < 3; i++) vaultIds.push(await createFuzzVault(key, tokens[0] as string));
    const grantIds: string[] = [];
    const grant = await cluster.request(server, 'POST', `${VAULTS}/${vaultIds[0]}/grants`, { key, body: { expires_in: 3600 } });
    if (grant.status === 201) grantIds.push(grant.body.id);
    const openapi = await cluster.request(server, 'GET', '/openapi.json');
    expect(openapi.status).toBe(200);
    ctx = { key, vaultIds, grantIds, tokens, targets: targetsOf(openapi.body) };
  }, 60_000);
  afterAll(() => cluster?.close());

  async function createFuzzVault(key: string, token: string): Promise<string> {
    const created = await cluster.request(server, 'POST', VAULTS, { key, body: createBody(uniqueName('fuzz'), token) });
    expect(created.status, created.text).toBe(201);
    return created.body.id;
  }

  /** Keeps the pool of existing vaults full, so later requests still reach past the 404 of a deleted one. */
  async function replaceDeleted(batch: RawRequest[], responses: (RawResponse | { error: string } | undefined)[]): Promise<void> {
    for (const [i, request] of batch.entries()) {
      const response = responses[i];
      if (request.method !== 'DELETE' || !response || !('status' in response) || response.status !== 204) continue;
      const index = ctx.vaultIds.findIndex((id) => request.target.startsWith(`${VAULTS}/${id}`) && !request.target.includes('/grants/'));
      if (index >= 0) ctx.vaultIds[index] = await createFuzzVault(ctx.key, ctx.tokens[0] as string);
    }
  }

  it(
    `${requests} generated malformed requests: no 5xx, no exit, documented 4xx shapes, nothing echoed`,
    async () => {
      expect(ctx.targets.length).toBeGreaterThanOrEqual(7);
      const statuses = new Map<number, number>();
      // Every problem is collected (not thrown at the first), so one run shows them all, grouped.
      const problems = new Map<string, { count: number; example: string }>();
      await fc.assert(
        fc.asyncProperty(fc.array(requestArbitrary(ctx), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
          const responses = await Promise.all(
            batch.map((r) => sendRaw(server.url, r).catch((err: Error) => ({ error: err.message }) as const)),
          );
          responses.forEach((response, i) => {
            const request = batch[i] as RawRequest;
            const problem =
              response && 'error' in response ? `client error: ${response.error.slice(0, 80)}` : problemWith(request, response, ctx);
            if (problem) {
              const entry = problems.get(problem) ?? { count: 0, example: describeExchange(request, response) };
              entry.count++;
              problems.set(problem, entry);
            }
            if (response && 'status' in response) statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          });
          await replaceDeleted(batch, responses);
          return server.alive();
        }),
        { numRuns: Math.ceil(requests / BATCH), seed: SEED, endOnFailure: true },
      );
      expect([...problems].map(([problem, { count, example }]) => `${problem} (x${count}), e.g. ${example}`)).toEqual([]);
      // Up, ready, and still serving real work.
      expect(server.alive()).toBe(true);
      expect((await cluster.request(server, 'GET', '/readyz')).status).toBe(200);
      const list = await cluster.request(server, 'GET', VAULTS, { key: ctx.key });
      expect(list.status).toBe(200);
      // The logs hold no token or key either, and no unhandled error.
      const logs = server.stderr();
      for (const secret of [...ctx.tokens, ctx.key]) expect(logs.includes(secret)).toBe(false);
      expect(logs).not.toMatch(/unhandled error/);
      // The run reached past authentication and validation, not only the front door.
      const seen = Object.fromEntries(statuses);
      console.info(`fuzz (${dialect}): ${requests} requests, answers by status ${JSON.stringify(seen)}`);
      for (const status of [200, 401, 404, 422]) expect(seen[status], JSON.stringify(seen)).toBeGreaterThan(0);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('answers Node gives by itself', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ instances: 1, dialect: 'sqlite' });
  }, 60_000);
  afterAll(() => cluster?.close());

  it('an Expect other than 100-continue: 417 in the {"detail"} shape', async () => {
    const response = await sendRaw((cluster.instances[0] as Instance).url, { method: 'GET', target: VAULTS, headers: [['Expect', 'x-y']] });
    expect(response?.status).toBe(417);
    expect(response?.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(response?.body.toString() ?? '')).toEqual({ detail: 'Only "Expect: 100-continue" is supported' });
  });
});

/** The routes and their body and query field names, from the served OpenAPI document. */
function targetsOf(openapi: {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, unknown> };
}): Target[] {
  const targets: Target[] = [];
  const components = openapi.components?.schemas ?? {};
  // /mcp answers in JSON-RPC's shapes, not the API's: test/mcp.test.ts sends it malformed messages of its own.
  for (const [path, operations] of Object.entries(openapi.paths).filter(([path]) => path.startsWith('/api/v2/'))) {
    for (const [method, operation] of Object.entries(operations)) {
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      targets.push({
        method: method.toUpperCase(),
        path,
        bodyKeys: propertyNames(schema, components),
        queryKeys: (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      });
    }
  }
  return targets;
}

interface OpenApiOperation {
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  parameters?: { in: string; name: string }[];
}

/** Every property name a body schema mentions, following `$ref`s to the document's components. */
function propertyNames(schema: unknown, components: Record<string, unknown>, out = new Set<string>(), seen = new Set<unknown>()): string[] {
  if (schema && typeof schema === 'object' && !seen.has(schema)) {
    seen.add(schema);
    const $ref = (schema as { $ref?: string }).$ref;
    if ($ref) propertyNames(components[$ref.replace('#/components/schemas/', '')], components, out, seen);
    const properties = (schema as { properties?: Record<string, unknown> }).properties ?? {};
    for (const [name, child] of Object.entries(properties)) {
      out.add(name);
      propertyNames(child, components, out, seen);
    }
    for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
      for (const child of (schema as Record<string, unknown[]>)[key] ?? []) propertyNames(child, components, out, seen);
    }
  }
  return [...out];
}

// ---------- what a 4xx must look like ----------

function describeExchange(request: RawRequest, response: RawResponse | { error: string } | undefined): string {
  const answer = !response
    ? 'no answer'
    : 'error' in response
      ? response.error
      : `${response.status} ${response.body.toString('utf8').slice(0, 300)}`;
  return `${request.method} ${request.target.slice(0, 200)} headers=${JSON.stringify(request.headers).slice(0, 300)} chunked=${request.chunked} body=${JSON.stringify(request.body?.toString('latin1').slice(0, 200))} => ${answer}`;
}

/** What is wrong with the answer to `request`, if anything. */
function problemWith(request: RawRequest, response: RawResponse | undefined, ctx: Context): string | undefined {
  // Node closes a CONNECT it has no handler for without an answer; every other request gets one.
  if (!response) return request.method === 'CONNECT' ? undefined : 'no answer';
  const text = response.body.toString('utf8');
  if (response.status >= 500) return `${response.status}`;
  if ([...ctx.tokens, ctx.key].some((secret) => text.includes(secret))) return 'a token or key was echoed';
  if (response.status < 400 || request.method === 'HEAD') return undefined;

  if (!/^application\/json/.test(response.headers['content-type'] ?? '')) return `${response.status} without a JSON content type`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `${response.status} body is not JSON`;
  }
  if (response.status === 422) {
    if (!isValidationList(body)) return '422 body is not the validation list';
  } else {
    const detail = (body as { detail?: unknown })?.detail;
    if (Object.keys(body as object).length !== 1 || typeof detail !== 'string' || detail === '')
      return `${response.status} body is not {"detail": string}`;
  }
  if (response.status === 401 && response.headers['www-authenticate'] !== 'Bearer') return '401 without WWW-Authenticate: Bearer';
  if (response.status === 405 && !response.headers.allow) return '405 without Allow';
  if ((response.status === 429 || response.status === 503) && !/^\d+$/.test(response.headers['retry-after'] ?? '')) {
    return `${response.status} without Retry-After`;
  }
  return undefined;
}

function isValidationList(body: unknown): boolean {
  const detail = (body as { detail?: unknown })?.detail;
  if (!Array.isArray(detail) || detail.length === 0 || Object.keys(body as object).length !== 1) return false;
  return detail.every(
    (issue) =>
      issue !== null &&
      typeof issue === 'object' &&
      Object.keys(issue).every((k) => ['type', 'loc', 'msg', 'input', 'ctx'].includes(k)) &&
      typeof issue.type === 'string' &&
      typeof issue.msg === 'string' &&
      'input' in issue &&
      Array.isArray(issue.loc) &&
      ['body', 'query', 'path', 'header'].includes(issue.loc[0]) &&
      issue.loc.every((part: unknown) => typeof part === 'string' || Number.isInteger(part)) &&
      (issue.ctx === undefined || (typeof issue.ctx === 'object' && issue.ctx !== null && !Array.isArray(issue.ctx))),
  );
}

// ---------- generators ----------

const METHODS = [
  'GET',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  'PROPFIND',
  'SEARCH',
  'QUERY',
  'get',
  'FOO',
  'G\tET',
];

/** Percent-encodes every UTF-8 byte (a lone surrogate becomes U+FFFD first, as any client would send it). */
const percentEncode = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

/** Any code point, lone surrogates included, and NUL and other control characters. */
const nastyChar = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('\u0000', '\u001f', '\u007f', '\u2028', '\ufeff', '\uffff', '"', '\\', '/', '%', '?', '#', '&', '='),
);
const nastyString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: nastyChar, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer({ min: 256, max: 70_000 }).map((n) => 'x'.repeat(n)) },
);

function badUuid(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.uuid().map((u) => u.toUpperCase()),
    fc.uuid().map((u) => u.replace(/-/g, '')),
    fc.uuid().map((u) => `urn:uuid:${u}`),
    fc.uuid().map((u) => `{${u}}`),
    fc.uuid().map((u) => u.slice(0, -1)),
    fc.uuid().map((u) => `${u}0`),
    fc.uuid().map((u) => u.replace(/-/g, '--')),
    fc.constant('00000000-0000-0000-0000-000000000000'),
    fc.constant(MISSING_ID),
    fc.string({ unit: 'binary', maxLength: 40 }).map(percentEncode),
    fc.constantFrom(
      '..',
      '.',
      '%2e%2e',
      '%00',
      '%',
      '%zz',
      '%C0%80',
      '%ED%A0%80',
      '%FF',
      'null',
      'undefined',
      '-1',
      '1e400',
      '__proto__',
      'constructor',
    ),
    fc.integer({ min: 100, max: 12_000 }).map((n) => 'a'.repeat(n)),
  );
}

function pathArbitrary(ctx: Context, template: string): fc.Arbitrary<string> {
  const parts = template.split(/(\{[^}]+\})/);
  return fc
    .tuple(
      ...parts.map((part) => {
        if (!part.startsWith('{')) return fc.constant(part);
        // Picked when generated, from the current pools: a deleted vault is replaced (see replaceDeleted).
        const pick = (pool: string[]) => fc.nat().map((i) => pool[i % pool.length] ?? MISSING_ID);
        return fc.oneof(
          { weight: 4, arbitrary: pick(part === '{grant_id}' ? ctx.grantIds : ctx.vaultIds) },
          { weight: 1, arbitrary: fc.oneof(pick(ctx.vaultIds), fc.constant(MISSING_ID)) },
          { weight: 3, arbitrary: badUuid() },
        );
      }),
      fc.oneof({ weight: 12, arbitrary: fc.constant('') }, fc.constantFrom('/', '//', '/extra', '%2F', ';x=1', '/.')),
    )
    .map((pieces) => pieces.join(''));
}

const queryValue = fc.oneof(
  fc.integer({ min: -5, max: 2000 }).map(String),
  fc.constantFrom(
    '',
    '0',
    '1',
    '50',
    '1000',
    '1001',
    '-0',
    '+5',
    ' 5 ',
    '1e1',
    '1e400',
    '0x10',
    '1.5',
    'NaN',
    'Infinity',
    '9007199254740993',
    '99999999999999999999999',
    'null',
    '[]',
    '%',
    '%zz',
    '%00',
    '%ED%A0%80',
    '%FF%FE',
  ),
  nastyString.map(percentEncode),
  fc.string({ maxLength: 20 }),
);

function queryArbitrary(keys: string[]): fc.Arbitrary<string> {
  const key = fc.oneof(
    fc.constantFrom('limit', 'offset', ...keys),
    fc.string({ maxLength: 8 }).map(percentEncode),
    fc.constantFrom('__proto__', 'limit[]', 'limit[0]', 'a.b', '%00'),
  );
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant('') },
    {
      weight: 6,
      arbitrary: fc.array(fc.tuple(key, queryValue), { maxLength: 6 }).map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
    },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 15_000 }).map((n) => `?limit=${'9'.repeat(n)}`) },
    { weight: 1, arbitrary: fc.integer({ min: 2, max: 400 }).map((n) => `?${'limit=1&'.repeat(n)}offset=0`) },
    { weight: 1, arbitrary: fc.constantFrom('?', '??', '?&&&', '?=', '?limit', '?limit=', '#frag', '?limit=5#x', '?%') },
  );
}

/** JSON values of every kind, strings with any code point, and numbers no 64-bit integer holds. */
const jsonish: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.constantFrom(0, -0, 1e308, -1e308, 2 ** 53 + 1, 1e-320, 1.2345678901234568e29),
    nastyString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'token', 'name')), tie('value'), {
      maxKeys: 4,
    }),
  ),
})).value;

function structuredBody(keys: string[], tokens: string[]): fc.Arbitrary<string> {
  const fieldValue = fc.oneof(
    { weight: 3, arbitrary: jsonish },
    { weight: 1, arbitrary: fc.constantFrom(...tokens, `${tokens[0]}x`, 'ops_', 'ops_e30', ` ${tokens[0]} `) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        OP_VAULT,
        { op_vault_id: OP_VAULT },
        { op_vault_id: OP_VAULT, provider: 'onepassword' },
        { provider: 'other' },
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(60, 3600, 86_401, 59, ['example.com'], [''], ['*'], 'https://example.com/login', 'password', 'username'),
    },
    // Browser endpoints the server must refuse before connecting. (A loopback one it would try, and
    // answer 502 when nothing listens there: a dependency failure, not bad input, so none is sent.)
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'http://example.com:9222',
        'ws://10.0.0.1:9222/devtools/browser/x',
        'https://user:pass@example.com',
        'wss://*.example.com',
        'http://[fe80::1]:9222',
        'file:///etc/passwd',
        'javascript:alert(1)',
      ),
    },
  );
  return fc
    .dictionary(
      fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...keys, 'name', 'token', 'provider_config') }, fc.string({ maxLength: 10 })),
      fieldValue,
      {
        maxKeys: 6,
      },
    )
    .map((object) => JSON.stringify(object));
}

/** A body as raw bytes: structured, random JSON, or broken in the ways a parser must survive. */
function bodyArbitrary(keys: string[], tokens: string[]): fc.Arbitrary<Buffer | undefined> {
  const text = (a: fc.Arbitrary<string>) => a.map((s) => Buffer.from(s, 'utf8'));
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 8, arbitrary: text(structuredBody(keys, tokens)) },
    { weight: 3, arbitrary: text(fc.json({ maxDepth: 4 })) },
    { weight: 2, arbitrary: text(jsonish.map((v) => JSON.stringify(v) ?? 'null')) },
    // Deep nesting, up to what 64 KiB holds.
    {
      weight: 2,
      arbitrary: text(
        fc
          .tuple(fc.integer({ min: 50, max: 32_000 }), fc.constantFrom('array', 'object', 'open'))
          .map(([n, kind]) =>
            kind === 'array'
              ? `${'['.repeat(n)}${']'.repeat(n)}`
              : kind === 'object'
                ? `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`
                : '['.repeat(n),
          ),
      ),
    },
    // Duplicate keys, as raw JSON text.
    {
      weight: 2,
      arbitrary: text(
        fc
          .tuple(fc.constantFrom(...keys, 'name', 'token'), jsonish, jsonish, structuredBody(keys, tokens))
          .map(
            ([k, a, b, rest]) =>
              `{${JSON.stringify(k)}:${JSON.stringify(a) ?? 1},${JSON.stringify(k)}:${JSON.stringify(b) ?? 2},${rest.slice(1)}`,
          ),
      ),
    },
    // Truncated JSON.
    {
      weight: 2,
      arbitrary: text(
        fc.tuple(structuredBody(keys, tokens), fc.nat()).map(([s, cut]) => s.slice(0, s.length > 1 ? cut % (s.length - 1) : 0)),
      ),
    },
    // Huge and odd numbers written as JSON text no JavaScript value round-trips.
    {
      weight: 2,
      arbitrary: text(
        fc
          .tuple(
            fc.constantFrom(...keys, 'limit', 'max_fills', 'expires_in'),
            fc.constantFrom(
              '1e400',
              '-1e400',
              `1${'0'.repeat(400)}`,
              '1.0',
              '-0',
              '0.1e1',
              '1E2',
              '00',
              '-',
              '1.',
              '.5',
              'NaN',
              'Infinity',
              '0x10',
            ),
          )
          .map(([k, n]) => `{${JSON.stringify(k)}:${n}}`),
      ),
    },
    // Lone surrogate escapes and NUL inside strings.
    {
      weight: 2,
      arbitrary: text(
        fc
          .tuple(
            fc.constantFrom(...keys, 'name', 'token'),
            fc.constantFrom('\\ud800', '\\udfff', '\\ud800\\ud800', '\\u0000', 'a\\u0000b', '\\udc00x', '\\uDBFF\\uDFFF', '\\u'),
          )
          .map(([k, s]) => `{${JSON.stringify(k)}:"${s}","provider_config":{"op_vault_id":"${s}"}}`),
      ),
    },
    // Not JSON at all, and invalid UTF-8.
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        Buffer.from([0xff, 0xfe, 0x7b, 0x7d]),
        Buffer.from('{"name":"\xed\xa0\x80"}', 'latin1'),
        Buffer.from('{"name":"\xc0\x80"}', 'latin1'),
        Buffer.from('\ufeff{"name":"bom"}', 'utf8'),
        Buffer.from('name=x&token=y'),
        Buffer.from('--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--'),
        Buffer.from('<xml/>'),
        Buffer.from('   '),
        Buffer.from('null'),
        Buffer.from('"just a string"'),
        Buffer.from('[]'),
        Buffer.from('{}'),
      ),
    },
    // Larger than the 64 KiB limit.
    { weight: 1, arbitrary: fc.integer({ min: 64 * 1024 - 10, max: 200 * 1024 }).map((n) => Buffer.from(`{"name":"${'a'.repeat(n)}"}`)) },
  );
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json;',
  'APPLICATION/JSON',
  'application/vnd.api+json',
  'application/jsonx',
  'application/json, text/plain',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '*/*',
  '',
  'application/json; charset="',
  'application/\xe9json',
];

function headersArbitrary(ctx: Context): fc.Arbitrary<{ headers: [string, string][]; chunked: boolean }> {
  // Header values cannot hold CR or LF (that would be another header); any other byte goes.
  const latin1 = fc
    .string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 40 })
    .map((s) => s.replace(/[\r\n]/g, ''));
  const authorization = fc.oneof(
    { weight: 12, arbitrary: fc.constant([['Authorization', `Bearer ${ctx.key}`]] as [string, string][]) },
    { weight: 2, arbitrary: fc.constant([] as [string, string][]) },
    {
      weight: 4,
      arbitrary: fc
        .constantFrom(
          `Basic ${Buffer.from(`user:${ctx.key}`).toString('base64')}`,
          'Bearer',
          'Bearer ',
          `bearer ${ctx.key}`,
          `Bearer  ${ctx.key}  `,
          `Bearer ${ctx.key} extra`,
          `Bearer ${ctx.key.slice(0, -1)}`,
          `Bearer ${ctx.key}\t`,
          `Token ${ctx.key}`,
          `Bearer sesame_gr_${'A'.repeat(43)}`,
          `Bearer ${'x'.repeat(9000)}`,
          `Digest username="a", realm="b"`,
          `Bearer ${ctx.tokens[0]}`,
        )
        .map((v) => [['Authorization', v]] as [string, string][]),
    },
    { weight: 1, arbitrary: latin1.map((v) => [['Authorization', v]] as [string, string][]) },
    {
      weight: 1,
      arbitrary: fc.constant([
        ['Authorization', `Bearer ${ctx.key}`],
        ['Authorization', 'Bearer other'],
      ] as [string, string][]),
    },
  );
  const contentType = fc.oneof(
    { weight: 8, arbitrary: fc.constant([['Content-Type', 'application/json']] as [string, string][]) },
    { weight: 2, arbitrary: fc.constant([] as [string, string][]) },
    { weight: 4, arbitrary: fc.constantFrom(...CONTENT_TYPES).map((v) => [['Content-Type', v]] as [string, string][]) },
    {
      weight: 1,
      arbitrary: fc.constant([
        ['Content-Type', 'application/json'],
        ['Content-Type', 'text/plain'],
      ] as [string, string][]),
    },
  );
  const idempotency = fc.oneof(
    { weight: 8, arbitrary: fc.constant([] as [string, string][]) },
    {
      weight: 2,
      arbitrary: fc
        .string({ minLength: 1, maxLength: 40 })
        .map((v) => [['Idempotency-Key', v.replace(/[\r\n]/g, '')]] as [string, string][]),
    },
    { weight: 1, arbitrary: fc.integer({ min: 250, max: 12_000 }).map((n) => [['Idempotency-Key', 'k'.repeat(n)]] as [string, string][]) },
    { weight: 1, arbitrary: latin1.map((v) => [['Idempotency-Key', v]] as [string, string][]) },
    {
      weight: 1,
      arbitrary: fc.constant([
        ['Idempotency-Key', 'a'],
        ['Idempotency-Key', 'b'],
      ] as [string, string][]),
    },
    { weight: 1, arbitrary: fc.constant([['Idempotency-Key', '']] as [string, string][]) },
  );
  const extra = fc.oneof(
    { weight: 8, arbitrary: fc.constant([] as [string, string][]) },
    {
      weight: 3,
      arbitrary: fc
        .constantFrom<[string, string]>(
          ['X-User-Org', 'not-a-uuid'],
          ['X-User-Org', MISSING_ID],
          ['Accept', 'text/html'],
          ['Accept', '\xff'],
          ['Accept-Encoding', 'gzip, br'],
          ['Content-Encoding', 'gzip'],
          ['Content-Encoding', 'br'],
          ['Expect', '100-continue'],
          ['Expect', 'something-else'],
          ['X-Forwarded-For', '::1, 10.0.0.1'],
          ['Origin', 'null'],
          ['Cookie', 'a=b'],
          ['If-None-Match', '*'],
          ['Range', 'bytes=0-1'],
          ['__proto__', 'x'],
          ['X-Huge', 'h'.repeat(20_000)],
        )
        .map((h) => [h]),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/), latin1).map(([n, v]) => [[n, v]] as [string, string][]),
    },
  );
  return fc
    .tuple(authorization, contentType, idempotency, extra, fc.boolean(), fc.integer({ min: 0, max: 19 }))
    .map(([a, c, i, e, shuffle, chunked]) => {
      const headers = [...a, ...c, ...i, ...e];
      return { headers: shuffle ? headers.reverse() : headers, chunked: chunked === 0 };
    });
}

function requestArbitrary(ctx: Context): fc.Arbitrary<RawRequest> {
  const documented = fc.constantFrom(...ctx.targets).chain((target) =>
    fc.record({
      method: fc.oneof({ weight: 6, arbitrary: fc.constant(target.method) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
      target: fc.tuple(pathArbitrary(ctx, target.path), queryArbitrary(target.queryKeys)).map(([p, q]) => p + q),
      body: bodyArbitrary(target.bodyKeys, ctx.tokens),
    }),
  );
  const elsewhere = fc.record({
    method: fc.constantFrom(...METHODS),
    target: fc.oneof(
      fc.constantFrom(
        '/',
        '/healthz',
        '/readyz',
        '/metrics',
        '/openapi.json',
        '/api',
        '/api/v2',
        '/api/v2/',
        '/api/v3/vaults',
        '*',
        'http://example.com/api/v2/vaults',
        '/api/v2/vaults/../../etc/passwd',
        '/%',
        '/%zz',
        '/api/v2/vaults%2F',
        '//api//v2//vaults',
      ),
      fc.string({ unit: fc.constantFrom('a', '/', '%', '2', 'F', '.', '~', '-', '\u00e9'), maxLength: 30 }).map((s) => `/${s}`),
    ),
    body: bodyArbitrary(['name', 'token'], ctx.tokens),
  });
  return fc
    .tuple(fc.oneof({ weight: 9, arbitrary: documented }, { weight: 1, arbitrary: elsewhere }), headersArbitrary(ctx))
    .map(([r, h]) => ({ method: r.method, target: r.target, headers: h.headers, chunked: h.chunked, body: r.body }));
}
