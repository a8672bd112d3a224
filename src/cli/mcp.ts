// `sesame mcp --url <Sesame base URL>`: MCP over stdio, for clients that launch a command. It holds
// no database, no key and no secret: it answers initialize and tools/list itself (from the same
// definitions as the server, so a client starts even while the server is down) and forwards each
// tools/call to the running server's /mcp, authenticated by the grant in SESAME_GRANT. The server
// applies every rule and writes every audit event.
//
// Each call is one POST of one JSON-RPC message (the endpoint is stateless: no session to set up), with
// a deadline (SESAME_MCP_TIMEOUT_MS), and aborted when the client cancels the call: the server then
// stops the fill, so nothing is typed after the agent gave up on it. stdout carries only MCP messages;
// everything else goes to stderr.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  CallToolResultSchema,
  JSONRPCErrorResponseSchema,
  JSONRPCResultResponseSchema,
  LATEST_PROTOCOL_VERSION,
  ListToolsRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { isLoopbackHost, type McpClientConfig } from '../config.js';
import { FILL_SECRET_AT, INSTRUCTIONS, TOOLS } from '../modules/mcp/mcp.tools.js';

/** Answers of the server are small; anything bigger is not one of them. */
const MAX_ANSWER_BYTES = 1024 * 1024;

const log = (message: string) => process.stderr.write(`sesame mcp: ${message}\n`);

/** The /mcp endpoint of a Sesame base URL (a URL that already ends in /mcp is taken as it is). */
export function mcpEndpoint(base: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error(`--url must be Sesame's base URL, such as http://127.0.0.1:8080 (got something that is not a URL)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('--url must be an http:// or https:// URL');
  if (url.username || url.password) throw new Error('--url must not carry credentials; the grant goes in SESAME_GRANT');
  if (/\/mcp\/?$/.test(url.pathname)) return url;
  return new URL('mcp', url.href.endsWith('/') ? url.href : `${url.href}/`);
}

export interface StdioBridge {
  /** Resolves when the client closes stdin (or the bridge is closed). */
  closed: Promise<void>;
  close(): Promise<void>;
}

export async function runStdioBridge(config: McpClientConfig, url: string): Promise<StdioBridge> {
  const endpoint = mcpEndpoint(url);
  if (endpoint.protocol === 'http:' && !isLoopbackHost(endpoint.hostname.replace(/^\[(.*)\]$/, '$1'))) {
    log(`warning: ${endpoint.origin} is plain HTTP off this machine: the grant travels unencrypted`);
  }
  const forward = forwarder(config, endpoint);

  // The low-level Server (marked deprecated in favour of McpServer) serves the JSON Schemas as they are.
  const server = new Server(
    { name: 'sesame', title: 'Sesame', version: config.version },
    { instructions: INSTRUCTIONS, capabilities: { tools: { listChanged: false } } },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, (request, extra) => forward(request.params, extra.signal));

  const transport = new StdioServerTransport();
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  transport.onclose = () => resolveClosed();
  // The client ends the session by closing our stdin.
  process.stdin.once('end', () => void server.close());
  await server.connect(transport);
  log(`forwarding tool calls to ${endpoint.href}`);
  return { closed, close: () => server.close() };
}

/** Forwards one tools/call; every way it can fail becomes a tool error the model can act on. */
function forwarder(config: McpClientConfig, endpoint: URL) {
  let nextId = 1;
  return async (params: { name: string; arguments?: Record<string, unknown> }, cancelled: AbortSignal): Promise<CallToolResult> => {
    const mayHaveFilled = params.name === FILL_SECRET_AT;
    const deadline = AbortSignal.timeout(config.timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${config.grant}`,
          accept: 'application/json, text/event-stream',
          'content-type': 'application/json',
          'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: 'tools/call', params }),
        signal: AbortSignal.any([deadline, cancelled]),
        redirect: 'error',
      });
      text = await readCapped(response);
    } catch (err) {
      if (deadline.aborted) {
        return toolError(
          `Sesame did not answer within ${config.timeoutMs / 1000} s, so the call was stopped.` +
            (mayHaveFilled ? ' The field may or may not have been filled: take a new screenshot before retrying.' : ' Retry in a moment.'),
        );
      }
      if (cancelled.aborted) return toolError('The call was cancelled.');
      const code = networkCode(err);
      log(`${endpoint.origin} could not be reached (${code ?? 'network error'})`);
      const refused = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
      return toolError(
        `Sesame at ${endpoint.origin} could not be reached (${code ?? 'network error'}). ` +
          (refused || !mayHaveFilled ? 'Nothing was done. ' : 'The field may or may not have been filled: take a new screenshot. ') +
          'Retry in a moment, or tell the user.',
      );
    }
    if (response.status === 401) {
      return toolError(
        'Sesame refused the grant in SESAME_GRANT: it is unknown, revoked, or its vault was deleted. Nothing was done. Ask the user for a new grant bound to your browser.',
      );
    }
    if (response.status !== 200) {
      log(`${endpoint.href} answered HTTP ${response.status}`);
      return toolError(`Sesame answered HTTP ${response.status} to this call. Nothing was done. Retry in a moment, or tell the user.`);
    }
    return resultOf(text);
  };
}

/** The tool result in the server's JSON-RPC answer; its protocol error is passed on as one. */
function resultOf(text: string): CallToolResult {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    message = undefined;
  }
  const failed = JSONRPCErrorResponseSchema.safeParse(message);
  if (failed.success) throw new McpError(failed.data.error.code, failed.data.error.message, failed.data.error.data);
  const answered = JSONRPCResultResponseSchema.safeParse(message);
  const result = answered.success ? CallToolResultSchema.safeParse(answered.data.result) : undefined;
  if (!result?.success) {
    log('the server answered something that is not a tool result');
    return toolError('Sesame answered something that is not a tool result. Nothing was done. Retry in a moment, or tell the user.');
  }
  return result.data;
}

async function readCapped(response: Response): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > MAX_ANSWER_BYTES) throw new Error('answer too large');
  const text = await response.text();
  if (text.length > MAX_ANSWER_BYTES) throw new Error('answer too large');
  return text;
}

/** The system error code behind a failed fetch (ECONNREFUSED, ENOTFOUND, …), also inside an AggregateError of several addresses. */
function networkCode(err: unknown): string | undefined {
  const cause = err instanceof Error ? (err.cause as { code?: unknown; errors?: { code?: unknown }[] } | undefined) : undefined;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  return typeof code === 'string' ? code : undefined;
}

const toolError = (text: string): CallToolResult => ({ content: [{ type: 'text', text }], isError: true });

/** The command: serves until the client closes stdin, or SIGINT/SIGTERM. */
export async function mcpCommand(config: McpClientConfig, url: string): Promise<void> {
  const bridge = await runStdioBridge(config, url);
  const stop = () => void bridge.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await bridge.closed;
}
