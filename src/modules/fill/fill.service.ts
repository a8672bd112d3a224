// list_secrets and fill_secret_at for a caller: checks the CDP endpoint and the caller's
// credential, connects to the browser, runs the library functions of page-fill.ts on the vault,
// and writes one audit event per call. The vault's token is opened for this call only.
import type { Page } from 'playwright-core';
import { DomainError } from '../../errors.js';
import type { MetricsRegistry } from '../../metrics.js';
import type { SecretsProvider, ServiceToken } from '../../providers/provider.js';
import type { AuditEntry, AuditRecorder } from '../audit/audit.service.js';
import type { BoundBrowser, Caller } from '../auth/caller.js';
import { domainAllowed, type GrantService } from '../grants/grants.service.js';
import type { VaultService } from '../vaults/vaults.service.js';
import { type CdpAllowList, CdpError, type CdpPool, parseCdpEndpoint } from './cdp.js';
import type { FillBody, ListSecretsBody } from './fill.schemas.js';
import { BrowserError, type FillAnswer, type FillGuard, type FillReport, type ListSecretsAnswer, type SecretSource } from './fill.types.js';
import { fillSecretAt, listSecrets } from './page-fill.js';
import { REFUSAL_REASONS, type Refusal } from './refusals.js';
import { MIN_REMAINING_MS } from './totp.js';
import { type FieldCache, vaultSecretSource } from './vault-source.js';

export interface FillServiceDeps {
  vaults: Pick<VaultService, 'open'>;
  provider: SecretsProvider;
  grants: Pick<GrantService, 'isExpired' | 'reserveFill' | 'releaseFill'>;
  audit: AuditRecorder;
  browsers: CdpPool;
  allowList: CdpAllowList;
  fieldCache: FieldCache;
  /** Deadline of one call in the browser (the TOTP wait comes on top). */
  timeoutMs: number;
  /** Where answers are counted by action, outcome and reason. */
  metrics?: MetricsRegistry;
}

/** Which browser (and page) a call names. Optional: a grant bound to a browser brings its own. */
export interface BrowserRequest {
  cdp_endpoint?: string;
  target_id?: string;
}

/** What list_secrets takes: the HTTP body, or an MCP call (whose grant names the browser). */
export type ListSecretsInput = BrowserRequest & Omit<ListSecretsBody, keyof BrowserRequest>;
/** What fill_secret_at takes. */
export type FillInput = BrowserRequest & Omit<FillBody, keyof BrowserRequest>;

export interface CallOptions {
  /** The caller went away: stop, and type nothing more (aborts like the deadline does). */
  signal?: AbortSignal;
}

/** Why an action failed (not refused): the audit reasons of perform() below. */
const FAILURE_REASONS = [
  'cdp_endpoint_not_allowed',
  'cdp_endpoint_mismatch',
  'target_id_mismatch',
  'internal_error',
  'browser_timeout',
  'browser_unreachable',
  'no_such_page',
  'browser_gone',
  'client_closed',
];
const OUTCOME_REASONS = ['none', ...REFUSAL_REASONS, ...FAILURE_REASONS, 'other'];

/** One call of either action, as the shared steps below see it. */
interface Call<A> {
  caller: Caller;
  vaultId: string;
  body: BrowserRequest;
  options: CallOptions;
  action: 'list_secrets' | 'fill';
  field: string | null;
  /** The answer for a refusal decided before the browser is asked anything. */
  refused: (refusal: Refusal) => A;
  run: (page: Page, context: RunContext) => Promise<A>;
}

interface RunContext {
  source: SecretSource;
  guard: FillGuard | undefined;
  report: FillReport;
  signal: AbortSignal;
}

const GRANT_EXPIRED: Refusal = { reason: 'grant_expired', detail: 'This grant has expired; ask for a new one.' };
const UNDECRYPTABLE: Refusal = {
  reason: 'provider_unavailable',
  detail: "The vault's stored token cannot be decrypted; an administrator must rotate it.",
};

