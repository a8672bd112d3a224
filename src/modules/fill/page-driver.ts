// Driving the agent's page over CDP. Every read happens now, in the browser: the frame tree is
// walked at request time, never taken from Playwright's cached URLs. The in-page code
// (in-page.ts) runs in an isolated world of each frame ("sesame"), created by this session:
// it shares the page's DOM but not its JavaScript, so a script of the page (or of a frame in it)
// cannot change what it reads or calls. Failures become a BrowserError (the page or the browser is
// gone) or PageChanged (a navigation replaced what was being looked at), with messages of Sesame's own.
import type { CDPSession, Page } from 'playwright-core';
import { BrowserError } from './fill.types.js';
import { type FrameFacts, type InPage, inPageLibrary, type Located, type Point, type TypeOutcome, type TypeRequest } from './in-page.js';

const MAX_FRAME_DEPTH = 16;
const WORLD = 'sesame';
const LIBRARY = `globalThis.sesame ??= (${inPageLibrary.toString()})(); undefined`;
const NOT_INSTALLED = 'sesame: not installed';

/** A navigation or DOM change destroyed the document being looked at; the page itself is still there. */
export class PageChanged extends Error {
  override readonly name = 'PageChanged';
}

/** One frame's document, reached through the CDP session of the process that renders it. */
interface FrameWorld {
  session: CDPSession;
  frameId: string;
  /** The isolated world's execution context, which lives as long as the document. Ids restart in a new process. */
  contextId: number;
}

/** This page's own CDP session, its target (= main frame) id and browser context id. */
interface PageLink {
  session: CDPSession;
  targetId: string;
  browserContextId: string;
}

const links = new WeakMap<Page, Promise<PageLink>>();
const frameSessions = new WeakMap<Page, Map<string, Promise<CDPSession | null>>>();

export function pageLink(page: Page): Promise<PageLink> {
  let link = links.get(page);
  if (!link) {
    link = (async () => {
      const session = await page.context().newCDPSession(page);
      const { targetInfo } = (await session.send('Target.getTargetInfo')) as {
        targetInfo: { targetId: string; browserContextId?: string };
      };
      return { session, targetId: targetInfo.targetId, browserContextId: targetInfo.browserContextId ?? 'default' };
    })();
    links.set(page, link);
    link.catch(() => links.delete(page));
  }
  return link;
}

/** The frame's isolated world as it is now (Chromium creates it once per document and name). */
async function worldOf(session: CDPSession, frameId: string): Promise<FrameWorld> {
  const { executionContextId: contextId } = (await session.send('Page.createIsolatedWorld', {
    frameId,
    worldName: WORLD,
    grantUniveralAccess: false,
  })) as { executionContextId: number };
  return { session, frameId, contextId };
}

/** Calls a method of the in-page library (installed on first use in each world) and returns its answer by value. */
async function call<K extends keyof InPage>(
  world: FrameWorld,
  method: K,
  arg?: Parameters<InPage[K]>[0],
): Promise<Awaited<ReturnType<InPage[K]>>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const answer = (await world.session.send('Runtime.callFunctionOn', {
      executionContextId: world.contextId,
      functionDeclaration: `function (arg) { return globalThis.sesame ? globalThis.sesame.${method}(arg) : '${NOT_INSTALLED}'; }`,
      arguments: arg === undefined ? [] : [{ value: arg }],
      returnByValue: true,
      awaitPromise: true,
    })) as { result: { value?: unknown }; exceptionDetails?: unknown };
    // Its text is not passed on: it could quote the page, or the value being typed.
    if (answer.exceptionDetails) throw new PageChanged('Sesame’s check failed in the page');
    if (answer.result.value !== NOT_INSTALLED) return answer.result.value as Awaited<ReturnType<InPage[K]>>;
    await world.session.send('Runtime.evaluate', { expression: LIBRARY, contextId: world.contextId });
  }
  throw new PageChanged('The page did not run Sesame’s check');
}

/** The top-level document as it is now. A navigation in progress is waited out (a few tries). */
export async function readTopFrame(page: Page): Promise<FrameFacts> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await browserCall(page, async () => {
        const { session, targetId } = await pageLink(page);
        return call(await worldOf(session, targetId), 'frame');
      });
    } catch (err) {
      if (!(err instanceof PageChanged) || attempt === 3) throw err;
    }
  }
}

/** The element the agent pointed at, with every frame on the way down to it. */
export interface Target {
  /** Each frame's document from the top-level page down to the element's frame. */
  chain: FrameFacts[];
  world: FrameWorld;
  /** The library instance (one per document) that found the element. */
  library: string;
  element: number;
  facts: NonNullable<Located['facts']>;
  /** The agent's point in the element frame's viewport. */
  point: Point;
  /** Opacity of the frame elements around the element's frame, multiplied. */
  outerOpacity: number;
  /** Why a frame element on the way cannot be seen, if one cannot. */
  hiddenFrame: NonNullable<Located['facts']>['hidden'];
}

