// Named valid and invalid service account tokens (research note §2.1 and §4), shared by the
// local-check tests and the test that compares the local check with the SDK's own parser.

import { encodeToken, fakeTokenPayload, mintFakeToken } from '../../src/providers/onepassword/fake-token.js';

export interface TokenCase {
  name: string;
  token: string;
  /** undefined = valid; otherwise the exact reason expected from checkTokenFormat. */
  reason?: string;
  /**
   * How the SDK's parser treats it, when that differs from the local check:
   * 'crashes' must never be given to the SDK (research §2.3); 'accepts' = the local check is deliberately stricter.
   */
  sdk?: 'crashes' | 'accepts';
}

const base = fakeTokenPayload({ seed: 'token-cases' });
const muk = base.muk as Record<string, unknown>;
const userAuth = base.userAuth as Record<string, unknown>;
const throttle = base.throttleSecret as Record<string, unknown>;

const with_ = (overrides: Record<string, unknown>) => encodeToken({ ...base, ...overrides });
const without = (field: string) => with_({ [field]: undefined });
const withMuk = (fields: Record<string, unknown>) => with_({ muk: { ...muk, ...fields } });
const withUserAuth = (fields: Record<string, unknown>) => with_({ userAuth: { ...userAuth, ...fields } });
const withThrottle = (fields: Record<string, unknown>) => with_({ throttleSecret: { ...throttle, ...fields } });
const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64').replace(/=+$/, '');

const valid = mintFakeToken({ seed: 'token-cases' });
const payload = valid.slice(4);

// ASCII JSON encodes to '+' or '/' only where '>', '?' or '~' sit at a byte offset ≡ 2 (mod 3); three '?' guarantee one.
const withStdOnlyChars = with_({ extra: '???' });

// A payload whose length is not a multiple of 4 has unused trailing bits; setting them is a non-canonical encoding.
const unpadded = (() => {
  for (let i = 0; ; i++) {
    const token = with_({ pad: 'x'.repeat(i) });
    if ((token.length - 4) % 4 !== 0) return token;
  }
})();
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const lastIndex = ALPHABET.indexOf(unpadded.at(-1) ?? 'A');
const nonCanonical = unpadded.slice(0, -1) + ALPHABET[lastIndex | 1];

export const VALID_TOKENS: TokenCase[] = [
  { name: 'minted fake token', token: valid },
  { name: 'minted with another seed', token: mintFakeToken({ seed: 'another' }) },
  {
    name: 'research note example',
    token: encodeToken({
      signInAddress: 'example-team.1password.invalid',
      userAuth: { method: 'SRPg-4096', alg: 'PBES2g-HS256', iterations: 650000, salt: 'c2FsdHNhbHRzYWx0c2FsdA' },
      email: 'abcdefghijklm@1passwordserviceaccounts.invalid',
      srpX: 'ab'.repeat(32),
      muk: {
        alg: 'A256GCM',
        ext: false,
        k: 'BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc',
        key_ops: ['decrypt', 'encrypt'],
        kty: 'oct',
        kid: 'mp',
      },
      secretKey: 'A3-ABCDEF-GHJKLM-NPQRS-TVWXY-Z2345-6789A',
      throttleSecret: { seed: 'cd'.repeat(32), uuid: 'abcdefghijklmnopqrstuvwxyz' },
      deviceUuid: 'abcdefghijklmnopqrstuvwxyz',
    }),
  },
  { name: 'throttleSecret absent', token: without('throttleSecret') },
  { name: 'throttleSecret null', token: with_({ throttleSecret: null }) },
  { name: 'throttle seed in upper case', token: withThrottle({ seed: 'CD'.repeat(32) }) },
  { name: 'deviceUuid empty', token: with_({ deviceUuid: '' }) },
  { name: 'extra unknown keys', token: with_({ somethingNew: { nested: [1, 2] }, another: 'x' }) },
  { name: 'muk without ext', token: withMuk({ ext: undefined }) },
  { name: 'muk with extra keys', token: withMuk({ use: 'enc' }) },
  { name: 'secretKey in lower case', token: with_({ secretKey: (base.secretKey as string).toLowerCase() }) },
  { name: 'secretKey without dashes', token: with_({ secretKey: (base.secretKey as string).replace(/-/g, '') }) },
  { name: 'signInAddress with a port', token: with_({ signInAddress: 'team.1password.invalid:8443' }) },
  { name: 'srpX short odd-length hex', token: with_({ srpX: 'abc' }) },
  { name: 'iterations 0', token: withUserAuth({ iterations: 0 }) },
  { name: 'iterations 2^32-1', token: withUserAuth({ iterations: 2 ** 32 - 1 }) },
];

