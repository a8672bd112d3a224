// Grants (spec/secret-matching-and-fill.md section 7): a short-lived bearer credential for one
// vault that can only list and fill secrets, optionally only on some domains and a number of
// times. Shown once; only its SHA-256 is stored, as for API keys.
import { randomBytes, randomUUID } from 'node:crypto';
import { HttpError, ValidationError, type ValidationIssue, vaultNotFound } from '../../errors.js';
import { isPublicSuffix, normalizeHost } from '../../matching/index.js';
import type { Actor, AuditRecorder } from '../audit/audit.service.js';
import { hashApiKey } from '../auth/auth.service.js';
import type { GrantRepo, GrantRow } from './grants.repo.js';
import type { CreatedGrant, CreateGrantBody, Grant, GrantList } from './grants.schemas.js';

/** Fixed, greppable prefix so secret scanners can spot a leaked grant. */
export const GRANT_PREFIX = 'sesame_gr_';
const BEARER_GRANT = /^Bearer +(sesame_gr_[A-Za-z0-9_-]{43}) *$/i;

/** What a grant-authenticated request carries: enough to enforce the grant's limits. */
export interface GrantPrincipal {
  id: string;
  orgId: string;
  vaultId: string;
  expiresAt: string;
  /** Normalised hosts; null = any domain. */
  allowedDomains: string[] | null;
  maxFills: number | null;
}

export interface GrantServiceDeps {
  repo: GrantRepo;
  vaultExists: (orgId: string, vaultId: string) => Promise<boolean>;
  audit: AuditRecorder;
  now?: () => Date;
}

export const grantNotFound = () => new HttpError(404, 'Grant not found');

export function createGrantService({ repo, vaultExists, audit, now = () => new Date() }: GrantServiceDeps) {
  async function requireVault(orgId: string, vaultId: string): Promise<void> {
    if (!(await vaultExists(orgId, vaultId))) throw vaultNotFound();
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
    async mint(orgId: string, vaultId: string, actor: Actor, body: CreateGrantBody): Promise<CreatedGrant> {
      const allowedDomains = body.allowed_domains === undefined ? null : normalizeDomains(body.allowed_domains);
      await requireVault(orgId, vaultId);
      const grant = GRANT_PREFIX + randomBytes(32).toString('base64url');
      const created = now();
      const row = {
        id: randomUUID(),
        org_id: orgId,
        vault_id: vaultId,
        token_hash: hashApiKey(grant),
        created_by: actor.id,
        created_at: created.toISOString(),
        expires_at: new Date(created.getTime() + body.expires_in * 1000).toISOString(),
        allowed_domains: allowedDomains && JSON.stringify(allowedDomains),
        max_fills: body.max_fills ?? null,
        revoked_at: null,
      };
      await repo.insert(row);
      await audit.record({ orgId, vaultId, actor, action: 'grant.create', outcome: 'ok' });
      return { ...toGrant({ ...row, fills_used: 0 }), grant };
    },

    async list(orgId: string, vaultId: string, limit: number, offset: number): Promise<GrantList> {
      await requireVault(orgId, vaultId);
      const { total, rows } = await repo.list(orgId, vaultId, limit, offset);
      return { total, limit, offset, grants: rows.map(toGrant) };
    },

    async revoke(orgId: string, vaultId: string, grantId: string, actor: Actor): Promise<void> {
      await requireVault(orgId, vaultId);
      if (!(await repo.revoke(orgId, vaultId, grantId, now().toISOString()))) throw grantNotFound();
      await audit.record({ orgId, vaultId, actor, action: 'grant.revoke', outcome: 'ok' });
    },

    /**
     * Resolves an `Authorization` header to the grant it carries, or undefined for anything that is
     * not an unrevoked grant. An expired grant still resolves, so the fill routes can answer
     * `grant_expired` rather than a bare 401.
     */
    async authenticate(header: string | undefined): Promise<GrantPrincipal | undefined> {
      const match = header && BEARER_GRANT.exec(header);
      if (!match?.[1]) return undefined;
      const row = await repo.findUnrevoked(hashApiKey(match[1]));
      if (!row) return undefined;
      return {
        id: row.id,
        orgId: row.org_id,
        vaultId: row.vault_id,
        expiresAt: row.expires_at,
        allowedDomains: row.allowed_domains === null ? null : (JSON.parse(row.allowed_domains) as string[]),
        maxFills: row.max_fills,
      };
    },

    isExpired(grant: GrantPrincipal): boolean {
      return grant.expiresAt <= now().toISOString();
    },

    /** Counts one fill; false when the grant expired, was revoked or has no fills left. */
    reserveFill(grant: GrantPrincipal): Promise<boolean> {
      return repo.reserveFill(grant.orgId, grant.id, now().toISOString());
    },

    releaseFill(grant: GrantPrincipal): Promise<void> {
      return repo.releaseFill(grant.orgId, grant.id);
    },
  };
}

export type GrantService = ReturnType<typeof createGrantService>;

/** Whether a grant may act on a page or frame on `host` (normalised). */
export function domainAllowed(grant: Pick<GrantPrincipal, 'allowedDomains'>, host: string): boolean {
  return grant.allowedDomains === null || grant.allowedDomains.some((domain) => host === domain || host.endsWith(`.${domain}`));
}

/** Lower-cased IDNA hosts without duplicates; a scheme, port, path or public suffix is a 422. */
function normalizeDomains(domains: string[]): string[] {
  const issues: ValidationIssue[] = [];
  const hosts = new Set<string>();
  const refuse = (i: number, msg: string) =>
    issues.push({ type: 'value_error', loc: ['body', 'allowed_domains', i], msg, input: domains[i] });
  for (const [i, domain] of domains.entries()) {
    // "*.example.com" says what an entry means anyway: the domain and its subdomains.
    const host = normalizeHost(domain.replace(/^\*\./, ''));
    if (!host) refuse(i, 'Value error, expected a host name such as example.com, without scheme, port or path');
    else if (isPublicSuffix(host)) refuse(i, `Value error, '${host.host}' is a public suffix; name a domain that one owner controls`);
    else hosts.add(host.host);
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return [...hosts];
}
