// The edge's one table: every domain error code has an answer, and the answers keep their contract
// (statuses, Retry-After on every 503/429, a 422 is always the Pydantic list, a token is never echoed).
import { describe, expect, it } from 'vitest';
import { DomainError, type ErrorCode, type ErrorData } from '../errors.js';
import { answerFor } from './errors.js';
import { TOKEN_MASK } from './redact.js';

const SAMPLES: { [C in ErrorCode]: ErrorData[C] } = {
  authentication_required: {},
  origin_not_allowed: {},
  invalid_org_id: {},
  rate_limited: { limit: 10, windowSeconds: 60, retryAfterSeconds: 7 },
  organization_not_found: { orgId: 'org' },
  vault_not_found: {},
  grant_not_found: {},
  vault_name_taken: { name: 'prod' },
  concurrent_change: {},
  token_malformed: { reason: 'missing ops_ prefix' },
  token_rejected: { field: 'token', opVaultId: 'v1' },
  vault_inaccessible: { field: 'op_vault_id', opVaultId: 'v1' },
  provider_unavailable: { reason: 'rate limited', retryAfterSeconds: 30 },
  undecryptable: {},
  idempotency_key_reused: {},
  idempotency_in_progress: {},
  database_unavailable: {},
  storage_full: {},
  database_busy: {},
  invalid_allowed_domains: { problems: [{ index: 0, input: 'com', problem: 'public_suffix', host: 'com' }] },
  cdp_not_allowed: { endpoint: 'http://10.0.0.1:9222' },
  cdp_endpoint_mismatch: { endpoint: 'http://127.0.0.1:9333' },
  target_id_mismatch: { targetId: 'F3A1' },
  target_id_without_cdp_endpoint: { targetId: 'F3A1' },
  browser_not_bound: {},
  page_not_found: { message: 'The browser has no open page' },
  browser_unreachable: { message: 'Could not reach the browser at cdp_endpoint' },
  browser_timeout: { message: 'The browser did not answer in time' },
  browser_gone: { message: 'The browser closed the page' },
};

const answer = <C extends ErrorCode>(code: C) =>
  answerFor(new (DomainError as new (code: C, data: ErrorData[C]) => DomainError)(code, SAMPLES[code]));

describe('the edge table', () => {
  it('answers every code with a 4xx or 5xx, Retry-After on every 429 and 503, and the list shape on every 422', () => {
    for (const code of Object.keys(SAMPLES) as ErrorCode[]) {
      const { status, headers, detail } = answer(code);
      expect(status, code).toBeGreaterThanOrEqual(400);
      if (status === 429 || status === 503) expect(Number(headers['retry-after']), code).toBeGreaterThan(0);
      if (status === 422) {
        expect(Array.isArray(detail), code).toBe(true);
        for (const issue of detail as { loc: unknown[] }[]) expect(['body', 'header'], code).toContain(issue.loc[0]);
      } else {
        expect(typeof detail, code).toBe('string');
      }
    }
  });

  it('answers the statuses of the contract', () => {
    const statuses = Object.fromEntries((Object.keys(SAMPLES) as ErrorCode[]).map((code) => [code, answer(code).status]));
    expect(statuses).toMatchObject({
      authentication_required: 401,
      origin_not_allowed: 403,
      invalid_org_id: 400,
      rate_limited: 429,
      vault_not_found: 404,
      vault_name_taken: 409,
      concurrent_change: 409,
      token_malformed: 422,
      token_rejected: 422,
      vault_inaccessible: 422,
      provider_unavailable: 503,
      idempotency_in_progress: 409,
      database_unavailable: 503,
      cdp_not_allowed: 422,
      cdp_endpoint_mismatch: 422,
      target_id_mismatch: 422,
      target_id_without_cdp_endpoint: 422,
      browser_not_bound: 422,
      browser_unreachable: 502,
      browser_timeout: 504,
    });
    expect(answer('authentication_required').headers).toEqual({ 'www-authenticate': 'Bearer' });
  });

  it('points provider refusals at the request field they are about, and never echoes a token', () => {
    expect(answer('token_malformed').detail).toEqual([
      {
        type: 'token_format',
        loc: ['body', 'token'],
        msg: 'Value is not a 1Password service account token (missing ops_ prefix)',
        input: TOKEN_MASK,
      },
    ]);
    expect(answer('token_rejected').detail).toEqual([
      { type: 'provider_rejected', loc: ['body', 'token'], msg: '1Password rejected the service account token', input: TOKEN_MASK },
    ]);
    expect(answer('vault_inaccessible').detail).toEqual([
      {
        type: 'provider_rejected',
        loc: ['body', 'provider_config', 'op_vault_id'],
        msg: "This service account token cannot access 1Password vault 'v1'",
        input: 'v1',
      },
    ]);
  });

  it('answers a missing browser exactly as request validation answers a missing cdp_endpoint', () => {
    expect(answer('browser_not_bound').detail).toEqual([
      { type: 'missing', loc: ['body', 'cdp_endpoint'], msg: 'Field required', input: null },
    ]);
    expect(answer('cdp_endpoint_mismatch').detail).toMatchObject([{ loc: ['body', 'cdp_endpoint'], input: 'http://127.0.0.1:9333' }]);
    expect(answer('target_id_mismatch').detail).toMatchObject([{ loc: ['body', 'target_id'], input: 'F3A1' }]);
  });
});
