// Wire schemas every module's routes share: the error bodies, paging, and how a route declares the
// answers it can give. Named schemas (those with an `$id`) are added to the app once and referenced
// with `ref()`: the OpenAPI document then lists them under components/schemas by that name, as the
// platform's FastAPI document does, and response serialization still allow-lists their fields.
import { type Static, type TSchema, Type } from '@sinclair/typebox';

/** A reference to a named schema (added to the app with `addSchema`), typed as the schema itself. */
export function ref<T extends TSchema & { $id?: string }>(schema: T, annotations: { description?: string } = {}) {
  if (!schema.$id) throw new TypeError('ref() needs a schema with an $id');
  return Type.Unsafe<Static<T>>({ $ref: schema.$id, ...annotations });
}

export const ListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
    // Bounded so an absurd offset is a 422, not a database error (a 500): SQL OFFSET is a 64-bit integer.
    offset: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 }),
  },
  { additionalProperties: true },
);
export type ListQuery = Static<typeof ListQuery>;

export const ErrorDetail = Type.Object(
  { detail: Type.String({ description: 'One sentence a person can act on' }) },
  { $id: 'ErrorDetail', title: 'ErrorDetail', additionalProperties: false },
);

// FastAPI's standard components, with the Pydantic v2 fields (input, ctx) Sesame always sends.
export const ValidationErrorItem = Type.Object(
  {
    loc: Type.Array(Type.Union([Type.String(), Type.Integer()]), { title: 'Location' }),
    msg: Type.String({ title: 'Message' }),
    type: Type.String({ title: 'Error Type' }),
    input: Type.Optional(Type.Unknown({ title: 'Input' })),
    ctx: Type.Optional(Type.Object({}, { title: 'Context', additionalProperties: true })),
  },
  { $id: 'ValidationError', title: 'ValidationError' },
);

export const HTTPValidationError = Type.Object(
  { detail: Type.Optional(Type.Array(ref(ValidationErrorItem), { title: 'Detail' })) },
  { $id: 'HTTPValidationError', title: 'HTTPValidationError' },
);

/** The schemas every route may reference; app.ts adds them before any module registers a route. */
export const SHARED_SCHEMAS: TSchema[] = [ErrorDetail, ValidationErrorItem, HTTPValidationError];

/** What each error status means, wherever a route declares it. */
const ERROR_ANSWERS = {
  400: 'The request could not be read; in trusted-gateway mode, an X-User-Org header that is not a UUID',
  401: 'Authentication required (missing, unknown or revoked credential); carries WWW-Authenticate: Bearer',
  404: 'Not found (also another organization’s vault or grant)',
  409: 'Conflict: a name already taken, a concurrent change, or a request with this Idempotency-Key still in progress (Retry-After)',
  413: 'The request body is larger than 64 KiB',
  415: 'Content-Type must be application/json',
  422: 'Validation Error',
  429: 'Too many requests for this credential; see Retry-After',
  502: 'The browser could not be reached or went away',
  503: '1Password or the database is unavailable; nothing was changed; see Retry-After',
  504: 'The browser did not answer in time',
} as const;

export type ErrorStatus = keyof typeof ERROR_ANSWERS;

/** The error answers a route can give, each with its documented body: the 422 list or {"detail"}. */
export function errorResponses(...statuses: ErrorStatus[]): Record<number, TSchema> {
  const responses: Record<number, TSchema> = {};
  for (const status of [...new Set<ErrorStatus>([400, 401, 422, 429, 503, ...statuses])].sort()) {
    responses[status] = ref(status === 422 ? HTTPValidationError : ErrorDetail, { description: ERROR_ANSWERS[status] });
  }
  return responses;
}

/** Statuses of a route with a JSON body (size and content type are checked before anything else). */
export const BODY_ERRORS: ErrorStatus[] = [413, 415];

/** A 2xx answer with a body, described as FastAPI describes it. */
export const ok = <T extends TSchema & { $id?: string }>(schema: T) => ref(schema, { description: 'Successful Response' });

/** A 204 answer: no body. */
export const noContent = (description: string) => ({ type: 'null', description });
