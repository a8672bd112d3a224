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

/**
 * How often a key's last use is written: at most once per key per minute and instance, off the
 * request's path, so authentication stays one read. `last_used_at` is therefore accurate to a minute.
 */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** An API key as the operator lists it: never the key, never its hash. */
export interface ApiKeyInfo {
  id: string;
  name: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface IssuedApiKey {
  id: string;
  org_id: string;
  key: string;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface AuthServiceDeps {
  repo: AuthRepo;
  now?: () => Date;
  /** A last-used write failed (it never fails the request). */
  onTouchError?: (err: Error) => void;
}

export function createAuthService({ repo, now = () => new Date(), onTouchError = () => {} }: AuthServiceDeps) {
  const knownOrgs = new LRUCache<string, true>({ max: KNOWN_ORGS_LIMIT });
  // Key id → when this instance last wrote its use; bounded like the org cache.
  const touched = new LRUCache<string, number>({ max: KNOWN_ORGS_LIMIT });

  function touch(keyId: string): void {
    const at = now();
    if (at.getTime() - (touched.get(keyId) ?? 0) < LAST_USED_RESOLUTION_MS) return;
    touched.set(keyId, at.getTime());
    repo.touchApiKey(keyId, at.toISOString()).catch((err: unknown) => onTouchError(err instanceof Error ? err : new Error(String(err))));
  }

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
        last_used_at: null,
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
      if (!row) return undefined;
      touch(row.id);
      return { orgId: row.org_id, credential: { type: 'api_key', id: row.id } };
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

    listOrganizations: () => repo.listOrganizations(),

    /** An org's API keys for the operator: ids, names, times; never a key or its hash. */
    async listApiKeys(orgId: string): Promise<ApiKeyInfo[]> {
      if (!(await repo.findOrganization(orgId))) throw new DomainError('organization_not_found', { orgId });
      return (await repo.listApiKeys(orgId)).map(({ id, name, created_at, last_used_at, revoked_at }) => ({
        id,
        name,
        created_at,
        last_used_at,
        revoked_at,
      }));
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
