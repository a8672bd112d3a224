// API keys from plain objects: the last-use write is throttled and never fails a request.
import { describe, expect, it } from 'vitest';
import type { AuthRepo } from './auth.repo.js';
import { createAuthService, LAST_USED_RESOLUTION_MS } from './auth.service.js';

function setup(touchFails = false) {
  let clock = Date.parse('2026-01-01T00:00:00.000Z');
  const touches: string[] = [];
  const errors: Error[] = [];
  const repo = {
    findOrganization: async () => ({ id: 'org', name: 'org', created_at: '' }),
    insertApiKey: async () => {},
    findActiveApiKey: async () => ({ id: 'key-1', org_id: 'org' }),
    touchApiKey: async (_id: string, at: string) => {
      if (touchFails) throw new Error('database is locked');
      touches.push(at);
    },
  } as unknown as AuthRepo;
  const service = createAuthService({ repo, now: () => new Date(clock), onTouchError: (err) => errors.push(err) });
  return { service, touches, errors, advance: (ms: number) => (clock += ms) };
}

describe('API key last use', () => {
  it('is written at most once per resolution per key, off the request path', async () => {
    const s = setup();
    const { key } = await s.service.issueApiKey('org');
    for (let i = 0; i < 5; i++) expect(await s.service.authenticate(`Bearer ${key}`)).toMatchObject({ orgId: 'org' });
    await Promise.resolve();
    expect(s.touches).toEqual(['2026-01-01T00:00:00.000Z']);
    s.advance(LAST_USED_RESOLUTION_MS);
    await s.service.authenticate(`Bearer ${key}`);
    await Promise.resolve();
    expect(s.touches).toHaveLength(2);
  });

  it('does not fail authentication when the write fails; the error is reported', async () => {
    const s = setup(true);
    const { key } = await s.service.issueApiKey('org');
    expect(await s.service.authenticate(`Bearer ${key}`)).toMatchObject({ orgId: 'org' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(s.errors.map((e) => e.message)).toEqual(['database is locked']);
  });
});
