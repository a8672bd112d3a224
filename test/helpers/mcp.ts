// MCP clients for the tests: the SDK's own Client over Streamable HTTP or stdio, with every JSON-RPC
// message it sends or receives recorded (a tap around the transport), and every HTTP exchange it
// makes recorded raw (a wrapping fetch), for the canary checks.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';

/** Everything that crossed the wire, for canary searches. */
export interface McpRecord {
  /** Every JSON-RPC message, both directions, serialized. */
  messages: string[];
  /** Every HTTP request and response: method, URL, headers and bodies. */
  http: string[];
}

export const newRecord = (): McpRecord => ({ messages: [], http: [] });

/** Wraps a transport and records each message it carries, both ways. */
export class TapTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

  constructor(
    readonly inner: Transport,
    readonly sink: string[],
  ) {}

  get sessionId() {
    return this.inner.sessionId;
  }

  setProtocolVersion(version: string) {
    this.inner.setProtocolVersion?.(version);
  }

  async start() {
    this.inner.onmessage = (message, extra) => {
      this.sink.push(`<- ${JSON.stringify(message)}`);
      this.onmessage?.(message, extra);
    };
    this.inner.onerror = (error) => this.onerror?.(error);
    this.inner.onclose = () => this.onclose?.();
    await this.inner.start();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions) {
    this.sink.push(`-> ${JSON.stringify(message)}`);
    await this.inner.send(message, options);
  }

  async close() {
    await this.inner.close();
  }
}

/** A fetch that records what it sends and receives (headers included, so a leaked value in one would show). */
export function recordingFetch(sink: string[]): typeof fetch {
  return async (input, init) => {
    sink.push(
      `${init?.method ?? 'GET'} ${String(input)} ${JSON.stringify(Object.fromEntries(new Headers(init?.headers)))} ${String(init?.body ?? '')}`,
    );
    const response = await fetch(input, init);
    const copy = response.clone();
    sink.push(`${response.status} ${JSON.stringify(Object.fromEntries(response.headers))} ${await copy.text()}`);
    return response;
  };
}

/** The SDK's Client on the server's /mcp, authenticated by `credential`. */
export async function httpClient(baseUrl: string, credential: string, record: McpRecord = newRecord()): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', baseUrl), {
    requestInit: { headers: { Authorization: `Bearer ${credential}` } },
    fetch: recordingFetch(record.http),
  });
  const client = new Client({ name: 'sesame-test', version: '0.0.0' });
  await client.connect(new TapTransport(transport, record.messages));
  return client;
}

/** The SDK's Client on a command it launches (`sesame mcp`), as a desktop MCP client does. */
export async function stdioClient(
  command: string,
  args: string[],
  env: Record<string, string>,
  record: McpRecord = newRecord(),
  cwd?: string,
): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({ command, args, env, cwd, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const client = new Client({ name: 'sesame-test-stdio', version: '0.0.0' });
  await client.connect(new TapTransport(transport, record.messages));
  return { client, stderr: () => stderr };
}

export const callTool = async (client: Client, name: string, args: Record<string, unknown> = {}) =>
  (await client.callTool({ name, arguments: args })) as CallToolResult;

/** The text of a tool result's first content block. */
export const textOf = (result: CallToolResult) => (result.content[0]?.type === 'text' ? result.content[0].text : '');
