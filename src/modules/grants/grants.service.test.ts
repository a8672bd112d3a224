// The grant service's rules from plain objects: an in-memory repository with the real one's
// conditions (live, unexpired, under max_fills), a clock the test moves. No database, no HTTP.
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../errors.js';
import type { AuditEntry } from '../audit/audit.service.js';
import type { Caller } from '../auth/caller.js';
import type { GrantRepo, GrantRow } from './grants.repo.js';
import { createGrantService, domainAllowed } from './grants.service.js';

const ORG = '11111111-1111-4111-8111-111111111111';
const VAULT = '33333333-3333-4333-8333-333333333333';
const caller: Caller = { orgId: ORG, credential: { type: 'api_key', id: 'key-1' } };

function setup() {
  let clock = Date.parse('2026-11-30T12:00:00.000Z');
  const rows = new Map<string, GrantRow & { fills_used: number }>();
  // Audit events the repository stores with the change they describe (one transaction in the real one).
  const recorded: AuditEntry[] = [];
  const repo = {
    insert: async (row: Omit<GrantRow, 'fills_used'>, event: AuditEntry) => {
      rows.set(row.id, { ...row, fills_used: 0 });
      recorded.push(event);
    },
    list: async (orgId: string, vaultId: string) => {
      const found = [...rows.values()].filter((r) => r.org_id === orgId && r.vault_id === vaultId);
      return { total: found.length, rows: found };
    },
    revoke: async (orgId: string, vaultId: string, id: string, at: string, event: AuditEntry) => {
      const row = rows.get(id);
      if (row?.org_id !== orgId || row.vault_id !== vaultId) return false;
      row.revoked_at ??= at;
      recorded.push(event);
      return true;
    },
    findUnrevoked: async (hash: string) => [...rows.values()].find((r) => r.token_hash === hash && r.revoked_at === null),
    reserveFill: async (orgId: string, id: string, now: string) => {
      const row = rows.get(id);
      const live = row?.org_id === orgId && row.revoked_at === null && row.expires_at > now;
      if (!row || !live || (row.max_fills !== null && row.fills_used >= row.max_fills)) return false;
      row.fills_used++;
      return true;
    },
    releaseFill: async (orgId: string, id: string) => {
      const row = rows.get(id);
      if (row?.org_id === orgId && row.fills_used > 0) row.fills_used--;
    },
  } as unknown as GrantRepo;
  const service = createGrantService({
    repo,
    vaultExists: async (orgId, vaultId) => orgId === ORG && vaultId === VAULT,
    // The row the repository stores is the entry itself here, so the test can read it back.
    audit: { record: async () => {}, rowFor: (entry) => entry as never },
    browserAllowed: (endpoint) => endpoint.startsWith('http://127.0.0.1:'),
    now: () => new Date(clock),
  });
  return {
    service,
    rows,
    recorded,
    advance: (seconds: number) => {
      clock += seconds * 1000;
    },
  };
}