/**
 * Finds the element at viewport point (x, y), descending into frames, in-process or not. `enter`
 * decides, from the chain so far, whether to look inside a child frame at all (a frame the fill
 * would refuse is not entered). `target` is null when there is no element, or the descent stopped.
 */
export async function locate(
  page: Page,
  x: number,
  y: number,
  enter: (chain: FrameFacts[]) => boolean,
): Promise<{ chain: FrameFacts[]; target: Target | null }> {
  return browserCall(page, async () => {
    const { session, targetId } = await pageLink(page);
    let world = await worldOf(session, targetId);
    let point = { x, y };
    let outerOpacity = 1;
    let hiddenFrame: Target['hiddenFrame'] = null;
    const chain: FrameFacts[] = [];
    for (let depth = 0; depth < MAX_FRAME_DEPTH; depth++) {
      const found = await call(world, 'locate', { point, outerOpacity });
      chain.push(found.frame);
      const { element, facts } = found;
      if (element === null || facts === null) return { chain, target: null };
      const target = { chain, world, library: found.library, element, facts, point, outerOpacity, hiddenFrame };
      if (!facts.frameContent || !enter(chain)) return { chain, target };
      const child = await childFrame(page, world, element);
      if (!child) return { chain, target };
      hiddenFrame ??= facts.hidden;
      outerOpacity *= facts.opacity;
      point = { x: point.x - facts.frameContent.x, y: point.y - facts.frameContent.y };
      world = child;
    }
    return { chain, target: null };
  });
}

/** The world of the frame a frame element shows; null while it has no document Sesame can reach. */
async function childFrame(page: Page, parent: FrameWorld, element: number): Promise<FrameWorld | null> {
  const { result } = (await parent.session.send('Runtime.callFunctionOn', {
    executionContextId: parent.contextId,
    functionDeclaration: 'function (token) { return globalThis.sesame.element(token); }',
    arguments: [{ value: element }],
  })) as { result: { objectId?: string } };
  if (!result.objectId) return null;
  const { node } = (await parent.session.send('DOM.describeNode', { objectId: result.objectId })) as { node: { frameId?: string } };
  await parent.session.send('Runtime.releaseObject', { objectId: result.objectId });
  if (!node.frameId) return null;
  try {
    return await worldOf(parent.session, node.frameId);
  } catch {
    // Rendered by another process (a cross-site or sandboxed frame): reach it through its own target.
    const session = await frameSession(page, node.frameId);
    return session && worldOf(session, node.frameId);
  }
}

/** A CDP session for an out-of-process frame, found among the page's frames by its target id. */
async function frameSession(page: Page, frameId: string): Promise<CDPSession | null> {
  let sessions = frameSessions.get(page);
  if (!sessions) {
    sessions = new Map();
    frameSessions.set(page, sessions);
  }
  const known = sessions.get(frameId);
  if (known) return known;
  for (const frame of page.frames()) {
    if (frame === page.mainFrame() || frame.isDetached()) continue;
    const session = await page
      .context()
      .newCDPSession(frame)
      .catch(() => null); // an in-process frame has no session of its own
    if (!session) continue;
    const { targetInfo } = (await session.send('Target.getTargetInfo')) as { targetInfo: { targetId: string } };
    sessions.set(targetInfo.targetId, Promise.resolve(session));
    if (targetInfo.targetId === frameId) return session;
  }
  return null;
}

/** Re-checks the target, then focuses, clears and inserts in one step inside its frame (in-page `type`). */
export function typeInto(page: Page, target: Target, value: Pick<TypeRequest, 'value' | 'concealed' | 'code'>): Promise<TypeOutcome> {
  const { world, element, point, outerOpacity, facts, chain } = target;
  return browserCall(page, () =>
    // In the world the element was found in; the library there checks it is still the same document.
    call(world, 'type', {
      library: target.library,
      element,
      point,
      outerOpacity,
      frame: chain.at(-1) as FrameFacts,
      formTargets: facts.formTargets,
      ...value,
    }),
  );
}

/** Runs browser steps; a failure becomes BrowserError or PageChanged, with a message of Sesame's own. */
async function browserCall<T>(page: Page, steps: () => Promise<T>): Promise<T> {
  try {
    return await steps();
  } catch (err) {
    if (err instanceof BrowserError || err instanceof PageChanged) throw err;
    const closed = err instanceof Error && /target.*closed|session closed|not attached to an active page/i.test(err.message);
    if (closed || page.isClosed() || !(page.context().browser()?.isConnected() ?? true)) {
      throw new BrowserError('gone', 'The browser closed the page or the connection while filling');
    }
    throw new PageChanged('The page navigated or changed while Sesame was reading it');
  }
}

const queues = new WeakMap<Page, Promise<unknown>>();

/** One fill at a time per page: two interleaved fills would fight over focus. */
export function serialized<T>(page: Page, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(page) ?? Promise.resolve();
  const next = previous.then(task, task);
  queues.set(
    page,
    next.catch(() => undefined),
  );
  return next;
}
