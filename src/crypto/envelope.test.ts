import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { createEnvelope, DecryptError, type SealedSecret } from './envelope.js';
import { generateMasterKey, Keyring } from './keyring.js';

// Pass-through spy, so a test can check the data key it handed out was zeroed afterwards.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, randomBytes: vi.fn(actual.randomBytes) };
});

const k1 = generateMasterKey('k1');
const k2 = generateMasterKey('k2');
const context = 'org:0b6c2f0e-7f1a-4c55-9d1e-3f1b2a9c8d70:vault:41';

function openError(open: () => unknown): DecryptError {
  try {
    open();
  } catch (error) {
    expect(error).toBeInstanceOf(DecryptError);
    return error as DecryptError;
  }
  throw new Error('expected open to throw');
}

function withByteFlipped(base64: string, index: number): string {
  const bytes = Buffer.from(base64, 'base64');
  bytes[index] = (bytes[index] as number) ^ 0x01;
  return bytes.toString('base64');
}

describe('envelope', () => {
  const envelope = createEnvelope(new Keyring([k1]));

  it('round-trips any string under any context', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (plaintext, ctx) => {
        expect(envelope.open(envelope.seal(plaintext, ctx), ctx)).toBe(plaintext);
      }),
      { numRuns: 200 },
    );
  });

  it('lays out version | IV | ciphertext | tag in standard base64', () => {
    const sealed = envelope.seal('hunter2', context);
    expect(sealed.keyId).toBe('k1');
    const wrapped = Buffer.from(sealed.wrappedKey, 'base64');
    const ciphertext = Buffer.from(sealed.ciphertext, 'base64');
    expect(wrapped).toHaveLength(1 + 12 + 32 + 16);
    expect(ciphertext).toHaveLength(1 + 12 + 7 + 16);
    expect([wrapped[0], ciphertext[0]]).toEqual([1, 1]);
    expect(sealed.ciphertext).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('gives distinct results for the same plaintext', () => {
    const a = envelope.seal('same', context);
    const b = envelope.seal('same', context);
    expect(a.wrappedKey).not.toBe(b.wrappedKey);
    expect(a.ciphertext).not.toBe(b.ciphertext);
  });

  it('zeroes the data key after sealing', () => {
    const spy = vi.mocked(randomBytes);
    spy.mockClear();
    envelope.seal('hunter2', context);
    const dataKeys = spy.mock.results.map((result) => result.value as Buffer).filter((buffer) => buffer.length === 32);
    expect(dataKeys).toHaveLength(1);
    expect(dataKeys[0]?.equals(Buffer.alloc(32))).toBe(true);
  });

  it('fails under another context (a ciphertext copied to another vault or org row)', () => {
    const sealed = envelope.seal('hunter2', context);
    for (const other of ['org:other:vault:41', `${context} `, '']) {
      expect(openError(() => envelope.open(sealed, other)).message).toBe('stored secret failed authentication');
    }
  });

  it('fails when any single byte of the wrapped key or ciphertext changes', () => {
    const sealed = envelope.seal('pw', context);
    for (const field of ['wrappedKey', 'ciphertext'] as const) {
      const length = Buffer.from(sealed[field], 'base64').length;
      for (let index = 0; index < length; index++) {
        const tampered: SealedSecret = { ...sealed, [field]: withByteFlipped(sealed[field], index) };
        expect(openError(() => envelope.open(tampered, context)).message).toBe('stored secret failed authentication');
      }
    }
  });

  it('fails on truncated or empty fields', () => {
    const sealed = envelope.seal('pw', context);
    const truncated = Buffer.from(sealed.ciphertext, 'base64').subarray(0, 20).toString('base64');
    openError(() => envelope.open({ ...sealed, ciphertext: truncated }, context));
    openError(() => envelope.open({ ...sealed, ciphertext: '' }, context));
    openError(() => envelope.open({ ...sealed, wrappedKey: '' }, context));
  });

  it('fails when parts of two sealed secrets are mixed', () => {
    const a = envelope.seal('alpha', context);
    const b = envelope.seal('bravo', context);
    openError(() => envelope.open({ ...a, ciphertext: b.ciphertext }, context));
    openError(() => envelope.open({ ...a, wrappedKey: b.wrappedKey }, context));
  });

  it('fails when the key id label is swapped, even if that key is configured', () => {
    // The same key bytes under two ids: only the AAD can tell the labels apart.
    const twin = { id: 'k1-copy', key: k1.key };
    const both = createEnvelope(new Keyring([k1, twin]));
    const sealed = both.seal('hunter2', context);
    expect(openError(() => both.open({ ...sealed, keyId: 'k1-copy' }, context)).message).toBe('stored secret failed authentication');

    const rotated = createEnvelope(new Keyring([k2, k1]));
    openError(() => rotated.open({ ...rotated.seal('hunter2', context), keyId: 'k1' }, context));
  });

  it('names an unknown key id, and nothing else', () => {
    const sealed = createEnvelope(new Keyring([k2])).seal('hunter2', context);
    expect(openError(() => envelope.open(sealed, context)).message).toBe("master key 'k2' is not configured");
    expect(openError(() => envelope.open({ ...sealed, keyId: 'x\nforged log line' }, context)).message).toBe(
      'stored secret failed authentication',
    );
  });

  it('check authenticates like open, without returning the plaintext', () => {
    const sealed = envelope.seal('hunter2', context);
    expect(envelope.check(sealed, context)).toBeUndefined();
    expect(() => envelope.check(sealed, 'org:other:vault:41')).toThrow(DecryptError);
    expect(() => envelope.check({ ...sealed, ciphertext: withByteFlipped(sealed.ciphertext, 20) }, context)).toThrow(
      'stored secret failed authentication',
    );
    expect(() => createEnvelope(new Keyring([k2])).check(sealed, context)).toThrow("master key 'k1' is not configured");
    expect(envelope.currentKeyId).toBe('k1');
  });

  it('never puts the plaintext, keys or ciphertext in error messages', () => {
    const sealed = envelope.seal('hunter2', context);
    const message = openError(() => envelope.open(sealed, 'other')).message;
    for (const secret of ['hunter2', sealed.ciphertext, sealed.wrappedKey, k1.key.toString('base64')]) {
      expect(message).not.toContain(secret);
    }
  });
});

describe('rewrap', () => {
  it('moves a secret to the current key without changing its ciphertext', () => {
    const old = createEnvelope(new Keyring([k1]));
    const sealed = old.seal('hunter2', context);

    const rotating = createEnvelope(new Keyring([k2, k1]));
    expect(rotating.needsRewrap(sealed)).toBe(true);
    const rewrapped = rotating.rewrap(sealed, context);
    expect(rewrapped.keyId).toBe('k2');
    expect(rewrapped.ciphertext).toBe(sealed.ciphertext);
    expect(rotating.needsRewrap(rewrapped)).toBe(false);

    // Once every row is rewrapped the old key can be dropped.
    const rotated = createEnvelope(new Keyring([k2]));
    expect(rotated.open(rewrapped, context)).toBe('hunter2');
    expect(openError(() => rotated.open(sealed, context)).message).toBe("master key 'k1' is not configured");
  });

  it('refuses to rewrap under the wrong context', () => {
    const sealed = createEnvelope(new Keyring([k1])).seal('hunter2', context);
    openError(() => createEnvelope(new Keyring([k2, k1])).rewrap(sealed, 'org:other:vault:41'));
  });
});
