// The documented 429 answer of the rate limiter, checked the same way wherever a test meets one.
import { expect } from 'vitest';
import type { TestResponse } from './server.js';

/** A 429 as documented: {"detail": "..."} and a Retry-After in whole seconds; returns the Retry-After. */
export function expectTooManyRequests(response: TestResponse, windowSeconds: number): number {
  expect(response.status, response.text).toBe(429);
  expect(response.body).toEqual({ detail: expect.stringMatching(/^Too many requests: this credential may make \d+ requests per \d+ s\./) });
  const retryAfter = response.headers.get('retry-after') ?? '';
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(retryAfter)).toBeLessThanOrEqual(2 * windowSeconds);
  return Number(retryAfter);
}
