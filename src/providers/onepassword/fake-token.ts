// Structurally valid, entirely invented service account tokens for tests, demos and fixtures.
// Every value is derived from sha256(seed), so a seed always gives the same token and
// different seeds give different tokens. The sign-in address is on `.invalid` by default,
// so a fake token that reaches the real SDK by mistake cannot reach any host.

import { createHash } from 'node:crypto';

export interface FakeTokenOptions {
  /** Any string; the same seed always gives the same token. */
  seed?: string;
  signInAddress?: string;
  /** Replaces top-level fields of the credentials JSON; a value of `undefined` removes the field. */
  overrides?: Record<string, unknown>;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const SECRET_KEY_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTVWXYZ';

function derive(seed: string, label: string): Buffer {
  return createHash('sha256').update(`sesame-fake-token\0${seed}\0${label}`).digest();
}

function pick(bytes: Buffer, alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[(bytes[i % bytes.length] ?? 0) % alphabet.length];
  return out;
}

function secretKey(bytes: Buffer): string {
  // "A3" + 32 characters grouped 6-6-5-5-5-5, as 1Password prints them.
  const chars = pick(bytes, SECRET_KEY_ALPHABET, 32);
  return ['A3', chars.slice(0, 6), chars.slice(6, 12), chars.slice(12, 17), chars.slice(17, 22), chars.slice(22, 27), chars.slice(27)].join(
    '-',
  );
}

/** The decoded credentials JSON of a fake token. */
export function fakeTokenPayload(options: FakeTokenOptions = {}): Record<string, unknown> {
  const seed = options.seed ?? 'sesame';
  const d = (label: string) => derive(seed, label);
  const payload: Record<string, unknown> = {
    signInAddress: options.signInAddress ?? `${pick(d('team'), BASE32, 8)}.1password.invalid`,
    userAuth: { method: 'SRPg-4096', alg: 'PBES2g-HS256', iterations: 650000, salt: d('salt').subarray(0, 16).toString('base64url') },
    email: `${pick(d('email'), BASE32, 13)}@1passwordserviceaccounts.invalid`,
    // The first byte is forced non-zero so neither value can ever be all zeros.
    srpX: Buffer.concat([Buffer.from([1]), d('srpX').subarray(1)]).toString('hex'),
    muk: { alg: 'A256GCM', ext: false, k: d('muk').toString('base64url'), key_ops: ['decrypt', 'encrypt'], kty: 'oct', kid: 'mp' },
    secretKey: secretKey(d('secretKey')),
    throttleSecret: {
      seed: Buffer.concat([Buffer.from([1]), d('throttle').subarray(1)]).toString('hex'),
      uuid: pick(d('throttleUuid'), BASE32, 26),
    },
    deviceUuid: pick(d('device'), BASE32, 26),
  };
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) delete payload[key];
    else payload[key] = value;
  }
  return payload;
}

/** `ops_` + unpadded standard base64 of the JSON; any value, so tests can build malformed tokens. */
export function encodeToken(payload: unknown): string {
  return `ops_${Buffer.from(JSON.stringify(payload)).toString('base64').replace(/=+$/, '')}`;
}

export function mintFakeToken(options: FakeTokenOptions = {}): string {
  return encodeToken(fakeTokenPayload(options));
}
