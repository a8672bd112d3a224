// Grants (docs/fill.md, "Grants"): a short-lived bearer credential for one
// vault that can only list and fill secrets, optionally only on some domains and a number of
// times. Shown once; only its SHA-256 is stored, as for API keys.
import { randomBytes, randomUUID } from 'node:crypto';
import { DomainError, type DomainProblem } from '../../errors.js';
import { isPublicSuffix, normalizeHost } from '../../matching/index.js';
import type { AuditRecorder } from '../audit/audit.service.js';
import { hashApiKey } from '../auth/auth.service.js';
import type { Caller, GrantScope } from '../auth/caller.js';
import type { GrantRepo, GrantRow } from './grants.repo.js';
import type { CreatedGrant, CreateGrantBody, Grant, GrantList } from './grants.schemas.js';

/** Fixed, greppable prefix so secret scanners can spot a leaked grant. */
export const GRANT_PREFIX = 'sesame_gr_';
const BEARER_GRANT = /^Bearer +(sesame_gr_[A-Za-z0-9_-]{43}) *$/i;

export interface GrantServiceDeps {
  repo: GrantRepo;
  vaultExists: (orgId: string, vaultId: string) => Promise<boolean>;
  audit: AuditRecorder;
  /** Whether Sesame may connect to a browser's DevTools endpoint (SESAME_CDP_ALLOW); asked before binding a grant to it. */
  browserAllowed: (cdpEndpoint: string) => boolean;
  now?: () => Date;
}

export function createGrantService({ repo, vaultExists, audit, browserAllowed, now = () => new Date() }: GrantServiceDeps) {
  async function requireVault(orgId: string, vaultId: string): Promise<void> {
    if (!(await vaultExists(orgId, vaultId))) throw new DomainError('vault_not_found');
  }

  function toGrant(row: GrantRow): Grant {
    return {
      id: row.id,
      org_id: row.org_id,
      vault_id: row.vault_id,
      created_at: row.created_at,
      expires_at: row.expires_at,
      allowed_domains: row.allowed_domains === null ? null : (JSON.parse(row.allowed_domains) as string[]),
      max_fills: row.max_fills,
      fills_used: row.fills_used,
      revoked_at: row.revoked_at,
      cdp_endpoint: row.cdp_endpoint,
      target_id: row.target_id,
      status: row.revoked_at
        ? 'revoked'
        : row.expires_at <= now().toISOString()
          ? 'expired'
          : row.max_fills !== null && row.fills_used >= row.max_fills
            ? 'exhausted'
            : 'active',
    };
  }

  return {
    async mint(caller: Caller, vaultId: string, body: CreateGrantBody): Promise<CreatedGrant> {
      const { orgId } = caller;
      const allowedDomains = body.allowed_domains === undefined ? null : normalizeDomains(body.allowed_domains);
      const { cdp_endpoint: cdpEndpoint = null, target_id: targetId = null } = body;
      if (targetId !== null && cdpEndpoint === null) throw new DomainError('target_id_without_cdp_endpoint', { targetId });
      // Checked now, so a grant is never handed out for a browser Sesame would refuse to reach (and again at each call).
      if (cdpEndpoint !== null && !browserAllowed(cdpEndpoint)) throw new DomainError('cdp_not_allowed', { endpoint: cdpEndpoint });
      await requireVault(orgId, vaultId);
      const grant = GRANT_PREFIX + randomBytes(32).toString('base64url');
      const created = now();
      const row = {
        id: randomUUID(),
        org_id: orgId,
        vault_id: vaultId,
        token_hash: hashApiKey(grant),
        created_by: caller.credential.id,
        created_at: created.toISOString(),
        expires_at: new Date(created.getTime() + body.expires_in * 1000).toISOString(),
        allowed_domains: allowedDomains && JSON.stringify(allowedDomains),
        max_fills: body.max_fills ?? null,
        revoked_at: null,
        cdp_endpoint: cdpEndpoint,
        target_id: targetId,
      };
      await repo.insert(row, audit.rowFor({ caller, vaultId, action: 'grant.create', outcome: 'ok' }));
      return { ...toGrant({ ...row, fills_used: 0 }), grant };
    },

    async list({ orgId }: Caller, vaultId: string, limit: number, offset: number): Promise<GrantList> {
      await requireVault(orgId, vaultId);
      const { total, rows } = await repo.list(orgId, vaultId, limit, offset);
      return { total, limit, offset, grants: rows.map(toGrant) };
    },

    async revoke(caller: Caller, vaultId: string, grantId: string): Promise<void> {
      await requireVault(caller.orgId, vaultId);
      const event = audit.rowFor({ caller, vaultId, action: 'grant.revoke', outcome: 'ok' });
      if (!(await repo.revoke(caller.orgId, vaultId, grantId, now().toISOString(), event))) throw new DomainError('grant_not_found');
    },

    /**
     * Resolves an `Authorization` header to the grant it carries, or undefined for anything that is
     * not an unrevoked grant. An expired grant still resolves, so the fill routes can answer
     * `grant_expired` rather than a bare 401.
     */
    async authenticate(header: string | undefined): Promise<Caller | undefined> {
      const match = header && BEARER_GRANT.exec(header);
      if (!match?.[1]) return undefined;
      const row = await repo.findUnrevoked(hashApiKey(match[1]));
      if (!row) return undefined;
      return {
        orgId: row.org_id,
        credential: { type: 'grant', id: row.id },
        grant: {
          id: row.id,
          vaultId: row.vault_id,
          expiresAt: row.expires_at,
          allowedDomains: row.allowed_domains === null ? null : (JSON.parse(row.allowed_domains) as string[]),
          maxFills: row.max_fills,
          browser: row.cdp_endpoint === null ? null : { cdpEndpoint: row.cdp_endpoint, targetId: row.target_id },
        },
      };
    },

    isExpired(grant: GrantScope): boolean {
      return grant.expiresAt <= now().toISOString();
    },

    /** Counts one fill; false when the grant expired, was revoked or has no fills left. */
    reserveFill(orgId: string, grant: GrantScope): Promise<boolean> {
      return repo.reserveFill(orgId, grant.id, now().toISOString());
    },

    releaseFill(orgId: string, grant: GrantScope): Promise<void> {
      return repo.releaseFill(orgId, grant.id);
    },
  };
}

export type GrantService = ReturnType<typeof createGrantService>;

/** Whether a grant may act on a page or frame on `host` (normalised). */
export function domainAllowed(grant: Pick<GrantScope, 'allowedDomains'>, host: string): boolean {
  return grant.allowedDomains === null || grant.allowedDomains.some((domain) => host === domain || host.endsWith(`.${domain}`));
}

/** Lower-cased IDNA hosts without duplicates; a scheme, port, path or public suffix is a 422. */
function normalizeDomains(domains: string[]): string[] {
  const problems: DomainProblem[] = [];
  const hosts = new Set<string>();
  for (const [index, input] of domains.entries()) {
    // "*.example.com" says what an entry means anyway: the domain and its subdomains.
    const host = normalizeHost(input.replace(/^\*\./, ''));
    if (!host) problems.push({ index, input, problem: 'not_a_host' });
    else if (isPublicSuffix(host)) problems.push({ index, input, problem: 'public_suffix', host: host.host });
    else hosts.add(host.host);
  }
  if (problems.length > 0) throw new DomainError('invalid_allowed_domains', { problems });
  return [...hosts];
}
