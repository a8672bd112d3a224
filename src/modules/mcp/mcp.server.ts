// One MCP server for one HTTP request (the endpoint is stateless): tools/list answers the definitions
// of mcp.tools.ts, tools/call runs list-secrets or fill through the same FillService as the HTTP
// routes, so every grant rule and every audit event is the same, and counts one request against the
// grant's rate limit. A refusal is a normal result; a failure to act is a tool error (isError) with a
// sentence of Sesame's own, never the text of an unexpected exception.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { Ajv, type ErrorObject } from 'ajv';
import { isDatabaseUnavailable } from '../../db/database.js';
import { isDomainError } from '../../errors.js';
import type { Caller } from '../auth/caller.js';
import type { FillService } from '../fill/fill.service.js';
import {
  answer,
  FILL_SECRET_AT,
  FillArguments,
  INSTRUCTIONS,
  LIST_SECRETS,
  NoArguments,
  TOOLS,
  toolError,
  UNBOUND_GRANT,
  wireSchema,
} from './mcp.tools.js';

export interface McpCallContext {
  /** The grant the request authenticated with. */
  caller: Caller;
  fill: Pick<FillService, 'listSecrets' | 'fill'>;
  /** Counts one request against the caller's rate limit; throws `rate_limited` beyond it. */
  admit: (caller: Caller) => Promise<void>;
  /** Where an unexpected failure is logged (its class and stack, as the HTTP error handler logs them). */
  logUnexpected: (err: unknown) => void;
  version: string;
}

// Compiled once per process; the per-request servers only use them. The SDK's Server would otherwise
// build an Ajv of its own per instance (for elicitation answers, which Sesame never asks for).
const ajv = new Ajv({ allErrors: true, strict: true });
const validateNoArguments = ajv.compile(wireSchema(NoArguments));
const validateFillArguments = ajv.compile<FillArguments>(wireSchema(FillArguments));
const sharedValidator = new AjvJsonSchemaValidator();

export function createMcpServer(context: McpCallContext): Server {
  // The low-level Server (marked deprecated in favour of McpServer) takes plain JSON Schemas, which
  // Sesame's TypeBox schemas are; McpServer wants zod schemas and would drop unknown arguments silently.
  const server = new Server(
    { name: 'sesame', title: 'Sesame', version: context.version },
    { instructions: INSTRUCTIONS, capabilities: { tools: { listChanged: false } }, jsonSchemaValidator: sharedValidator },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const args = request.params.arguments ?? {};
    switch (request.params.name) {
      case LIST_SECRETS:
        if (!validateNoArguments(args)) return invalidArguments(LIST_SECRETS, validateNoArguments.errors);
        return run(context, (caller, vaultId) => context.fill.listSecrets(caller, vaultId, {}, { signal: extra.signal }));
      case FILL_SECRET_AT: {
        if (!validateFillArguments(args)) return invalidArguments(FILL_SECRET_AT, validateFillArguments.errors);
        const { x, y, field, account } = args;
        const body = { x, y, field, ...(account === undefined ? {} : { account }) };
        return run(context, (caller, vaultId) => context.fill.fill(caller, vaultId, body, { signal: extra.signal }));
      }
      default:
        // The one protocol error: the spec answers an unknown tool with -32602.
        throw new McpError(ErrorCode.InvalidParams, `Unknown tool; Sesame's tools are ${LIST_SECRETS} and ${FILL_SECRET_AT}`);
    }
  });
  return server;
}

async function run(context: McpCallContext, action: (caller: Caller, vaultId: string) => Promise<object>): Promise<CallToolResult> {
  const { caller } = context;
  const vaultId = caller.grant?.vaultId;
  if (!vaultId) return toolError(UNBOUND_GRANT); // the endpoint admits grants only; kept as a guard
  try {
    await context.admit(caller);
    return answer(await action(caller, vaultId));
  } catch (err) {
    return failure(err, context);
  }
}

/** What the model is told when Sesame could not act. Sentences are Sesame's own: a DomainError's, or fixed ones. */
export function failure(err: unknown, context: Pick<McpCallContext, 'logUnexpected'>): CallToolResult {
  if (isDomainError(err)) {
    switch (err.code) {
      case 'browser_not_bound':
        return toolError(UNBOUND_GRANT);
      case 'rate_limited':
        return toolError(`${err.message} Wait that long before the next call.`);
      case 'browser_unreachable':
      case 'browser_gone':
        return toolError(
          `The browser could not be reached or went away (${err.message}). Nothing more was typed. Check that the browser is still open, take a new screenshot, then retry.`,
        );
      case 'browser_timeout':
        return toolError(`${err.message}. Take a new screenshot to see the page as it is, then retry.`);
      case 'page_not_found':
        return toolError(
          `Sesame could not tell which page to act on: ${err.message.replace(/^Value error, /, '')}. Nothing was done. Keep one page open in the browser, or ask the user for a grant bound to the page you work in.`,
        );
      case 'cdp_not_allowed':
        return toolError(
          "This grant's browser is not one this Sesame server may reach (SESAME_CDP_ALLOW). Nothing was done. Ask the user for a new grant.",
        );
      case 'vault_not_found':
        return toolError('The vault of this grant no longer exists. Nothing was done. Ask the user for a new grant.');
      default:
        return toolError(err.message);
    }
  }
  if (isDatabaseUnavailable(err)) return toolError('Sesame cannot reach its database. Nothing was done; retry in a moment.');
  context.logUnexpected(err);
  return toolError('Sesame failed to complete this call. Retry in a moment, or tell the user.');
}

/** Which arguments are wrong and how, never their values (a model may have put anything in them). */
function invalidArguments(tool: string, errors: ErrorObject[] | null | undefined): CallToolResult {
  const problems = (errors ?? []).map((error) => {
    if (error.keyword === 'additionalProperties') return `unknown argument "${String(error.params.additionalProperty).slice(0, 64)}"`;
    if (error.keyword === 'required') return `"${String(error.params.missingProperty)}" is required`;
    const name = error.instancePath.slice(1) || 'arguments';
    return `"${name}" ${error.message ?? 'is invalid'}`;
  });
  return toolError(`Invalid arguments for ${tool}: ${[...new Set(problems)].join('; ')}. Nothing was done; see the tool's input schema.`);
}
