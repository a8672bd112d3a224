// The HTTP side of list_secrets and fill_secret_at: checks the CDP endpoint and the caller's
// credential, connects to the browser, runs the library functions of page-fill.ts on a vault
// source, and writes one audit event per call. The vault's token is opened for this call only.
import type { Page } from 'playwright-core';
import { DecryptError, type Envelope } from '../../crypto/envelope.js';
import { HttpError, ValidationError, vaultNotFound } from '../../errors.js';
import type { Caller } from '../../http/auth.js';
import type { SecretsProvider } from '../../providers/provider.js';
import type { AuditEntry, AuditRecorder } from '../audit/audit.service.js';
import { domainAllowed, type GrantPrincipal, type GrantService } from '../grants/grants.service.js';
import { sealedOf, type VaultRepo } from '../vaults/vaults.repo.js';
import { tokenContext } from '../vaults/vaults.service.js';
import { type CdpAllowList, CdpError, type CdpPool, parseCdpEndpoint } from './cdp.js';
import type { FillBody, ListSecretsBody } from './fill.schemas.js';
import { BrowserError, type FillAnswer, type FillGuard, type FillReport, type ListSecretsAnswer } from './fill.types.js';
import { fillSecretAt, listSecrets } from './page-fill.js';
import type { Refusal } from './refusals.js';
import { MIN_REMAINING_MS } from './totp.js';
import { type FieldCache, vaultSecretSource } from './vault-source.js';

export interface FillServiceDeps {
  vaults: Pick<VaultRepo, 'findWithToken'>;
  envelope: Envelope;
  provider: SecretsProvider;
  grants: Pick<GrantService, 'isExpired' | 'reserveFill' | 'releaseFill'>;
  audit: AuditRecorder;
  browsers: CdpPool;
  allowList: CdpAllowList;
  fieldCache: FieldCache;
  /** Deadline of one call in the browser (the TOTP wait comes on top). */
  timeoutMs: number;
}

