// The closed set of reasons a list-secrets or fill answer can carry (docs/fill.md, "How a fill is decided"), in one place:
// the TypeBox schemas, the docs' table and the code all read this list.

export const REFUSAL_REASONS = [
  'no_match',
  'no_vault',
  'insecure_page',
  'cross_site_frame',
  'not_editable',
  'not_visible',
  'cross_site_form',
  'not_a_password_input',
  'new_password_field',
  'too_long',
  'not_landed',
  'provider_unavailable',
  'grant_expired',
  'domain_not_allowed',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface Refusal {
  reason: RefusalReason;
  /** One sentence for the agent; never a value, a title or an item id. */
  detail: string;
}

export const NO_VAULT: Refusal = { reason: 'no_vault', detail: 'No vault is bound to this browser session.' };

export const INSECURE_PAGE: Refusal = {
  reason: 'insecure_page',
  detail: 'The page is not served over HTTPS (or from this machine), so nothing is filled into it.',
};

export const OPAQUE_PAGE: Refusal = {
  reason: 'insecure_page',
  detail: 'The page has no web origin of its own (about:blank, a data: URL or a sandboxed document), so nothing is filled into it.',
};

export const CROSS_SITE_FRAME: Refusal = {
  reason: 'cross_site_frame',
  detail: 'The element is in a frame that is not from the same site as the page (or has no origin of its own).',
};

export const CROSS_SITE_FORM: Refusal = {
  reason: 'cross_site_form',
  detail: "The field's form would send it to another site (or over plain HTTP), so nothing is filled into it.",
};

export const NOT_A_PASSWORD_INPUT: Refusal = {
  reason: 'not_a_password_input',
  detail: 'Concealed values are filled only into password inputs, so they never show on screen.',
};

export const NEW_PASSWORD_FIELD: Refusal = {
  reason: 'new_password_field',
  detail: 'The input asks for a new password (a sign-up or change-password form); the stored password is not filled into it.',
};

export const TOO_LONG: Refusal = {
  reason: 'too_long',
  detail: 'The value is longer than the input accepts (maxlength); nothing was typed, rather than a cut-off value.',
};

/** Why an element cannot be seen by a person, as the page reported it. */
export type HiddenBecause = 'too_small' | 'outside_viewport' | 'hidden' | 'transparent' | 'covered';

const HIDDEN_DETAIL: Record<HiddenBecause, string> = {
  too_small: 'is too small for a person to see',
  outside_viewport: 'is outside the visible part of the page',
  hidden: 'is hidden (display, visibility or content-visibility)',
  transparent: 'is (nearly) transparent',
  covered: 'is covered by something else at that point',
};

export function notVisible(because: HiddenBecause, inFrame = false): Refusal {
  const what = inFrame ? 'The frame that holds the element' : 'The element at that point';
  return { reason: 'not_visible', detail: `${what} ${HIDDEN_DETAIL[because]}; secrets go only into inputs a person can see.` };
}

/** Why an element is not a field Sesame types into, as the page reported it. */
export type NotEditableBecause = 'nothing' | 'disabled' | 'read_only' | 'inert' | 'not_a_text_field' | 'closed_shadow_root';

export function notEditable(because: NotEditableBecause, x: number, y: number): Refusal {
  const at = `(${x}, ${y})`;
  const detail: Record<NotEditableBecause, string> = {
    nothing: `There is no element at ${at}.`,
    disabled: `The input at ${at} is disabled.`,
    read_only: `The input at ${at} is read-only.`,
    inert: `The input at ${at} is inert (blocked from interaction).`,
    not_a_text_field: `The element at ${at} is not an editable text field.`,
    closed_shadow_root: `The element at ${at} is a web component whose inside Sesame cannot see (a closed shadow root); it is not filled rather than guessed.`,
  };
  return { reason: 'not_editable', detail: detail[because] };
}

/** The fill did not end with the value in the target: say what happened, never what was typed. */
export function notLanded(typed: boolean, why: string): Refusal {
  return {
    reason: 'not_landed',
    detail: `${why}; ${typed ? 'the value is not in the field as asked' : 'nothing was typed'}. Look at the page again before retrying.`,
  };
}
