// The wire shapes of POST /mcp, for the OpenAPI document only: the route hands its body to the MCP
// SDK's transport, which validates JSON-RPC itself and answers protocol errors in JSON-RPC's own
// shape, so these never drive validation or serialization (see DOCUMENT_ONLY).
import { Type } from '@sinclair/typebox';

const Id = Type.Union([Type.String(), Type.Integer(), Type.Null()], { description: 'Absent in a notification' });

export const JsonRpcRequest = Type.Object(
  {
    jsonrpc: Type.Literal('2.0'),
    id: Type.Optional(Id),
    method: Type.String({ description: 'initialize, notifications/initialized, ping, tools/list or tools/call' }),
    params: Type.Optional(
      Type.Object(
        {},
        { additionalProperties: true, description: 'For tools/call: {"name": "list_secrets" | "fill_secret_at", "arguments": {…}}' },
      ),
    ),
  },
  { $id: 'JsonRpcRequest', title: 'JsonRpcRequest', description: 'One JSON-RPC 2.0 message; batches are refused' },
);

export const JsonRpcResponse = Type.Object(
  {
    jsonrpc: Type.Literal('2.0'),
    id: Id,
    result: Type.Optional(Type.Object({}, { additionalProperties: true })),
    error: Type.Optional(
      Type.Object({ code: Type.Integer(), message: Type.String(), data: Type.Optional(Type.Unknown()) }, { additionalProperties: true }),
    ),
  },
  { $id: 'JsonRpcResponse', title: 'JsonRpcResponse' },
);

export const MCP_SCHEMAS = [JsonRpcRequest, JsonRpcResponse];
