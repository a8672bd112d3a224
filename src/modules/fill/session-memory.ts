// Section 3, rule 3: the item that already supplied a field for an origin, per browser session and
// vault, so a password is never paired with another account's username. A session is a browser
// context as the browser names it: pages of a context that another client created may show up in
// Playwright's default context, so Playwright's own grouping is not used. Kept in memory, keyed by
// the browser connection, so everything remembered goes away with it.
import type { Page } from 'playwright-core';
import { pageLink } from './page-driver.js';

const MAX_REMEMBERED_ORIGINS = 1_000;
const MAX_REMEMBERED_SESSIONS = 1_000;

const sessions = new WeakMap<object, Map<string, Map<string, string>>>();

export async function rememberedItem(page: Page, sourceId: string, origin: string): Promise<string | undefined> {
  return (await sessionMemory(page)).get(`${sourceId} ${origin}`);
}

export async function remember(page: Page, sourceId: string, origin: string, itemId: string): Promise<void> {
  const memory = await sessionMemory(page);
  const key = `${sourceId} ${origin}`;
  memory.delete(key);
  memory.set(key, itemId);
  if (memory.size > MAX_REMEMBERED_ORIGINS) memory.delete(memory.keys().next().value as string);
}

async function sessionMemory(page: Page): Promise<Map<string, string>> {
  const owner = page.context().browser() ?? page.context();
  let byContext = sessions.get(owner);
  if (!byContext) {
    byContext = new Map();
    sessions.set(owner, byContext);
  }
  const contextId = await browserContextId(page);
  let memory = byContext.get(contextId);
  if (!memory) {
    memory = new Map();
    byContext.set(contextId, memory);
    if (byContext.size > MAX_REMEMBERED_SESSIONS) byContext.delete(byContext.keys().next().value as string);
  }
  return memory;
}

async function browserContextId(page: Page): Promise<string> {
  return (await pageLink(page)).browserContextId;
}
