// Request validation that reports every problem at once, in the FastAPI/Pydantic v2 shape the
// generated SDKs parse. Fastify's own validation stops at the first failing part (params before
// body), so the route schemas are compiled here and checked together in one preValidation step.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { FastifyInstance, FastifyRequest, FastifyServerOptions, RouteOptions } from 'fastify';
import { redactInput, redactLoc, TOKEN_MASK } from './redact.js';

/** One entry of the Pydantic-v2-shaped 422 list. */
export interface ValidationIssue {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

/** A request that does not fit its route's schemas: a 422 listing every problem found. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(readonly issues: ValidationIssue[]) {
    super(`${issues.length} validation error(s)`);
  }
}

type Part = 'path' | 'query' | 'header' | 'body';

interface RouteValidators {
  path?: ValidateFunction;
  query?: ValidateFunction;
  header?: ValidateFunction;
  body?: ValidateFunction;
}

/** Schema annotation: a readable message for a failed `pattern`. */
export const PATTERN_MESSAGE = 'x-pattern-message';
/**
 * Schema keyword on an object: properties that must not be sent at all, each with its message. Kept
 * out of `properties` so that the OpenAPI document (and clients generated from it) do not offer them.
 */
export const FORBIDDEN_PROPERTIES = 'x-forbidden-properties';
/** Schema annotation on a path parameter that must be a UUID (normalised to lower-case, hyphenated). */
export const UUID_PARAM = 'x-uuid';

/**
 * verbose: errors carry their schema, which holds the readable messages (x-…-message annotations).
 * Formats (uuid, date-time) describe answers and UUID parameters are checked by checkUuidParams, so
 * they are not validated. Defaults are filled in only where the route asks for them (query strings).
 */
function createAjv(useDefaults: boolean): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, coerceTypes: false, useDefaults, strict: true, validateFormats: false });
  ajv.addVocabulary([PATTERN_MESSAGE, UUID_PARAM]);
  ajv.addKeyword({
    keyword: FORBIDDEN_PROPERTIES,
    type: 'object',
    schemaType: 'object',
    errors: true,
    validate: function forbidden(
      messages: Record<string, string>,
      data: Record<string, unknown>,
      _parent?: unknown,
      context?: { instancePath: string },
    ): boolean {
      const present = Object.keys(messages).filter((name) => Object.hasOwn(data, name));
      (forbidden as unknown as { errors: Partial<ErrorObject>[] }).errors = present.map((name) => ({
        keyword: FORBIDDEN_PROPERTIES,
        instancePath: `${context?.instancePath ?? ''}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`,
        params: { property: name },
        message: messages[name],
      }));
      return present.length === 0;
    },
  });
  return ajv;
}

/**
 * Fastify's own validation is switched off (the hook below validates every part at once). It is set as
 * a server option rather than with setValidatorCompiler: a plugin that adds its own schemas gets a
 * compiler from the server's factory, not from its parent, and would otherwise build Fastify's Ajv.
 */
export const schemaController: FastifyServerOptions['schemaController'] = {
  // Every request passes Fastify's stage; the preValidation hook below decides.
  compilersFactory: { buildValidator: () => () => (() => true) as never },
};

export function registerValidation(app: FastifyInstance): void {
  // One set of compilers per app: each app adds its named schemas (referenced with $ref) to them.
  const ajv = createAjv(false);
  const queryAjv = createAjv(true);
  const known = new Set<string>();
  // Validation happens in the hook below (see schemaController); Fastify keeps the schemas for serialization and OpenAPI.
  app.addHook('onRoute', function (this: FastifyInstance, route: RouteOptions) {
    const schema = route.schema as { params?: object; querystring?: object; headers?: object; body?: object } | undefined;
    if (!schema?.params && !schema?.querystring && !schema?.headers && !schema?.body) return;
    for (const [id, shared] of Object.entries(this.getSchemas() as Record<string, object>)) {
      if (known.has(id)) continue;
      known.add(id);
      ajv.addSchema(shared);
      queryAjv.addSchema(shared);
    }
    const validators: RouteValidators = {
      path: schema.params && ajv.compile(schema.params),
      // Query strings arrive as text; integer parameters are parsed by parseIntegerParams, not by Ajv's
      // coercion, which also takes "0x10", "1e1" and "1e400" (Infinity, which then passes every range check).
      query: schema.querystring && queryAjv.compile(schema.querystring),
      header: schema.headers && ajv.compile(schema.headers),
      body: schema.body && ajv.compile(schema.body),
    };
    const uuidParams = uuidParamNames(schema.params);
    const integerParams = integerParamNames(schema.querystring);
    const existing = route.preValidation ? [route.preValidation].flat() : [];
    route.preValidation = [
      async (request: FastifyRequest) => {
        const query = lastValues(request.query); // parsed here and defaulted in place by the validator
        // `input` echoes what was received ("0"), not the parsed value (0), as FastAPI does.
        const receivedQuery = { ...query };
        parseIntegerParams(query, integerParams);
        const issues = [
          ...checkUuidParams(request, uuidParams),
          ...check(validators.path, 'path', request.params),
          ...check(validators.query, 'query', query, receivedQuery),
          ...check(validators.header, 'header', request.headers),
          ...checkBody(validators.body, request),
        ];
        if (issues.length > 0) throw new ValidationError(issues);
        request.query = query;
      },
      ...existing,
    ];
  });
}

