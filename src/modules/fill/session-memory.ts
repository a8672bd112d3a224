// Section 3, rule 3: the item that already supplied a field for an origin, per browser session and
// vault, so a password is never paired with another account's username. A session is a browser
// context as the browser names it: pages of a context that another client created may show up in
// Playwright's default context, so Playwright's own grouping is not used. Kept in memory, keyed by
// the browser connection, so everything remembered goes away with it.
import { LRUCache } from 'lru-cache';
import type { Page } from 'playwright-core';
import { pageLink } from './page-driver.js';

// Per connection, per browser context, `${source id} ${origin}` → item id; the least recently used go first.
const sessions = new WeakMap<object, LRUCache<string, LRUCache<string, string>>>();

export async function rememberedItem(page: Page, sourceId: string, origin: string): Promise<string | undefined> {
  return (await sessionMemory(page)).get(`${sourceId} ${origin}`);
}

export async function remember(page: Page, sourceId: string, origin: string, itemId: string): Promise<void> {
  (await sessionMemory(page)).set(`${sourceId} ${origin}`, itemId);
}

async function sessionMemory(page: Page): Promise<LRUCache<string, string>> {
  const owner = page.context().browser() ?? page.context();
  let byContext = sessions.get(owner);
  if (!byContext) {
    byContext = new LRUCache({ max: 1_000 });
    sessions.set(owner, byContext);
  }
  const { browserContextId } = await pageLink(page);
  let memory = byContext.get(browserContextId);
  if (!memory) {
    memory = new LRUCache({ max: 1_000 });
    byContext.set(browserContextId, memory);
  }
  return memory;
}