export const INVALID_TOKENS: TokenCase[] = [
  { name: 'empty string', token: '', reason: 'missing ops_ prefix' },
  { name: 'not a token', token: 'not-a-token', reason: 'missing ops_ prefix' },
  { name: 'upper-case prefix', token: `OPS_${payload}`, reason: 'missing ops_ prefix' },
  { name: 'dash prefix', token: `ops-${payload}`, reason: 'missing ops_ prefix' },
  { name: 'bare payload', token: payload, reason: 'missing ops_ prefix' },
  { name: 'leading space', token: ` ${valid}`, reason: 'missing ops_ prefix' },
  { name: 'trailing newline', token: `${valid}\n`, reason: 'payload is not valid base64' },
  { name: 'prefix only', token: 'ops_', reason: 'payload is not valid base64' },
  { name: 'padded base64', token: `${unpadded}=`, reason: 'payload is not valid base64' },
  { name: 'url-safe alphabet', token: withStdOnlyChars.replace(/\+/g, '-').replace(/\//g, '_'), reason: 'payload is not valid base64' },
  { name: 'non-canonical trailing bits', token: nonCanonical, reason: 'payload is not valid base64' },
  { name: 'impossible base64 length', token: 'ops_AAAAA', reason: 'payload is not valid base64' },
  { name: 'payload not JSON', token: `ops_${b64('hello, world')}`, reason: 'payload is not a JSON object' },
  { name: 'payload a JSON array', token: encodeToken([base]), reason: 'payload is not a JSON object' },
  { name: 'payload a JSON string', token: encodeToken('ops'), reason: 'payload is not a JSON object' },
  { name: 'payload JSON null', token: encodeToken(null), reason: 'payload is not a JSON object' },
  {
    name: 'payload with a byte-order mark',
    token: `ops_${b64(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(base))]))}`,
    reason: 'payload is not a JSON object',
  },
  ...['signInAddress', 'userAuth', 'email', 'srpX', 'muk', 'secretKey', 'deviceUuid'].map((field) => ({
    name: `${field} missing`,
    token: without(field),
    reason: `field '${field}' is missing`,
  })),
  { name: 'signInAddress empty', token: with_({ signInAddress: '' }), reason: "field 'signInAddress' is invalid" },
  {
    name: 'signInAddress with a space',
    token: with_({ signInAddress: 'team 1password.invalid' }),
    reason: "field 'signInAddress' is invalid",
  },
  { name: 'email without @', token: with_({ email: 'service.account.invalid' }), reason: "field 'email' is invalid" },
  { name: 'email with two @', token: with_({ email: 'a@b@c.invalid' }), reason: "field 'email' is invalid" },
  { name: 'email domain without a dot', token: with_({ email: 'abc@localhost' }), reason: "field 'email' is invalid" },
  { name: 'srpX all zeros', token: with_({ srpX: '0'.repeat(64) }), reason: "field 'srpX' is invalid" },
  { name: 'srpX not hex', token: with_({ srpX: 'xyz' }), reason: "field 'srpX' is invalid" },
  { name: 'muk not an object', token: with_({ muk: 'key' }), reason: "field 'muk' is invalid" },
  { name: 'muk.k of 31 bytes', token: withMuk({ k: Buffer.alloc(31, 7).toString('base64url') }), reason: "field 'muk' is invalid" },
  { name: 'muk.k of 33 bytes', token: withMuk({ k: Buffer.alloc(33, 7).toString('base64url') }), reason: "field 'muk' is invalid" },
  { name: 'muk.k in the standard alphabet', token: withMuk({ k: b64(Buffer.alloc(32, 0xfb)) }), reason: "field 'muk' is invalid" },
  { name: 'muk.ext a string', token: withMuk({ ext: 'false' }), reason: "field 'muk' is invalid" },
  { name: 'muk.kid missing', token: withMuk({ kid: undefined }), reason: "field 'muk' is invalid" },
  { name: 'userAuth.iterations negative', token: withUserAuth({ iterations: -1 }), reason: "field 'userAuth' is invalid" },
  { name: 'userAuth.iterations 2^32', token: withUserAuth({ iterations: 2 ** 32 }), reason: "field 'userAuth' is invalid" },
  { name: 'userAuth.iterations fractional', token: withUserAuth({ iterations: 1.5 }), reason: "field 'userAuth' is invalid" },
  { name: 'userAuth.salt missing', token: withUserAuth({ salt: undefined }), reason: "field 'userAuth' is invalid" },
  {
    name: 'secretKey with forbidden letters',
    token: with_({ secretKey: 'A3-OIU01A-BCDEFG-HJKLM-NPQRS-TVWXY-Z2345' }),
    reason: "field 'secretKey' is invalid",
  },
  {
    name: 'secretKey of 33 characters',
    token: with_({ secretKey: 'A3-ABCDEF-GHJKLM-NPQRS-TVWXY-Z2345-6789' }),
    reason: "field 'secretKey' is invalid",
  },
  { name: 'deviceUuid a number', token: with_({ deviceUuid: 42 }), reason: "field 'deviceUuid' is invalid" },
  { name: 'throttleSecret a string', token: with_({ throttleSecret: 'seed' }), reason: "field 'throttleSecret' is invalid" },
  { name: 'throttle seed of 63 hex digits', token: withThrottle({ seed: 'c'.repeat(63) }), reason: "field 'throttleSecret' is invalid" },
  { name: 'throttle seed not hex', token: withThrottle({ seed: 'g'.repeat(64) }), reason: "field 'throttleSecret' is invalid" },
  { name: 'throttle uuid missing', token: withThrottle({ uuid: undefined }), reason: "field 'throttleSecret' is invalid" },
  { name: 'throttle seed all zeros', token: withThrottle({ seed: '0'.repeat(64) }), reason: 'throttle seed is all zeros', sdk: 'crashes' },
  { name: 'huge token', token: with_({ padding: 'x'.repeat(5000) }), reason: 'token is too long', sdk: 'accepts' },
];
