// The OpenAPI 3.1 document, named as the platform's FastAPI document names things, so that a client
// generated from Sesame's document matches one generated from the platform's: component schemas by
// their `$id` (VaultConfigRead, not def-0), operationIds in FastAPI's form, the HTTPBearer scheme.
// Everything is set through @fastify/swagger's options; the document is never edited by hand.
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';

/**
 * FastAPI's default operationId: the handler's name, the path with every non-word character as `_`,
 * and the method: `get_vault` + `/api/v2/vaults/{vault_id}` + GET → `get_vault_api_v2_vaults__vault_id__get`.
 */
export function fastapiOperationId(name: string, method: string, url: string): string {
  const path = url.replace(/:(\w+)/g, '{$1}');
  const stem = `${name}${path}`.replace(/\W/g, '_');
  return `${stem}_${method.toLowerCase()}`;
}

/**
 * Route schema key: parts of the route's OpenAPI entry (`body`, `response`) that must not drive the
 * app's validation or serialization, for a route whose protocol validates and answers by itself (MCP).
 */
export const DOCUMENT_ONLY = 'x-document-only';

export function swaggerOptions(info: { title: string; version: string; description: string }): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info,
      // FastAPI's name for the scheme of HTTPBearer().
      components: { securitySchemes: { HTTPBearer: { type: 'http', scheme: 'bearer' } } },
    },
    refResolver: {
      // A named schema is listed under its own name; an unnamed nested one keeps the plugin's default.
      buildLocalReference(json, _baseUri, _fragment, i) {
        const id = typeof json.$id === 'string' ? json.$id : undefined;
        if (id && !json.title) json.title = id;
        return id ?? `def-${i}`;
      },
    },
    transform({ schema, url, route }) {
      const { [DOCUMENT_ONLY]: documented, ...rest } = (schema ?? {}) as Record<string, unknown>;
      const merged = { ...rest, ...(documented as object | undefined) } as typeof schema;
      // A route names its handler (operationId: 'get_vault'); the document carries FastAPI's full form.
      const name = (merged as { operationId?: unknown } | undefined)?.operationId;
      if (typeof name !== 'string') return { schema: merged, url };
      const method = [route.method].flat()[0] ?? 'GET';
      return { schema: { ...merged, operationId: fastapiOperationId(name, method, url) } as typeof schema, url };
    },
  };
}
