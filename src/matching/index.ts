// Pure matching: which stored credential may be used on a page, and which one wins per field.

export { bestWebsiteMatch, compareMatches, matchWebsite, type WebsiteMatch } from './eligibility.js';
export { type MatchableField, normalizeFieldName, resolveFieldName, WELL_KNOWN_FIELD_NAMES } from './fields.js';
export {
  type AccountHint,
  type FillableField,
  listFillableFields,
  type MatchableItem,
  type Selection,
  type SelectionRequest,
  selectItem,
} from './rank.js';
export { isPublicSuffix, isSameSite, registrableDomain } from './site.js';
export {
  type HostKind,
  isLoopbackHost,
  isSecurePage,
  type NormalizedHost,
  type NormalizedUrl,
  normalizeHost,
  parsePageUrl,
  parseWebsiteUrl,
} from './url.js';
