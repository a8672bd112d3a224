// Domain errors. Services throw these; the one HTTP error handler (src/http/errors.ts) turns them
// into a status and a body. Messages are written for the API caller and never carry a secret.

/** One entry of the Pydantic-v2-shaped 422 list. */
export interface ValidationIssue {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

/** A 4xx/5xx with a `{"detail": "..."}` body. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly statusCode: number,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

/** A 422 listing every problem found in the request. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(readonly issues: ValidationIssue[]) {
    super(`${issues.length} validation error(s)`);
  }
}

export const vaultNotFound = () => new HttpError(404, 'Vault not found');

export const vaultNameTaken = (name: string) => new HttpError(409, `A vault named '${name}' already exists in this organization`);

export const authenticationRequired = () => new HttpError(401, 'Authentication required', { 'www-authenticate': 'Bearer' });

/** Trusted-gateway mode: the X-User-Org header is present but not a UUID (the hosted API's wording). */
export const invalidUserOrOrgId = () => new HttpError(400, 'Invalid user or org ID');

/** The provider could not answer; nothing was written and a retry is safe. */
export const providerUnavailable = (reason: string, retryAfterSeconds: number) =>
  new HttpError(503, `1Password is unavailable: ${reason}. Nothing was changed; retry later.`, {
    'retry-after': String(retryAfterSeconds),
  });

export const databaseUnavailable = () =>
  new HttpError(503, 'The database is unavailable. Nothing was changed; retry later.', { 'retry-after': '5' });

/** The credential (API key or grant) used up its request budget; nothing was done. */
export const tooManyRequests = (limit: number, windowSeconds: number, retryAfterSeconds: number) =>
  new HttpError(
    429,
    `Too many requests: this credential may make ${limit} requests per ${windowSeconds} s. Nothing was done; retry in ${retryAfterSeconds} s.`,
    { 'retry-after': String(retryAfterSeconds) },
  );
