// What an MCP client sees of Sesame: the server's instructions, the two tools (names, descriptions
// written for a model, input and output JSON Schemas) and the shape of their results. Shared by the
// HTTP endpoint and `sesame mcp` (stdio), which answers tools/list without reaching a server, so this
// file stays light: TypeBox schemas and strings, nothing that connects anywhere.
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { FillAnswer, FillBody, ListSecretsAnswer } from '../fill/fill.schemas.js';

export const LIST_SECRETS = 'list_secrets';
export const FILL_SECRET_AT = 'fill_secret_at';

export const INSTRUCTIONS = `Sesame signs you in to websites with logins stored in 1Password, without you ever seeing a secret. It acts on the browser your session is bound to.
Workflow: open the login page; call list_secrets to learn which fields can be filled there; take a fresh screenshot, find each input, and call fill_secret_at once per field with the input's viewport coordinates; then click the sign-in button yourself. For a one-time-code step, fill the field "totp".
Values are never returned to you. Never ask the user for a password or a code, and never type one yourself. A refusal ("filled": false, or an empty field list with a "reason") is a normal answer, not an error: act on its reason as each tool's description says.`;

const LIST_SECRETS_DESCRIPTION = `List the secret fields Sesame can type into the page the browser shows now (for example username, password, totp for a one-time code, or a custom field such as PIN), from the 1Password logins saved for this site. Never returns a value: only each field's name, its kind, and whether several saved accounts match ("ambiguous"; then pass "account" to fill_secret_at).
Call it once the login page has loaded, and again after the browser moves to another site or step.
An empty "fields" list without a "reason" means no saved login fits this page. With a "reason":
- insecure_page: the page is not HTTPS (or has no origin of its own); do not sign in here.
- cross_site_frame: the login form is framed by another site; open the login page itself.
- domain_not_allowed: your grant does not cover this site; stop and tell the user.
- provider_unavailable: 1Password could not be reached; retry in a moment, or tell the user.
- grant_expired: your grant has expired or used all its fills; stop and ask the user for a new one.`;

const FILL_SECRET_AT_DESCRIPTION = `Type one secret (a field list_secrets offers: username, password, totp, or a custom field) into the input at viewport point (x, y) of the page the browser shows. The value goes from 1Password straight into the page and is never returned: you get {"filled": true} or a refusal with a reason.
x and y are CSS pixels of the viewport, the coordinates a mouse click uses; aim at the middle of the input. On a screenshot taken at a device scale factor of 2, halve the pixel coordinates. Fill one field per call; Sesame never submits the form, so click the sign-in button yourself afterwards.
If "filled" is false, act on "reason":
- not_editable, not_visible: point at the input itself; scroll or close what covers it, take a new screenshot, retry.
- not_a_password_input: passwords go only into password inputs; aim at the password box.
- not_landed: the page changed during the fill; take a new screenshot and retry.
- no_match: use a field name list_secrets offers, or an "account" among those it says are tied.
- new_password_field: a sign-up or change-password form; do not fill it.
- insecure_page, cross_site_frame, cross_site_form, too_long: do not fill on this page.
- domain_not_allowed, grant_expired: stop and ask the user for a new grant.
- provider_unavailable: retry in a moment, or tell the user.`;

/** fill_secret_at's arguments: the HTTP fill's body without the browser, which the grant names. */
export const FillArguments = Type.Object(
  {
    x: Type.Number({ ...FillBody.properties.x, description: 'Horizontal viewport coordinate of the input, CSS pixels from the left edge' }),
    y: Type.Number({ ...FillBody.properties.y, description: 'Vertical viewport coordinate of the input, CSS pixels from the top edge' }),
    field: Type.String({
      ...FillBody.properties.field,
      description: 'username, password, totp, or the name of another field list_secrets returned (case-insensitive)',
    }),
    account: Type.Optional(
      Type.String({
        ...FillBody.properties.account,
        description: 'The username of the saved login to use, when list_secrets marks the field ambiguous',
      }),
    ),
  },
  { additionalProperties: false },
);
export type FillArguments = Static<typeof FillArguments>;

export const NoArguments = Type.Object({}, { additionalProperties: false });

/** A TypeBox schema as the plain JSON Schema the wire carries: no TypeBox symbols, no Sesame annotations (x-…). */
export function wireSchema(schema: TSchema): Tool['inputSchema'] {
  return JSON.parse(JSON.stringify(schema), (key, value) => (key.startsWith('x-') ? undefined : value)) as Tool['inputSchema'];
}

export const TOOLS: Tool[] = [
  {
    name: LIST_SECRETS,
    title: 'List fillable secret fields',
    description: LIST_SECRETS_DESCRIPTION,
    inputSchema: wireSchema(NoArguments),
    outputSchema: wireSchema(ListSecretsAnswer),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  },
  {
    name: FILL_SECRET_AT,
    title: 'Fill a secret into the input at (x, y)',
    description: FILL_SECRET_AT_DESCRIPTION,
    inputSchema: wireSchema(FillArguments),
    outputSchema: wireSchema(FillAnswer),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
];

/** An answer (a refusal included): the structured result, and the same JSON as text for clients that read only text. */
export function answer(structured: object): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(structured) }], structuredContent: structured as Record<string, unknown> };
}

/**
 * A failure to act (no browser, rate limited, bad arguments): one sentence for the model and no
 * structured content, which a client would check against the output schema.
 */
export function toolError(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/** The tool error for a grant that names no browser. */
export const UNBOUND_GRANT =
  'This grant is not bound to a browser, so Sesame does not know which browser to act on. Nothing was done. Ask the user for a grant bound to your browser.';
