// Who is calling: the one name every module uses for the authenticated side of a request.

/** The credential a request authenticated with; recorded as the actor of what it did. */
export interface Credential {
  /** `gateway`: trusted-gateway mode, where requests carry no key of their own. */
  type: 'api_key' | 'grant' | 'gateway';
  id: string;
}

/** What a grant allows: one vault, until it expires, optionally only some domains and a number of fills. */
export interface GrantScope {
  id: string;
  vaultId: string;
  expiresAt: string;
  /** Normalised hosts; null = any domain. */
  allowedDomains: string[] | null;
  maxFills: number | null;
}

export interface Caller {
  /** The organization every action of the request is scoped to. */
  orgId: string;
  credential: Credential;
  /** Present when the credential is a grant. */
  grant?: GrantScope;
}
