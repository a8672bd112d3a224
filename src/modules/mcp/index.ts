// The Model Context Protocol endpoint: agents call list_secrets and fill_secret_at as MCP tools, with
// a grant bound to their browser. Built on the fill service, the grants' authentication and the rate
// limiter, so a tool call obeys the same rules and leaves the same trail as the HTTP routes.
import type { Caller } from '../auth/caller.js';
import type { FillService } from '../fill/fill.service.js';
import { mcpRoutes } from './mcp.routes.js';

export { FILL_SECRET_AT, INSTRUCTIONS, LIST_SECRETS, TOOLS } from './mcp.tools.js';

export interface McpModuleDeps {
  /** Resolves an Authorization header that carries a grant. */
  authenticate: (authorization: string | undefined) => Promise<Caller | undefined>;
  fill: Pick<FillService, 'listSecrets' | 'fill'>;
  /** Counts one request against a caller's rate limit; throws `rate_limited` beyond it. */
  admit: (caller: Caller) => Promise<void>;
  /** The server version MCP clients are told. */
  version: string;
}

export function createMcpModule(deps: McpModuleDeps) {
  return { routes: mcpRoutes(deps) };
}