export function createFillService(deps: FillServiceDeps) {
  const { vaults, provider, grants, audit, browsers, allowList, fieldCache, timeoutMs } = deps;
  const outcomes = deps.metrics?.counter('sesame_fill_outcomes_total', 'list-secrets and fill answers, by action, outcome and reason', {
    action: ['list_secrets', 'fill'],
    outcome: ['ok', 'refused', 'failed'],
    reason: OUTCOME_REASONS,
  });

  /** Every answer is audited, and counted (the same outcome and reason). */
  function record(entry: AuditEntry): Promise<void> {
    const reason = entry.reason ?? 'none';
    const action = entry.action === 'fill' ? 'fill' : 'list_secrets';
    outcomes?.inc({ action, outcome: entry.outcome, reason: OUTCOME_REASONS.includes(reason) ? reason : 'other' });
    return audit.record(entry);
  }

  function grantGuard({ orgId, grant }: Caller): FillGuard | undefined {
    if (!grant) return undefined;
    let reserved = false;
    return {
      checkPage: (page) =>
        domainAllowed(grant, page.host)
          ? undefined
          : { reason: 'domain_not_allowed', detail: `This grant does not allow filling on ${page.host}.` },
      async reserve() {
        if (await grants.reserveFill(orgId, grant)) {
          reserved = true;
          return undefined;
        }
        return grants.isExpired(grant) ? GRANT_EXPIRED : { reason: 'grant_expired', detail: 'This grant has used all of its fills.' };
      },
      async release() {
        if (reserved) await grants.releaseFill(orgId, grant);
        reserved = false;
      },
    };
  }

  /** Everything both actions share. The answer (or failure) is audited with what the library reported about the page and item. */
  async function perform<A extends ListSecretsAnswer | FillAnswer>(call: Call<A>): Promise<A> {
    const { caller, vaultId } = call;
    const vault = await vaults.open(caller, vaultId);
    const base: Omit<AuditEntry, 'outcome'> = { caller, vaultId, action: call.action, field: call.field };
    const chosen = chooseBrowser(caller.grant?.browser ?? null, call.body);
    if ('mismatch' in chosen) {
      await record({ ...base, outcome: 'failed', reason: chosen.mismatch.code });
      throw chosen.mismatch;
    }
    const endpoint = parseCdpEndpoint(chosen.cdpEndpoint);
    if (!endpoint || !allowList.allows(endpoint)) {
      await record({ ...base, outcome: 'failed', reason: 'cdp_endpoint_not_allowed' });
      throw new DomainError('cdp_not_allowed', { endpoint: chosen.cdpEndpoint });
    }
    const refuse = async (refusal: Refusal) => {
      await record({ ...base, outcome: 'refused', reason: refusal.reason });
      return call.refused(refusal);
    };
    if (caller.grant && grants.isExpired(caller.grant)) return refuse(GRANT_EXPIRED);
    let token: ServiceToken;
    try {
      token = vault.token();
    } catch (err) {
      // Its master key was removed, or the row was copied or tampered with: nothing to fill from.
      if (err instanceof DomainError && err.is('undecryptable')) return refuse(UNDECRYPTABLE);
      throw err;
    }

    const report: FillReport = { origin: null, itemId: null };
    const controller = new AbortController();
    const deadlineMs = timeoutMs + (call.action === 'fill' ? MIN_REMAINING_MS : 0);
    const callerSignal = call.options.signal;
    let timer: NodeJS.Timeout | undefined;
    let stopOnHangUp: (() => void) | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new CdpError('timeout', 'The browser did not answer in time; nothing was typed after the deadline'));
      }, deadlineMs);
      stopOnHangUp = () => {
        controller.abort();
        reject(new BrowserError('aborted', 'The caller went away; nothing was typed after that'));
      };
      if (callerSignal?.aborted) stopOnHangUp();
      else callerSignal?.addEventListener('abort', stopOnHangUp, { once: true });
    });
    try {
      const answer = await Promise.race([
        (async () => {
          const page = await browsers.page(endpoint, chosen.targetId);
          const source = vaultSecretSource({ provider, vault, token, cache: fieldCache });
          return call.run(page, { source, guard: grantGuard(caller), report, signal: controller.signal });
        })(),
        deadline,
      ]);
      const refused = 'reason' in answer && answer.reason !== undefined;
      await record({
        ...base,
        origin: report.origin,
        itemId: report.itemId,
        outcome: refused ? 'refused' : 'ok',
        reason: refused ? answer.reason : null,
      });
      return answer;
    } catch (err) {
      const failure = browserFailure(err);
      const failed = { ...base, origin: report.origin, itemId: report.itemId, outcome: 'failed' as const };
      if (!failure) {
        // An unexpected error (the database, a bug) is still an attempt on record, if the record can be written.
        await record({ ...failed, reason: 'internal_error' }).catch(() => undefined);
        throw err;
      }
      await record({ ...failed, reason: callerSignal?.aborted ? 'client_closed' : failure.reason });
      throw failure.error;
    } finally {
      clearTimeout(timer);
      if (stopOnHangUp) callerSignal?.removeEventListener('abort', stopOnHangUp);
      controller.abort();
    }
  }

  return {
    listSecrets(caller: Caller, vaultId: string, body: ListSecretsInput, options: CallOptions = {}): Promise<ListSecretsAnswer> {
      return perform({
        caller,
        vaultId,
        body,
        options,
        action: 'list_secrets',
        field: null,
        refused: (refusal) => ({ origin: null, fields: [], ...refusal }),
        run: (page, { source, guard, report, signal }) => listSecrets(page, source, { guard, report, signal }),
      });
    },

    fill(caller: Caller, vaultId: string, body: FillInput, options: CallOptions = {}): Promise<FillAnswer> {
      const { x, y, field, account } = body;
      return perform({
        caller,
        vaultId,
        body,
        options,
        action: 'fill',
        field,
        refused: (refusal) => ({ filled: false, field, ...refusal }),
        run: (page, { source, guard, report, signal }) => fillSecretAt(page, { x, y, field, account }, source, { guard, report, signal }),
      });
    },
  };
}

