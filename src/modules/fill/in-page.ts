// The part of a fill that runs inside the agent's browser (docs/fill.md, "How a fill is decided").
// `inPageLibrary` is sent as source text and run once per document in an isolated world of the
// frame (page-driver.ts): the page's own scripts share the DOM with it but none of its JavaScript,
// so they cannot replace what it calls or reads (`window.origin` is replaceable in the page's own
// world). It must stay self-contained: no imports, nothing from module scope, only browser
// globals. DOM members are still read through the prototypes, never as properties of the document
// or of a form, which markup alone can shadow in every world (DOM clobbering: `<img
// name="activeElement">`, `<input name="action">`). The project compiles without the DOM library:
// the few members used are typed below.

import type { HiddenBecause, NotEditableBecause } from './refusals.js';

export interface Point {
  x: number;
  y: number;
}

/** A frame's document as it is now: its URL and its origin (`"null"` when opaque: sandboxed, data:). */
export interface FrameFacts {
  href: string;
  origin: string;
}

/** What the page says about the element at the agent's point; decisions are taken by the caller. */
export interface ElementFacts {
  /** For a frame element: where its content starts, in this frame's viewport. Null for other elements. */
  frameContent: Point | null;
  notEditable: NotEditableBecause | null;
  hidden: HiddenBecause | null;
  /** Opacity through the element and its ancestors in this document (a frame element's, for its content). */
  opacity: number;
  /** Every URL a submission of the element's form can go to (its action, each submit button's formaction), resolved. */
  formTargets: string[];
  passwordInput: boolean;
  /** autocomplete names `new-password`: a sign-up or change-password box. */
  newPassword: boolean;
}

export type TypeOutcome =
  | { outcome: 'filled' }
  | { outcome: 'refused'; refusal: 'not_editable'; because: NotEditableBecause }
  | { outcome: 'refused'; refusal: 'not_visible'; because: HiddenBecause }
  | { outcome: 'refused'; refusal: 'cross_site_form' | 'not_a_password_input' | 'new_password_field' | 'too_long' }
  | { outcome: 'not_landed'; typed: boolean; why: NotLandedBecause };

export type NotLandedBecause = 'changed' | 'navigating' | 'no_focus' | 'focus_left' | 'refused_input' | 'mismatch';

/** The frame's document, and the element at the point (a token for it) with its facts; null when there is none. */
export interface Located {
  /** Which library instance answered: one per document, so a token is never taken to another document. */
  library: string;
  frame: FrameFacts;
  element: number | null;
  facts: ElementFacts | null;
}

export interface TypeRequest {
  /** The library instance and token `locate` gave for the element. */
  library: string;
  element: number;
  point: Point;
  outerOpacity: number;
  /** The frame's URL and origin as judged; typing stops if either changed. */
  frame: FrameFacts;
  /** Form targets as judged; a target added since is refused. */
  formTargets: string[];
  value: string;
  /** Only password inputs, and never a new-password one. */
  concealed: boolean;
  /** A one-time code: may be typed across a group of short boxes. */
  code: boolean;
}

export interface InPage {
  /** The frame's URL and origin, as the document has them now. */
  frame(): FrameFacts;
  /** The element at the point, through open shadow roots; a label over or around its control stands for it. */
  locate(request: { point: Point; outerOpacity: number }): Located;
  /** The element behind a token (for the caller to find a frame element's frame). */
  element(token: number): DomElement | undefined;
  /** Re-checks what `locate` reported, then focuses, clears and inserts the value; answers whether it is in the field. */
  type(request: TypeRequest): Promise<TypeOutcome>;
}