export function createFillService(deps: FillServiceDeps) {
  const { vaults, envelope, provider, grants, audit, browsers, allowList, fieldCache, timeoutMs } = deps;

  function grantGuard(grant: GrantPrincipal | undefined): FillGuard | undefined {
    if (!grant) return undefined;
    let reserved = false;
    return {
      checkPage: (page) =>
        domainAllowed(grant, page.host)
          ? undefined
          : { reason: 'domain_not_allowed', detail: `This grant does not allow filling on ${page.host}.` },
      async reserve() {
        if (await grants.reserveFill(grant)) {
          reserved = true;
          return undefined;
        }
        return grants.isExpired(grant) ? GRANT_EXPIRED : { reason: 'grant_expired', detail: 'This grant has used all of its fills.' };
      },
      async release() {
        if (reserved) await grants.releaseFill(grant);
        reserved = false;
      },
    };
  }

  /**
   * Everything both actions share. `run` gets the page's source and guard; its answer (or failure) is
   * audited with what the library reported about the page and item.
   */
  async function perform<A extends ListSecretsAnswer | FillAnswer>(
    caller: Caller,
    vaultId: string,
    body: ListSecretsBody,
    kind: 'list_secrets' | 'fill',
    field: string | null,
    refusalAnswer: (refusal: Refusal) => A,
    run: (page: Page, context: RunContext) => Promise<A>,
  ): Promise<A> {
    const row = await vaults.findWithToken(caller.orgId, vaultId);
    if (!row) throw vaultNotFound();
    const base: Omit<AuditEntry, 'outcome'> = { orgId: caller.orgId, vaultId, actor: caller.actor, action: kind, field };
    const endpoint = parseCdpEndpoint(body.cdp_endpoint);
    if (!endpoint || !allowList.allows(endpoint)) {
      await audit.record({ ...base, outcome: 'failed', reason: 'cdp_endpoint_not_allowed' });
      throw endpointNotAllowed(body.cdp_endpoint);
    }
    if (caller.grant && grants.isExpired(caller.grant)) {
      await audit.record({ ...base, outcome: 'refused', reason: GRANT_EXPIRED.reason });
      return refusalAnswer(GRANT_EXPIRED);
    }
    let token: string;
    try {
      token = envelope.open(sealedOf(row), tokenContext(row.org_id, row.id));
    } catch (err) {
      // Its master key was removed, or the row was copied or tampered with: nothing to fill from.
      if (!(err instanceof DecryptError)) throw err;
      await audit.record({ ...base, outcome: 'refused', reason: UNDECRYPTABLE.reason });
      return refusalAnswer(UNDECRYPTABLE);
    }

    const report: FillReport = { origin: null, itemId: null };
    const controller = new AbortController();
    const deadlineMs = timeoutMs + (kind === 'fill' ? MIN_REMAINING_MS : 0);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new CdpError('timeout', 'The browser did not answer in time; nothing was typed after the deadline'));
      }, deadlineMs);
    });
    try {
      const answer = await Promise.race([
        (async () => {
          const page = await browsers.page(endpoint, body.target_id);
          const source = vaultSecretSource({
            provider,
            vaultId: row.id,
            opVaultId: row.op_vault_id,
            tokenVersion: row.token_version,
            token,
            cache: fieldCache,
          });
          return run(page, { source, guard: grantGuard(caller.grant), report, signal: controller.signal });
        })(),
        deadline,
      ]);
      const refused = 'reason' in answer && answer.reason !== undefined;
      await audit.record({
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
        await audit.record({ ...failed, reason: 'internal_error' }).catch(() => undefined);
        throw err;
      }
      await audit.record({ ...failed, reason: failure.reason });
      throw failure.error;
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }

  return {
    listSecrets(caller: Caller, vaultId: string, body: ListSecretsBody): Promise<ListSecretsAnswer> {
      return perform(
        caller,
        vaultId,
        body,
        'list_secrets',
        null,
        (refusal) => ({ origin: null, fields: [], ...refusal }),
        (page, { source, guard, report, signal }) => listSecrets(page, source, { guard, report, signal }),
      );
    },

    fill(caller: Caller, vaultId: string, body: FillBody): Promise<FillAnswer> {
      const { x, y, field, account } = body;
      return perform(
        caller,
        vaultId,
        body,
        'fill',
        field,
        (refusal) => ({ filled: false, field, ...refusal }),
        (page, { source, guard, report, signal }) => fillSecretAt(page, { x, y, field, account }, source, { guard, report, signal }),
      );
    },
  };
}

export type FillService = ReturnType<typeof createFillService>;

interface RunContext {
  source: ReturnType<typeof vaultSecretSource>;
  guard: FillGuard | undefined;
  report: FillReport;
  signal: AbortSignal;
}

const GRANT_EXPIRED: Refusal = { reason: 'grant_expired', detail: 'This grant has expired; ask for a new one.' };
const UNDECRYPTABLE: Refusal = {
  reason: 'provider_unavailable',
  detail: "The vault's stored token cannot be decrypted; an administrator must rotate it.",
};

function endpointNotAllowed(input: string): ValidationError {
  return new ValidationError([
    {
      type: 'value_error',
      loc: ['body', 'cdp_endpoint'],
      msg: 'Value error, cdp_endpoint is not allowed by this server (SESAME_CDP_ALLOW)',
      input,
    },
  ]);
}

/** A browser that cannot be reached or used: the HTTP answer, and the audit reason. */
function browserFailure(err: unknown): { error: Error; reason: string } | undefined {
  if (err instanceof CdpError) {
    switch (err.kind) {
      case 'timeout':
        return { error: new HttpError(504, err.message), reason: 'browser_timeout' };
      case 'unreachable':
        return { error: new HttpError(502, err.message), reason: 'browser_unreachable' };
      default:
        return {
          error: new ValidationError([
            { type: 'value_error', loc: ['body', 'target_id'], msg: `Value error, ${err.message}`, input: null },
          ]),
          reason: 'no_such_page',
        };
    }
  }
  if (err instanceof BrowserError) {
    return { error: new HttpError(502, err.message), reason: 'browser_gone' };
  }
  return undefined;
}
