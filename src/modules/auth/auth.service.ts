// Issuing and checking API keys. A key is shown once; only its SHA-256 is stored. SHA-256 (not a slow
// KDF) is right here: keys carry 256 bits of entropy, and a slow hash on every request would cap throughput.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { DomainError } from '../../errors.js';
import type { AuthRepo, Organization } from './auth.repo.js';
import type { Caller } from './caller.js';

/** Fixed, greppable prefix so secret scanners can spot a leaked key. */
export const API_KEY_PREFIX = 'sesame_ak_';
const API_KEY_PATTERN = /^sesame_ak_[A-Za-z0-9_-]{43}$/;

/** The credential id of requests authenticated by a trusted gateway, which carry no API key. */
export const GATEWAY_ACTOR = 'trusted-gateway';

/** Org ids known to exist, so trusted-gateway requests do not write on every call; bounded against an endless stream of ids. */
const KNOWN_ORGS_LIMIT = 10_000;

export interface IssuedApiKey {
  id: string;
  org_id: string;
  key: string;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function createAuthService({ repo, now = () => new Date() }: { repo: AuthRepo; now?: () => Date }) {
  const knownOrgs = new LRUCache<string, true>({ max: KNOWN_ORGS_LIMIT });

  return {
    async createOrganization(name: string): Promise<Organization> {
      const org = { id: randomUUID(), name, created_at: now().toISOString() };
      await repo.insertOrganization(org);
      return org;
    },

    async issueApiKey(orgId: string, name?: string): Promise<IssuedApiKey> {
      if (!(await repo.findOrganization(orgId))) throw new DomainError('organization_not_found', { orgId });
      const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
      const id = randomUUID();
      await repo.insertApiKey({
        id,
        org_id: orgId,
        name: name ?? null,
        key_hash: hashApiKey(key),
        created_at: now().toISOString(),
        revoked_at: null,
      });
      return { id, org_id: orgId, key };
    },

    revokeApiKey(id: string): Promise<boolean> {
      return repo.revokeApiKey(id, now().toISOString());
    },

    /** Resolves an `Authorization` header to its org, or undefined for anything that is not a live key. */
    async authenticate(header: string | undefined): Promise<Caller | undefined> {
      const match = header && /^Bearer +(\S+) *$/i.exec(header);
      if (!match?.[1] || !API_KEY_PATTERN.test(match[1])) return undefined;
      const row = await repo.findActiveApiKey(hashApiKey(match[1]));
      return row && { orgId: row.org_id, credential: { type: 'api_key', id: row.id } };
    },

    /**
     * Trusted-gateway mode: the gateway is the source of truth for orgs, so an org id seen for the first
     * time is created (named after its id) rather than refused.
     */
    async gatewayCaller(orgId: string): Promise<Caller> {
      if (!knownOrgs.has(orgId)) {
        await repo.insertOrganizationIfMissing({ id: orgId, name: orgId, created_at: now().toISOString() });
        knownOrgs.set(orgId, true);
      }
      return { orgId, credential: { type: 'gateway', id: GATEWAY_ACTOR } };
    },

    countOrganizations: () => repo.countOrganizations(),
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