export function inPageLibrary(): InPage {
  const MIN_SIZE_PX = 4;
  const MIN_OPACITY = 0.2;
  const TEXT_TYPES = ['text', 'email', 'tel', 'password', 'search', 'url', 'number'];

  const win = globalThis as unknown as DomWindow;
  const doc = win.document;
  const getter = (proto: object, name: string) => Object.getOwnPropertyDescriptor(proto, name)?.get as (this: unknown) => unknown;
  const docProto = win.Document.prototype;
  const formProto = win.HTMLFormElement.prototype;
  const childrenOf = (node: DomNode) =>
    Array.from(getter(node.nodeType === 1 ? win.Element.prototype : win.DocumentFragment.prototype, 'children').call(node) as DomElement[]);
  const formControls = (form: DomElement) => Array.from(getter(formProto, 'elements').call(form) as DomElement[]);
  const activeIn = (root: DomNode) =>
    (root === doc ? getter(docProto, 'activeElement').call(doc) : (root as DomShadowRoot).activeElement) as DomElement | null;
  const exec = (command: string, value?: string) => docProto.execCommand.call(doc, command, false, value);

  function frameFacts(): FrameFacts {
    return { href: win.location.href, origin: win.origin };
  }

  function elementAt(x: number, y: number): DomElement | null {
    let element = docProto.elementFromPoint.call(doc, x, y);
    while (element?.shadowRoot) {
      const inner = element.shadowRoot.elementFromPoint(x, y);
      if (!inner || inner === element) break;
      element = inner;
    }
    return element;
  }

  /** The parent in the flat tree: through slots and out of shadow roots to their hosts. */
  function flatParent(node: DomElement): DomElement | null {
    if (node.assignedSlot) return node.assignedSlot;
    const parent = node.parentNode;
    if (parent?.nodeType === 11) return (parent as DomShadowRoot).host;
    return parent?.nodeType === 1 ? (parent as DomElement) : null;
  }

  function notEditable(element: DomElement): NotEditableBecause | null {
    const tag = element.localName;
    if (tag === 'input') {
      if (!TEXT_TYPES.includes(element.type ?? '')) return 'not_a_text_field';
    } else if (tag !== 'textarea') {
      return tag.includes('-') && !element.shadowRoot ? 'closed_shadow_root' : 'not_a_text_field';
    }
    if (element.matches(':disabled')) return 'disabled';
    if (element.readOnly) return 'read_only';
    for (let node: DomElement | null = element; node; node = flatParent(node)) if (node.inert) return 'inert';
    return null;
  }

  function opacityOf(element: DomElement): number {
    let opacity = 1;
    for (let node: DomElement | null = element; node; node = flatParent(node)) {
      const style = win.getComputedStyle(node);
      opacity *= Number(style.opacity);
      for (const [, amount = '1', percent] of style.filter.matchAll(/opacity\(\s*([\d.]+)(%?)\s*\)/g)) {
        opacity *= Number(amount) / (percent ? 100 : 1);
      }
    }
    return opacity;
  }

  /**
   * The control a hit label stands for: a label drawn over its own control (a floating label) or
   * wrapping it. A label elsewhere on the page is not followed: a transparent label laid over one
   * field must not send the value into another.
   */
  function labelled(hit: DomElement | null, point: Point): DomElement | null {
    const control = hit?.localName === 'label' ? hit.control : null;
    if (!hit || !control) return null;
    const box = control.getBoundingClientRect();
    const over = point.x >= box.left && point.x <= box.right && point.y >= box.top && point.y <= box.bottom;
    return over || hit.contains(control) ? control : null;
  }

  /** Whether a click at the point reaches the element: on it, on its label, or on a shadow host around it. */
  function landsOn(hit: DomElement | null, element: DomElement, point: Point): boolean {
    if (!hit) return false;
    if (hit === element || labelled(hit, point) === element) return true;
    for (let root = element.getRootNode(); root.nodeType === 11; root = (root as DomShadowRoot).host.getRootNode()) {
      if ((root as DomShadowRoot).host === hit) return true;
    }
    return false;
  }

  function hidden(element: DomElement, point: Point | null, outerOpacity: number): HiddenBecause | null {
    const box = element.getBoundingClientRect();
    if (box.width < MIN_SIZE_PX || box.height < MIN_SIZE_PX) return 'too_small';
    const shownWidth = Math.min(box.right, win.innerWidth) - Math.max(box.left, 0);
    const shownHeight = Math.min(box.bottom, win.innerHeight) - Math.max(box.top, 0);
    if (shownWidth < MIN_SIZE_PX || shownHeight < MIN_SIZE_PX) return 'outside_viewport';
    if (!element.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true })) return 'hidden';
    if (outerOpacity * opacityOf(element) < MIN_OPACITY) return 'transparent';
    if (point && !landsOn(elementAt(point.x, point.y), element, point)) return 'covered';
    return null;
  }

  function isSubmitButton(control: DomElement): boolean {
    const type = control.type ?? '';
    return (
      (control.localName === 'button' && type === 'submit') || (control.localName === 'input' && (type === 'submit' || type === 'image'))
    );
  }

  function formTargets(element: DomElement): string[] {
    const form = element.form;
    if (!form) return [];
    const targets = new Set([getter(formProto, 'action').call(form) as string]);
    // Image buttons submit their form but are not among form.elements.
    const images = Array.from(docProto.querySelectorAll.call(doc, 'input[type=image]')).filter((input) => input.form === form);
    for (const control of [...formControls(form), ...images]) {
      if (isSubmitButton(control) && control.hasAttribute('formaction')) targets.add(control.formAction ?? '');
    }
    return [...targets];
  }

  // Elements located for a fill, by token; only the latest few are kept (a document has one fill at a time).
  // Names this instance (crypto.randomUUID is for secure contexts only; this must run on any page).
  const library = `${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  const located = new Map<number, DomElement>();
  let lastToken = 0;

  function inspect(element: DomElement, point: Point, outerOpacity: number): ElementFacts {
    const tag = element.localName;
    let frameContent: Point | null = null;
    if (tag === 'iframe' || tag === 'frame') {
      const box = element.getBoundingClientRect();
      const style = win.getComputedStyle(element);
      frameContent = {
        x: box.left + element.clientLeft + (Number.parseFloat(style.paddingLeft) || 0),
        y: box.top + element.clientTop + (Number.parseFloat(style.paddingTop) || 0),
      };
    }
    return {
      frameContent,
      notEditable: frameContent ? null : notEditable(element),
      hidden: hidden(element, point, outerOpacity),
      opacity: opacityOf(element),
      formTargets: frameContent ? [] : formTargets(element),
      passwordInput: tag === 'input' && element.type === 'password',
      newPassword: asksNewPassword(element),
    };
  }

  function asksNewPassword(element: DomElement): boolean {
    return (element.getAttribute('autocomplete') ?? '').toLowerCase().split(/\s+/).includes('new-password');
  }

  // ---- typing ----

  /** The deepest focused element, through open shadow roots. */
  function focused(): DomElement | null {
    let element = activeIn(doc);
    while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement;
    return element;
  }

  function focus(element: DomElement): boolean {
    win.HTMLElement.prototype.focus.call(element, { preventScroll: true });
    return activeIn(element.getRootNode()) === element;
  }

  /** maxlength as the page declares it (-1: none). */
  function maxLengthOf(element: DomElement): number {
    return element.maxLength ?? -1;
  }

  /** Masks reformat what is typed ("123456" shows as "123 456"): compare without their separators. */
  function sameText(actual: string, expected: string): boolean {
    const bare = (text: string) => text.replace(/[\s\-().\\/+]/g, '');
    return actual === expected || bare(actual) === bare(expected);
  }

  /** Inputs in tree order that share the element's form (or, outside any form, its document, open shadow roots included). */
  function formSiblings(element: DomElement): DomElement[] {
    if (element.form) return formControls(element.form).filter((control) => control.localName === 'input');
    const inputs: DomElement[] = [];
    const walk = (node: DomNode) => {
      for (const child of childrenOf(node)) {
        if (child.localName === 'input' && !child.form) inputs.push(child);
        if (child.shadowRoot) walk(child.shadowRoot);
        walk(child);
      }
    };
    walk(doc);
    return inputs;
  }

  /** The run of short boxes from the target on that holds a code of `length` characters; null if it cannot. */
  function codeBoxes(target: DomElement, length: number, outerOpacity: number): DomElement[] | null {
    const siblings = formSiblings(target);
    const boxes: DomElement[] = [];
    let capacity = 0;
    for (const box of siblings.slice(Math.max(0, siblings.indexOf(target)))) {
      const limit = maxLengthOf(box);
      if (limit < 1 || limit >= length || notEditable(box) || hidden(box, null, outerOpacity)) break;
      boxes.push(box);
      capacity += limit;
      if (capacity >= length) return boxes;
    }
    return null;
  }

  /** Starts counting navigations this document begins (a focus handler that navigates away, a form submitted). */
  function watchNavigations() {
    let started = 0;
    const count = () => {
      started++;
    };
    win.navigation?.addEventListener('navigate', count);
    return {
      get started() {
        return started;
      },
      stop: () => win.navigation?.removeEventListener('navigate', count),
    };
  }

  function recheck(request: TypeRequest, element: DomElement): TypeOutcome | null {
    const editable = notEditable(element);
    if (editable) return { outcome: 'refused', refusal: 'not_editable', because: editable };
    const invisible = hidden(element, request.point, request.outerOpacity);
    if (invisible) return { outcome: 'refused', refusal: 'not_visible', because: invisible };
    if (formTargets(element).some((target) => !request.formTargets.includes(target)))
      return { outcome: 'refused', refusal: 'cross_site_form' };
    if (request.concealed && !(element.localName === 'input' && element.type === 'password')) {
      return { outcome: 'refused', refusal: 'not_a_password_input' };
    }
    if (request.concealed && asksNewPassword(element)) return { outcome: 'refused', refusal: 'new_password_field' };
    return null;
  }

  async function type(request: TypeRequest): Promise<TypeOutcome> {
    const { value } = request;
    const element = request.library === library ? located.get(request.element) : undefined;
    if (!element) return { outcome: 'not_landed', typed: false, why: 'changed' };
    const changed = () =>
      win.location.href !== request.frame.href ||
      win.origin !== request.frame.origin ||
      !element.isConnected ||
      element.ownerDocument !== doc;
    const notLanded = (typed: boolean, why: NotLandedBecause): TypeOutcome => ({ outcome: 'not_landed', typed, why });
    if (changed()) return notLanded(false, 'changed');
    const refused = recheck(request, element);
    if (refused) return refused;
    const limit = maxLengthOf(element);
    const boxes = limit >= 0 && value.length > limit ? request.code && codeBoxes(element, value.length, request.outerOpacity) : [element];
    if (!boxes) return { outcome: 'refused', refusal: 'too_long' };

    const navigations = watchNavigations();
    try {
      // Focus first and let the page's focus handlers run their course: a navigation they start
      // (form.submit() shows up only a task later) means nothing is typed into a page that is leaving.
      focus(boxes[0] as DomElement);
      await nextTask();
      if (navigations.started) return notLanded(false, 'navigating');
      if (boxes.length > 1) return await typeCode(boxes, value, request.outerOpacity, changed, navigations, notLanded);
      // One synchronous step: re-check, hold the focus, clear, insert, verify. No other script runs in between.
      if (changed()) return notLanded(false, 'changed');
      const refusedNow = recheck(request, element);
      if (refusedNow) return refusedNow;
      if (activeIn(element.getRootNode()) !== element && !focus(element)) return notLanded(false, 'no_focus');
      if (navigations.started || changed()) return notLanded(false, navigations.started ? 'navigating' : 'changed');
      element.select?.();
      if (!exec(value === '' ? 'delete' : 'insertText', value)) return notLanded(false, 'refused_input');
      return sameText(element.value ?? '', value) ? { outcome: 'filled' } : notLanded(true, 'mismatch');
    } finally {
      navigations.stop();
    }
  }

  function nextTask(): Promise<unknown> {
    return new Promise((resolve) => win.setTimeout(resolve, 0));
  }

  /** One character per key event across the boxes, following focus only within them. */
  async function typeCode(
    boxes: DomElement[],
    code: string,
    outerOpacity: number,
    changed: () => boolean,
    navigations: { readonly started: number },
    notLanded: (typed: boolean, why: NotLandedBecause) => TypeOutcome,
  ): Promise<TypeOutcome> {
    // Which box each character belongs to, by the boxes' maxlength.
    const plan = boxes.flatMap((box, index) => Array.from({ length: maxLengthOf(box) }, () => index)).slice(0, code.length);
    let typed = false;
    for (let position = 0; position < code.length; position++) {
      const character = code[position] as string;
      const index = plan[position] ?? 0;
      const box = boxes[index] as DomElement;
      if (changed() || !box.isConnected || notEditable(box) || hidden(box, null, outerOpacity)) return notLanded(typed, 'changed');
      if (navigations.started) return notLanded(typed, 'navigating');
      const current = focused();
      if (current !== box) {
        // The page moved focus to something that is not one of the boxes: do not follow it there.
        if (typed && current && !boxes.includes(current) && !notEditable(current)) return notLanded(typed, 'focus_left');
        if (!focus(box)) return notLanded(typed, 'no_focus');
      }
      if (position === 0 || plan[position - 1] !== index) box.select?.();
      if (key(box, 'keydown', character) && key(box, 'keypress', character)) {
        const target = focused();
        if (!target || !boxes.includes(target)) return notLanded(typed, 'focus_left');
        exec('insertText', character);
        typed = true;
      }
      key(box, 'keyup', character);
      // Let the page react as it does to a person's key (moving focus to the next box, usually).
      if (position < code.length - 1) await nextTask();
    }
    const used = boxes.slice(0, (plan[code.length - 1] ?? 0) + 1);
    return sameText(used.map((box) => box.value ?? '').join(''), code) ? { outcome: 'filled' } : notLanded(typed, 'mismatch');
  }

  /** Dispatches a key event for one character; false when the page cancelled it (as a browser then types nothing). */
  function key(target: DomElement, type: string, character: string): boolean {
    const code = /\d/.test(character) ? `Digit${character}` : /[a-z]/i.test(character) ? `Key${character.toUpperCase()}` : '';
    const keyCode = character.toUpperCase().charCodeAt(0);
    const event = new win.KeyboardEvent(type, {
      key: character,
      code,
      keyCode,
      which: keyCode,
      bubbles: true,
      cancelable: true,
      composed: true,
    });
    return target.dispatchEvent(event);
  }

  return {
    frame: frameFacts,
    locate({ point, outerOpacity }) {
      const hit = elementAt(point.x, point.y);
      const element = labelled(hit, point) ?? hit;
      if (!element) return { library, frame: frameFacts(), element: null, facts: null };
      located.set(++lastToken, element);
      located.delete(lastToken - 16);
      return { library, frame: frameFacts(), element: lastToken, facts: inspect(element, point, outerOpacity) };
    },
    element: (token) => located.get(token),
    type,
  };
}

// ---- The DOM, as far as inPageLibrary uses it ----

interface DomNode {
  nodeType: number;
  parentNode: DomNode | null;
  getRootNode(): DomNode;
}

export interface DomElement extends DomNode {
  localName: string;
  type?: string;
  value?: string;
  readOnly?: boolean;
  inert?: boolean;
  maxLength?: number;
  formAction?: string;
  form?: DomElement | null;
  control?: DomElement | null;
  isConnected: boolean;
  ownerDocument: unknown;
  assignedSlot: DomElement | null;
  shadowRoot: DomShadowRoot | null;
  clientLeft: number;
  clientTop: number;
  matches(selector: string): boolean;
  hasAttribute(name: string): boolean;
  contains(other: DomElement): boolean;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { left: number; top: number; right: number; bottom: number; width: number; height: number };
  checkVisibility(options: Record<string, boolean>): boolean;
  dispatchEvent(event: unknown): boolean;
  select?(): void;
}

interface DomShadowRoot extends DomNode {
  host: DomElement;
  activeElement: DomElement | null;
  elementFromPoint(x: number, y: number): DomElement | null;
}

interface DomEventTarget {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

interface DomWindow {
  document: DomNode;
  location: { href: string };
  origin: string;
  innerWidth: number;
  innerHeight: number;
  navigation?: DomEventTarget;
  Document: {
    prototype: {
      elementFromPoint(this: unknown, x: number, y: number): DomElement | null;
      execCommand(this: unknown, command: string, showUi: boolean, value?: string): boolean;
      querySelectorAll(this: unknown, selector: string): ArrayLike<DomElement>;
    };
  };
  Element: { prototype: object };
  DocumentFragment: { prototype: object };
  HTMLFormElement: { prototype: object };
  HTMLElement: { prototype: { focus(this: unknown, options: { preventScroll: boolean }): void } };
  KeyboardEvent: new (type: string, init: Record<string, unknown>) => unknown;
  getComputedStyle(element: DomElement): { opacity: string; filter: string; paddingLeft: string; paddingTop: string };
  setTimeout(callback: (value?: unknown) => void, ms: number): number;
}
