// The module: list-secrets and fill over HTTP, on browsers reached over CDP.
import type { MetricsRegistry } from '../../metrics.js';
import type { SecretsProvider } from '../../providers/provider.js';
import type { AuditRecorder } from '../audit/audit.service.js';
import type { GrantService } from '../grants/grants.service.js';
import type { VaultService } from '../vaults/vaults.service.js';
import { createCdpAllowList, createCdpPool } from './cdp.js';
import { fillRoutes } from './fill.routes.js';
import { createFillService } from './fill.service.js';
import { createFieldCache } from './vault-source.js';

export interface FillModuleDeps {
  vaults: Pick<VaultService, 'open'>;
  grants: Pick<GrantService, 'isExpired' | 'reserveFill' | 'releaseFill'>;
  audit: AuditRecorder;
  provider: SecretsProvider;
  /** SESAME_CDP_ALLOW entries. */
  cdpAllow: readonly string[];
  /** SESAME_CDP_TIMEOUT_MS: deadline of one call in the browser, connecting included. */
  cdpTimeoutMs: number;
  /** Where answers are counted by action, outcome and reason. */
  metrics?: MetricsRegistry;
}

export function createFillModule({ vaults, grants, audit, provider, cdpAllow, cdpTimeoutMs, metrics }: FillModuleDeps) {
  const browsers = createCdpPool({ timeoutMs: cdpTimeoutMs });
  const service = createFillService({
    vaults,
    grants,
    audit,
    provider,
    browsers,
    allowList: createCdpAllowList(cdpAllow),
    fieldCache: createFieldCache(),
    timeoutMs: cdpTimeoutMs,
    metrics,
  });
  return { service, routes: fillRoutes(service), close: () => browsers.close() };
}