/**
 * The browser (and page) a call acts on. A grant bound to a browser acts there only: the request may
 * leave the endpoint out, or repeat it (compared as URLs), and may pick a page unless the grant names
 * one. Anyone else must name the browser.
 */
export function chooseBrowser(
  bound: BoundBrowser | null,
  request: BrowserRequest,
): { cdpEndpoint: string; targetId: string | undefined } | { mismatch: DomainError<'cdp_endpoint_mismatch' | 'target_id_mismatch'> } {
  if (!bound) {
    if (request.cdp_endpoint === undefined) throw new DomainError('browser_not_bound');
    return { cdpEndpoint: request.cdp_endpoint, targetId: request.target_id };
  }
  if (request.cdp_endpoint !== undefined && !sameEndpoint(request.cdp_endpoint, bound.cdpEndpoint)) {
    return { mismatch: new DomainError('cdp_endpoint_mismatch', { endpoint: request.cdp_endpoint }) };
  }
  if (request.target_id !== undefined && bound.targetId !== null && request.target_id !== bound.targetId) {
    return { mismatch: new DomainError('target_id_mismatch', { targetId: request.target_id }) };
  }
  return { cdpEndpoint: bound.cdpEndpoint, targetId: request.target_id ?? bound.targetId ?? undefined };
}

function sameEndpoint(a: string, b: string): boolean {
  const [left, right] = [parseCdpEndpoint(a), parseCdpEndpoint(b)];
  return left !== null && right !== null && left.href === right.href;
}

export type FillService = ReturnType<typeof createFillService>;

/** A browser that cannot be reached or used: the domain error, and the audit reason. */
function browserFailure(err: unknown): { error: DomainError; reason: string } | undefined {
  if (err instanceof CdpError) {
    switch (err.kind) {
      case 'timeout':
        return { error: new DomainError('browser_timeout', { message: err.message }), reason: 'browser_timeout' };
      case 'unreachable':
        return { error: new DomainError('browser_unreachable', { message: err.message }), reason: 'browser_unreachable' };
      default:
        return { error: new DomainError('page_not_found', { message: err.message }), reason: 'no_such_page' };
    }
  }
  if (err instanceof BrowserError) {
    return { error: new DomainError('browser_gone', { message: err.message }), reason: 'browser_gone' };
  }
  return undefined;
}
