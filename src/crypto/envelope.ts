// Envelope encryption: each secret gets its own AES-256-GCM data key, wrapped by a master key.
// Rotating the master key then only rewraps 61-byte data keys; secret ciphertexts never change.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { isValidKeyId, type Keyring } from './keyring.js';

/** Stored form of a secret; `wrappedKey` and `ciphertext` are standard base64 of `version | IV | ciphertext | tag`. */
export interface SealedSecret {
  keyId: string;
  wrappedKey: string;
  ciphertext: string;
}

export interface Envelope {
  /** Id of the master key that wraps new data keys. */
  readonly currentKeyId: string;
  /** `context` names the row the secret belongs to (e.g. org and vault); open needs the same context. */
  seal(plaintext: string, context: string): SealedSecret;
  open(sealed: SealedSecret, context: string): string;
  /** Throws DecryptError unless `open` would succeed; the plaintext is zeroed, never turned into a string. */
  check(sealed: SealedSecret, context: string): void;
  /** Re-wraps the data key under the current master key; the ciphertext is reused, the plaintext never touched. */
  rewrap(sealed: SealedSecret, context: string): SealedSecret;
  needsRewrap(sealed: SealedSecret): boolean;
}

/** Messages are fixed or name only a key id: never plaintext, key bytes or ciphertext. */
export class DecryptError extends Error {
  override readonly name = 'DecryptError';
}

const FORMAT_VERSION = 1;
const DATA_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES;
const AUTH_FAILED = 'stored secret failed authentication';

const secretAad = (context: string) => Buffer.from(`sesame:secret:v1:${context}`, 'utf8');
// The key id is in the AAD so relabelling a row with another key id fails even if that key could unwrap it.
const dataKeyAad = (keyId: string, context: string) => Buffer.from(`sesame:dek:v1:${keyId}:${context}`, 'utf8');

function encrypt(key: Buffer, plaintext: Buffer, aad: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(FORMAT_VERSION), iv, body, cipher.getAuthTag()]).toString('base64');
}

function decrypt(key: Buffer, sealed: string, aad: Buffer): Buffer {
  const bytes = Buffer.from(sealed, 'base64');
  if (bytes.length < HEADER_BYTES + TAG_BYTES || bytes[0] !== FORMAT_VERSION) throw new DecryptError(AUTH_FAILED);
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(1, HEADER_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  // GCM is a stream mode: update() yields every byte and final() only checks the tag (and returns nothing).
  const plaintext = decipher.update(bytes.subarray(HEADER_BYTES, bytes.length - TAG_BYTES));
  try {
    decipher.final();
  } catch {
    plaintext.fill(0); // unauthenticated output must not linger
    throw new DecryptError(AUTH_FAILED);
  }
  return plaintext;
}

export function createEnvelope(keyring: Keyring): Envelope {
  function unwrapDataKey(sealed: SealedSecret, context: string): Buffer {
    const master = keyring.get(sealed.keyId);
    if (!master) {
      // Only echo ids we could have written, so a corrupted row cannot inject text into logs.
      throw new DecryptError(isValidKeyId(sealed.keyId) ? `master key '${sealed.keyId}' is not configured` : AUTH_FAILED);
    }
    const dataKey = decrypt(master.key, sealed.wrappedKey, dataKeyAad(master.id, context));
    if (dataKey.length !== DATA_KEY_BYTES) {
      dataKey.fill(0);
      throw new DecryptError(AUTH_FAILED);
    }
    return dataKey;
  }

  function wrapDataKey(dataKey: Buffer, context: string): Pick<SealedSecret, 'keyId' | 'wrappedKey'> {
    const { id, key } = keyring.current;
    return { keyId: id, wrappedKey: encrypt(key, dataKey, dataKeyAad(id, context)) };
  }

  return {
    currentKeyId: keyring.current.id,

    seal(plaintext, context) {
      const dataKey = randomBytes(DATA_KEY_BYTES);
      try {
        const ciphertext = encrypt(dataKey, Buffer.from(plaintext, 'utf8'), secretAad(context));
        return { ...wrapDataKey(dataKey, context), ciphertext };
      } finally {
        dataKey.fill(0);
      }
    },

    open(sealed, context) {
      const dataKey = unwrapDataKey(sealed, context);
      try {
        return decrypt(dataKey, sealed.ciphertext, secretAad(context)).toString('utf8');
      } finally {
        dataKey.fill(0);
      }
    },

    check(sealed, context) {
      const dataKey = unwrapDataKey(sealed, context);
      try {
        decrypt(dataKey, sealed.ciphertext, secretAad(context)).fill(0);
      } finally {
        dataKey.fill(0);
      }
    },

    rewrap(sealed, context) {
      const dataKey = unwrapDataKey(sealed, context);
      try {
        return { ...wrapDataKey(dataKey, context), ciphertext: sealed.ciphertext };
      } finally {
        dataKey.fill(0);
      }
    },

    needsRewrap(sealed) {
      return sealed.keyId !== keyring.current.id;
    },
  };
}
