import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeToken, fakeTokenPayload, mintFakeToken } from '../../src/providers/onepassword/fake-token.js';
import { checkTokenFormat, MAX_TOKEN_LENGTH } from '../../src/providers/onepassword/token-format.js';
import { INVALID_TOKENS, VALID_TOKENS } from './token-cases.js';

const KNOWN_REASON =
  /^(missing ops_ prefix|token is too long|payload is not valid base64|payload is not a JSON object|field '\w+' is (missing|invalid)|throttle seed is all zeros)$/;

/** Every string the token carries: its base64 text and, when it decodes, each string value inside. */
function secretsOf(token: string): string[] {
  const found: string[] = [];
  const text = token.startsWith('ops_') ? token.slice(4) : token;
  for (let i = 0; i + 6 <= text.length; i++) found.push(text.slice(i, i + 6));
  try {
    JSON.parse(Buffer.from(text, 'base64').toString('utf8'), (_key, value) => {
      if (typeof value === 'string' && value.length >= 4) found.push(value);
      return value;
    });
  } catch {
    // not JSON: the base64 windows are all there is
  }
  return found;
}

describe('checkTokenFormat', () => {
  it('has a table of at least 30 named cases', () => {
    expect(VALID_TOKENS.length + INVALID_TOKENS.length).toBeGreaterThanOrEqual(30);
  });

  describe.each(VALID_TOKENS)('accepts: $name', ({ token }) => {
    it('is ok', () => {
      expect(checkTokenFormat(token)).toEqual({ ok: true });
    });
  });

  describe.each(INVALID_TOKENS)('refuses: $name', ({ token, reason }) => {
    it(`says "${reason}"`, () => {
      expect(checkTokenFormat(token)).toEqual({ ok: false, reason });
    });

    it('quotes nothing from the token', () => {
      const result = checkTokenFormat(token);
      if (result.ok) throw new Error('expected a refusal');
      expect(result.reason).toMatch(KNOWN_REASON);
      const leaked = secretsOf(token).filter((s) => result.reason.includes(s));
      // Report only how many, never the strings themselves.
      expect(leaked.length).toBe(0);
    });
  });

  it('accepts a token at the length bound and refuses one just above it', () => {
    const base = mintFakeToken({ seed: 'length' });
    // Each extra character of JSON adds 4/3 of base64; search the padding that lands on the bound.
    let atBound = base;
    for (let n = 0; atBound.length < MAX_TOKEN_LENGTH; n++)
      atBound = encodeToken({ ...fakeTokenPayload({ seed: 'length' }), p: 'x'.repeat(n) });
    expect(atBound.length).toBeGreaterThanOrEqual(MAX_TOKEN_LENGTH);
    expect(checkTokenFormat(atBound)).toEqual(
      atBound.length === MAX_TOKEN_LENGTH ? { ok: true } : { ok: false, reason: 'token is too long' },
    );
    expect(checkTokenFormat(`${atBound}AAAA`)).toEqual({ ok: false, reason: 'token is too long' });
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        expect(typeof checkTokenFormat(s).ok).toBe('boolean');
        expect(typeof checkTokenFormat(`ops_${s}`).ok).toBe('boolean');
      }),
    );
  });

  it('never throws on any JSON payload', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(typeof checkTokenFormat(encodeToken(value)).ok).toBe('boolean');
      }),
    );
  });
});

describe('mintFakeToken', () => {
  it('is valid, deterministic per seed and distinct across seeds', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        const tokenA = mintFakeToken({ seed: a });
        expect(checkTokenFormat(tokenA)).toEqual({ ok: true });
        expect(mintFakeToken({ seed: a })).toBe(tokenA);
        if (a !== b) expect(mintFakeToken({ seed: b })).not.toBe(tokenA);
      }),
      { numRuns: 200 },
    );
  });

  it('signs in on .invalid unless told otherwise', () => {
    expect(fakeTokenPayload().signInAddress).toMatch(/\.invalid$/);
    expect(fakeTokenPayload({ signInAddress: 'fixture.example.invalid:8443' }).signInAddress).toBe('fixture.example.invalid:8443');
  });

  it('applies overrides, and undefined removes a field', () => {
    const payload = fakeTokenPayload({ overrides: { deviceUuid: '', throttleSecret: undefined } });
    expect(payload.deviceUuid).toBe('');
    expect('throttleSecret' in payload).toBe(false);
  });

  it('derives every secret field from the seed', () => {
    const a = fakeTokenPayload({ seed: 'a' });
    const b = fakeTokenPayload({ seed: 'b' });
    for (const field of ['email', 'srpX', 'secretKey', 'deviceUuid'] as const) expect(a[field]).not.toBe(b[field]);
    expect((a.muk as { k: string }).k).not.toBe((b.muk as { k: string }).k);
    expect((a.throttleSecret as { seed: string }).seed).not.toBe((b.throttleSecret as { seed: string }).seed);
  });
});