function uuidParamNames(params: object | undefined): string[] {
  const properties = (params as { properties?: Record<string, Record<string, unknown>> } | undefined)?.properties ?? {};
  return Object.keys(properties).filter((name) => properties[name]?.[UUID_PARAM]);
}

function integerParamNames(querystring: object | undefined): string[] {
  const properties = (querystring as { properties?: Record<string, Record<string, unknown>> } | undefined)?.properties ?? {};
  return Object.keys(properties).filter((name) => properties[name]?.type === 'integer');
}

/** Turns decimal integer strings into numbers in place; anything else stays a string and fails as int_parsing. */
function parseIntegerParams(query: Record<string, unknown>, names: string[]): void {
  for (const name of names) {
    const value = query[name];
    if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) query[name] = Number(value);
  }
}

/** Validates and normalises UUID path parameters in place. */
function checkUuidParams(request: FastifyRequest, names: string[]): ValidationIssue[] {
  const params = request.params as Record<string, string>;
  const issues: ValidationIssue[] = [];
  for (const name of names) {
    const raw = params[name] ?? '';
    const parsed = parseUuid(raw);
    if (typeof parsed === 'string') params[name] = parsed;
    else
      issues.push({
        type: 'uuid_parsing',
        loc: ['path', name],
        msg: `Input should be a valid UUID, ${parsed.problem}`,
        input: redactInput(raw), // a token pasted into the path is not echoed either
        ctx: { error: parsed.problem },
      });
  }
  return issues;
}

/** Accepts the forms Pydantic accepts (hyphenated or 32 hex digits, any case); answers lower-case hyphenated. */
export function parseUuid(raw: string): string | { problem: string } {
  const bad = /[^0-9a-fA-F-]/.exec(raw);
  if (bad) {
    return {
      problem: `invalid character: expected an optional prefix of \`urn:uuid:\` followed by [0-9a-fA-F-], found \`${bad[0]}\` at ${bad.index + 1}`,
    };
  }
  const hex = raw.replace(/-/g, '');
  const hyphenated = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(raw);
  if (hex.length !== 32) return { problem: `invalid length: expected length 32 for simple format, found ${hex.length}` };
  if (!hyphenated && raw.includes('-')) return { problem: 'invalid group count: expected 5 groups separated by hyphens' };
  const lower = hex.toLowerCase();
  return `${lower.slice(0, 8)}-${lower.slice(8, 12)}-${lower.slice(12, 16)}-${lower.slice(16, 20)}-${lower.slice(20)}`;
}

/** A repeated query parameter counts as its last value, as FastAPI reads it. */
function lastValues(query: unknown): Record<string, unknown> {
  if (!query || typeof query !== 'object') return {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) out[key] = Array.isArray(value) ? value.at(-1) : value;
  return out;
}

function checkBody(validate: ValidateFunction | undefined, request: FastifyRequest): ValidationIssue[] {
  if (!validate) return [];
  if (request.body === undefined || request.body === null) {
    return [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }];
  }
  return check(validate, 'body', request.body);
}

/** `received` is the data as it arrived, for `input`, when validation coerces `data` in place. */
function check(validate: ValidateFunction | undefined, part: Part, data: unknown, received: unknown = data): ValidationIssue[] {
  if (!validate || validate(data)) return [];
  const issues = new Map<string, ValidationIssue>();
  for (const error of withoutUnionNoise(validate.errors ?? [])) {
    const issue = toIssue(error, part, received);
    if (!issue) continue;
    const key = JSON.stringify(issue.loc);
    // Pydantic reports one failure per field: keep the first.
    if (!issues.has(key)) issues.set(key, issue);
  }
  return [...issues.values()];
}

/**
 * A value that fails `anyOf [X, null]` fails both branches; Pydantic reports only X's problem (a nullable
 * field is X that may also be null). The `null` branch's type error and the `anyOf` summary are dropped
 * wherever another error explains the same value or a part of it.
 */
