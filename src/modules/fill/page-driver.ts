// Driving the agent's page with Playwright: every read happens now, in the browser (never from
// Playwright's cached URLs), and the typing itself is one call of `pageScript` in the element's own
// frame. Playwright failures become a BrowserError (the page or browser is gone) or PageChanged (a
// navigation replaced what was being looked at), with messages of Sesame's own.
import type { ElementHandle, Frame, Page } from 'playwright-core';
import { BrowserError } from './fill.types.js';
import {
  type DomElement,
  type ElementFacts,
  type FrameFacts,
  type PageRequest,
  type Point,
  pageScript,
  type TypeOutcome,
} from './in-page.js';

const MAX_FRAME_DEPTH = 16;

/** A pageScript request as sent from here: elements travel as handles. */
type Sent<T> = { [K in keyof T]: T[K] extends DomElement ? ElementHandle<DomElement> : T[K] };
type Request = PageRequest extends infer R ? (R extends unknown ? Sent<R> : never) : never;
type Script<R> = (request: unknown) => R;

function inFrame<R>(frame: Frame, request: Request): Promise<R> {
  return frame.evaluate(pageScript as unknown as Script<R>, request);
}

/** A navigation or DOM change destroyed the document being looked at; the page itself is still there. */
export class PageChanged extends Error {
  override readonly name = 'PageChanged';
}

/** The element the agent pointed at, with every frame on the way down to it. */
export interface Target {
  /** Each frame's document from the top-level page down to the element's frame. */
  chain: FrameFacts[];
  frame: Frame;
  element: ElementHandle<DomElement>;
  facts: ElementFacts;
  /** The agent's point in the element frame's viewport. */
  point: Point;
  /** Opacity of the frame elements around the element's frame, multiplied. */
  outerOpacity: number;
  /** Why a frame element on the way cannot be seen, if one cannot. */
  hiddenFrame: ElementFacts['hidden'];
}

/** The top-level document as it is now. A navigation in progress is waited out (a few tries). */
export async function readTopFrame(page: Page): Promise<FrameFacts> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await browserCall(page, () => inFrame<FrameFacts>(page.mainFrame(), { op: 'frame' }));
    } catch (err) {
      if (!(err instanceof PageChanged) || attempt === 3) throw err;
    }
  }
}

/** Finds the element at viewport point (x, y), descending into frames (same- and cross-process). */
export async function locate(page: Page, x: number, y: number): Promise<{ chain: FrameFacts[]; target: Target | null }> {
  return browserCall(page, async () => {
    let frame = page.mainFrame();
    let point = { x, y };
    let outerOpacity = 1;
    let hiddenFrame: ElementFacts['hidden'] = null;
    const chain: FrameFacts[] = [];
    for (let depth = 0; depth < MAX_FRAME_DEPTH; depth++) {
      const hit = await frame.evaluateHandle(pageScript as unknown as Script<DomElement | null>, { op: 'hit', ...point });
      const element = hit.asElement() as ElementHandle<DomElement> | null;
      if (!element) {
        await hit.dispose();
        chain.push(await inFrame<FrameFacts>(frame, { op: 'frame' }));
        return { chain, target: null };
      }
      const facts = await inFrame<ElementFacts>(frame, { op: 'inspect', element, point, outerOpacity });
      chain.push(facts.frame);
      const child = facts.frameContent ? await element.contentFrame() : null;
      if (!child || !facts.frameContent) return { chain, target: { chain, frame, element, facts, point, outerOpacity, hiddenFrame } };
      hiddenFrame ??= facts.hidden;
      outerOpacity *= facts.opacity;
      point = { x: point.x - facts.frameContent.x, y: point.y - facts.frameContent.y };
      frame = child;
      await element.dispose();
    }
    return { chain, target: null };
  });
}

export interface TypeValue {
  value: string;
  concealed: boolean;
  code: boolean;
}

/** Re-checks the target, then focuses, clears and inserts in one step inside its frame (pageScript `type`). */
export function typeInto(page: Page, target: Target, { value, concealed, code }: TypeValue): Promise<TypeOutcome> {
  const { element, point, outerOpacity, facts } = target;
  return browserCall(page, () =>
    inFrame<TypeOutcome>(target.frame, {
      op: 'type',
      element,
      point,
      outerOpacity,
      frame: facts.frame,
      formTargets: facts.formTargets,
      value,
      concealed,
      code,
    }),
  );
}

/** Runs browser steps; a Playwright failure becomes BrowserError or PageChanged, with a message of Sesame's own. */
async function browserCall<T>(page: Page, steps: () => Promise<T>): Promise<T> {
  try {
    return await steps();
  } catch (err) {
    if (err instanceof BrowserError || err instanceof PageChanged) throw err;
    if (page.isClosed() || !(page.context().browser()?.isConnected() ?? true)) {
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
