// A scripted stand-in for a computer-use agent: it sees the page only through coordinates, asks
// Sesame which secrets fit the page (list_secrets), clicks, and asks Sesame to fill at a point
// (fill_secret_at). Every answer it receives is kept in `seen`, so a test can prove that no
// answer an agent saw carried a secret.
import type { Locator, Page } from 'playwright-core';

export interface AgentOptions {
  /** Sesame's base URL, e.g. http://127.0.0.1:8080 */
  sesameUrl: string;
  /** A grant (sesame_gr_…) or an API key. */
  credential: string;
  vaultId: string;
  /** The browser's CDP endpoint, as the agent's runner hands it to Sesame. */
  cdpEndpoint: string;
  /** The agent's own view of the browser: used to find coordinates and to click, never to type. */
  page: Page;
  targetId?: string;
}

export interface AgentAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: the answers are JSON of several shapes
  body: any;
}

export function scriptedAgent({ sesameUrl, credential, vaultId, cdpEndpoint, page, targetId }: AgentOptions) {
  const seen: string[] = [];

  async function call(action: 'list-secrets' | 'fill', body: Record<string, unknown>): Promise<AgentAnswer> {
    const response = await fetch(`${sesameUrl}/api/v2/vaults/${vaultId}/${action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({ cdp_endpoint: cdpEndpoint, ...(targetId ? { target_id: targetId } : {}), ...body }),
    });
    const text = await response.text();
    seen.push(text);
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  /** The viewport point at the centre of an element, as a model would read it off a screenshot. */
  async function centre(target: Locator): Promise<{ x: number; y: number }> {
    const box = await target.boundingBox();
    if (!box) throw new Error('the element is not visible');
    return { x: Math.round(box.x + box.width / 2), y: Math.round(box.y + box.height / 2) };
  }

  return {
    seen,
    centre,
    listSecrets: () => call('list-secrets', {}),
    fillAtPoint: (point: { x: number; y: number }, field: string, account?: string) =>
      call('fill', { ...point, field, ...(account === undefined ? {} : { account }) }),
    async fillAt(target: Locator, field: string, account?: string): Promise<AgentAnswer> {
      return this.fillAtPoint(await centre(target), field, account);
    },
    async click(target: Locator): Promise<void> {
      const { x, y } = await centre(target);
      await page.mouse.click(x, y);
    },
  };
}

export type ScriptedAgent = ReturnType<typeof scriptedAgent>;
