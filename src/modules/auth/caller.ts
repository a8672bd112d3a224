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
  /** The browser the grant is bound to (its fills act there and nowhere else); null = the request names one. */
  browser: BoundBrowser | null;
}

/** A browser a grant is bound to: its DevTools endpoint as minted, and optionally one page of it. */
export interface BoundBrowser {
  cdpEndpoint: string;
  targetId: string | null;
}

export interface Caller {
  /** The organization every action of the request is scoped to. */
  orgId: string;
  credential: Credential;
  /** Present when the credential is a grant. */
  grant?: GrantScope;
}