describe('grant service', () => {
  it('mints a grant shown once, stored as a hash, authenticating as a caller scoped to its vault', async () => {
    const { service, rows, recorded } = setup();
    const minted = await service.mint(caller, VAULT, {
      expires_in: 600,
      allowed_domains: ['Example.COM', '*.example.com', 'bücher.example'],
    });
    expect(minted.grant).toMatch(/^sesame_gr_[A-Za-z0-9_-]{43}$/);
    expect(minted).toMatchObject({
      status: 'active',
      expires_at: '2026-11-30T12:10:00.000Z',
      allowed_domains: ['example.com', 'xn--bcher-kva.example'],
    });
    expect(JSON.stringify([...rows.values()])).not.toContain(minted.grant);
    expect(recorded.map((e) => [e.action, e.caller.credential.id])).toEqual([['grant.create', 'key-1']]);

    const grantCaller = await service.authenticate(`Bearer ${minted.grant}`);
    expect(grantCaller).toMatchObject({
      orgId: ORG,
      credential: { type: 'grant', id: minted.id },
      grant: { vaultId: VAULT, maxFills: null, browser: null },
    });
    expect(minted).toMatchObject({ cdp_endpoint: null, target_id: null });
    expect(await service.authenticate(`Bearer ${minted.grant}x`)).toBeUndefined();
    expect(await service.authenticate('Bearer sesame_ak_not-a-grant')).toBeUndefined();
  });

  it('binds a grant to a browser the fill may reach, and optionally one page of it', async () => {
    const { service, rows } = setup();
    const bound = await service.mint(caller, VAULT, { expires_in: 600, cdp_endpoint: 'http://127.0.0.1:9222', target_id: 'F3A1' });
    expect(bound).toMatchObject({ cdp_endpoint: 'http://127.0.0.1:9222', target_id: 'F3A1' });
    expect((await service.authenticate(`Bearer ${bound.grant}`))?.grant?.browser).toEqual({
      cdpEndpoint: 'http://127.0.0.1:9222',
      targetId: 'F3A1',
    });
    const browserOnly = await service.mint(caller, VAULT, { expires_in: 600, cdp_endpoint: 'http://127.0.0.1:9333' });
    expect((await service.authenticate(`Bearer ${browserOnly.grant}`))?.grant?.browser).toEqual({
      cdpEndpoint: 'http://127.0.0.1:9333',
      targetId: null,
    });
    expect((await service.list(caller, VAULT, 50, 0)).grants.map((g) => [g.cdp_endpoint, g.target_id])).toEqual(
      expect.arrayContaining([
        ['http://127.0.0.1:9222', 'F3A1'],
        ['http://127.0.0.1:9333', null],
      ]),
    );
    // Refused before anything is stored: a browser outside the allow-list, a page without its browser.
    const size = rows.size;
    await expect(service.mint(caller, VAULT, { expires_in: 600, cdp_endpoint: 'http://10.0.0.7:9222' })).rejects.toMatchObject({
      code: 'cdp_not_allowed',
      data: { endpoint: 'http://10.0.0.7:9222' },
    });
    await expect(service.mint(caller, VAULT, { expires_in: 600, target_id: 'F3A1' })).rejects.toMatchObject({
      code: 'target_id_without_cdp_endpoint',
    });
    expect(rows.size).toBe(size);
  });

  it('refuses every allowed_domains entry that is not a domain one owner controls, all at once', async () => {
    const { service, rows } = setup();
    const err = await service
      .mint(caller, VAULT, { expires_in: 600, allowed_domains: ['ok.example', 'https://x.example/', 'co.uk', 'github.io'] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError<'invalid_allowed_domains'>).data.problems).toEqual([
      { index: 1, input: 'https://x.example/', problem: 'not_a_host' },
      { index: 2, input: 'co.uk', problem: 'public_suffix', host: 'co.uk' },
      { index: 3, input: 'github.io', problem: 'public_suffix', host: 'github.io' },
    ]);
    expect(rows.size).toBe(0);
  });

  it('counts fills up to max_fills, gives back a fill that never reached a page, and stops at expiry', async () => {
    const { service, advance } = setup();
    const minted = await service.mint(caller, VAULT, { expires_in: 60, max_fills: 2 });
    const scope = (await service.authenticate(`Bearer ${minted.grant}`))?.grant;
    if (!scope) throw new Error('no grant scope');
    expect(await service.reserveFill(ORG, scope)).toBe(true);
    expect(await service.reserveFill(ORG, scope)).toBe(true);
    expect(await service.reserveFill(ORG, scope)).toBe(false);
    expect((await service.list(caller, VAULT, 50, 0)).grants[0]).toMatchObject({ fills_used: 2, status: 'exhausted' });
    await service.releaseFill(ORG, scope);
    expect(await service.reserveFill(ORG, scope)).toBe(true);
    expect(service.isExpired(scope)).toBe(false);
    advance(60);
    expect(service.isExpired(scope)).toBe(true);
    await service.releaseFill(ORG, scope);
    expect(await service.reserveFill(ORG, scope)).toBe(false);
    expect((await service.list(caller, VAULT, 50, 0)).grants[0]?.status).toBe('expired');
  });

  it('revokes within its vault only; another org or vault is not found', async () => {
    const { service } = setup();
    const minted = await service.mint(caller, VAULT, { expires_in: 600 });
    const stranger: Caller = { ...caller, orgId: '22222222-2222-4222-8222-222222222222' };
    for (const call of [service.revoke(stranger, VAULT, minted.id), service.mint(stranger, VAULT, { expires_in: 600 })]) {
      await expect(call).rejects.toMatchObject({ code: 'vault_not_found' });
    }
    await expect(service.revoke(caller, VAULT, '44444444-4444-4444-8444-444444444444')).rejects.toMatchObject({ code: 'grant_not_found' });
    await service.revoke(caller, VAULT, minted.id);
    expect(await service.authenticate(`Bearer ${minted.grant}`)).toBeUndefined();
    expect((await service.list(caller, VAULT, 50, 0)).grants[0]?.status).toBe('revoked');
  });

  it('allows a domain and its subdomains, not look-alikes', () => {
    const grant = { allowedDomains: ['example.com'] };
    expect(domainAllowed(grant, 'example.com')).toBe(true);
    expect(domainAllowed(grant, 'login.example.com')).toBe(true);
    expect(domainAllowed(grant, 'notexample.com')).toBe(false);
    expect(domainAllowed(grant, 'example.com.evil.test')).toBe(false);
    expect(domainAllowed({ allowedDomains: null }, 'anything.test')).toBe(true);
  });
});