function withoutUnionNoise(errors: ErrorObject[]): ErrorObject[] {
  const isNoise = (e: ErrorObject) => e.keyword === 'anyOf' || (e.keyword === 'type' && (e.params as { type?: string }).type === 'null');
  const explained = (e: ErrorObject) =>
    errors.some((o) => !isNoise(o) && (o.instancePath === e.instancePath || o.instancePath.startsWith(`${e.instancePath}/`)));
  return errors.filter((e) => !isNoise(e) || !explained(e));
}

function toIssue(error: ErrorObject, part: Part, root: unknown): ValidationIssue | undefined {
  const path = pointerToPath(error.instancePath);
  const value = valueAt(root, path);
  const loc: (string | number)[] = [part, ...path];
  const schema = error.parentSchema as Record<string, unknown> | undefined;
  // The failing value itself is the token: never echo it, whatever its type.
  const isToken = part === 'body' && path.length === 1 && path[0] === 'token';
  const issue = (type: string, msg: string, ctx?: Record<string, unknown>, at = loc, v = value): ValidationIssue => ({
    type,
    loc: redactLoc(at),
    msg,
    input: at === loc && isToken ? TOKEN_MASK : redactInput(v),
    ...(ctx ? { ctx } : {}),
  });

  switch (error.keyword) {
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return issue('missing', 'Field required', undefined, [...loc, missing], value);
    }
    case 'additionalProperties': {
      // Bodies that refuse unknown keys (grants) report each one at its own place, as Pydantic's extra="forbid" does.
      const extra = (error.params as { additionalProperty: string }).additionalProperty;
      return issue(
        'extra_forbidden',
        'Extra inputs are not permitted',
        undefined,
        [...loc, extra],
        (value as Record<string, unknown>)?.[extra],
      );
    }
    case FORBIDDEN_PROPERTIES:
      // A property that must be absent: the failing path is the property itself.
      return issue('extra_forbidden', error.message ?? 'Extra inputs are not permitted');
    case 'type': {
      return typeIssue(String((error.params as { type: string }).type), part, value, issue);
    }
    case 'const':
    case 'enum': {
      const allowed =
        error.keyword === 'const'
          ? [(error.params as { allowedValue: unknown }).allowedValue]
          : (error.params as { allowedValues: unknown[] }).allowedValues;
      const expected = allowed.map((v) => `'${String(v)}'`).join(' or ');
      return issue('literal_error', `Input should be ${expected}`, { expected });
    }
    case 'minLength': {
      const n = (error.params as { limit: number }).limit;
      return issue('string_too_short', `String should have at least ${n} character${n === 1 ? '' : 's'}`, { min_length: n });
    }
    case 'maxLength': {
      const n = (error.params as { limit: number }).limit;
      return issue('string_too_long', `String should have at most ${n} character${n === 1 ? '' : 's'}`, { max_length: n });
    }
    case 'minimum': {
      const n = (error.params as { limit: number }).limit;
      return issue('greater_than_equal', `Input should be greater than or equal to ${n}`, { ge: n });
    }
    case 'maximum': {
      const n = (error.params as { limit: number }).limit;
      return issue('less_than_equal', `Input should be less than or equal to ${n}`, { le: n });
    }
    case 'pattern': {
      const pattern = (error.params as { pattern: string }).pattern;
      const message = schema?.[PATTERN_MESSAGE];
      return message
        ? issue('value_error', String(message))
        : issue('string_pattern_mismatch', `String should match pattern '${pattern}'`, { pattern });
    }
    default:
      return issue('value_error', `Value error, ${error.message ?? 'invalid value'}`);
  }
}

function typeIssue(expected: string, part: Part, value: unknown, issue: (type: string, msg: string) => ValidationIssue): ValidationIssue {
  switch (expected) {
    case 'string':
      return issue('string_type', 'Input should be a valid string');
    case 'integer':
      return part === 'query' || typeof value === 'string'
        ? issue('int_parsing', 'Input should be a valid integer, unable to parse string as an integer')
        : issue('int_type', 'Input should be a valid integer');
    case 'object':
      return issue('model_attributes_type', 'Input should be a valid dictionary or object to extract fields from');
    case 'boolean':
      return issue('bool_type', 'Input should be a valid boolean');
    default:
      return issue(`${expected}_type`, `Input should be a valid ${expected}`);
  }
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^(0|[1-9]\d*)$/.test(segment) ? Number(segment) : segment));
}

function valueAt(root: unknown, path: (string | number)[]): unknown {
  let value = root;
  for (const key of path) value = (value as Record<string | number, unknown> | null)?.[key];
  return value;
}
