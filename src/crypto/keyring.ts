// Master keys for envelope encryption: parsed from SESAME_MASTER_KEY or a key file.
// Error messages name positions, never the input text, so a typo cannot leak a key into logs.

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

const MASTER_KEY_BYTES = 32;

// No ':' or ',' so ids can sit in the `id:key,id:key` list and in AAD strings unambiguously.
const KEY_ID_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;

export interface MasterKey {
  id: string;
  key: Buffer;
}

export function isValidKeyId(id: string): boolean {
  return KEY_ID_PATTERN.test(id);
}

function assertValidKeys(keys: readonly MasterKey[], source: string): void {
  if (keys.length === 0) throw new Error(`${source} has no keys`);
  keys.forEach((entry, index) => {
    if (!isValidKeyId(entry.id)) {
      throw new Error(`${source} entry ${index + 1} has an invalid id (use 1-32 characters of A-Z a-z 0-9 _ . -)`);
    }
    if (entry.key.length !== MASTER_KEY_BYTES) throw new Error(`${source} entry ${index + 1} is not ${MASTER_KEY_BYTES} bytes`);
    const earlier = keys.findIndex((other) => other.id === entry.id);
    if (earlier !== index) throw new Error(`${source} entries ${earlier + 1} and ${index + 1} have the same id`);
  });
}

export class Keyring {
  readonly current: MasterKey;
  readonly #byId: ReadonlyMap<string, MasterKey>;

  /** `keys[0]` is current (it seals new secrets); the others only open and rewrap older ones. */
  constructor(keys: readonly MasterKey[], source = 'master key list') {
    assertValidKeys(keys, source);
    this.current = keys[0] as MasterKey;
    this.#byId = new Map(keys.map((entry) => [entry.id, entry]));
  }

  get(id: string): MasterKey | undefined {
    return this.#byId.get(id);
  }

  get ids(): string[] {
    return [...this.#byId.keys()];
  }

  /** Every key, current first, in the order of SESAME_MASTER_KEY or the key file. */
  get keys(): MasterKey[] {
    return [...this.#byId.values()];
  }
}

/** Strict base64 of exactly 32 bytes; Buffer.from alone would silently skip stray characters. */
function decodeKey(text: string): Buffer | undefined {
  if (!BASE64_PATTERN.test(text)) return undefined;
  const key = Buffer.from(text, 'base64');
  if (key.length !== MASTER_KEY_BYTES || key.toString('base64') !== text.padEnd(Math.ceil(text.length / 4) * 4, '=')) return undefined;
  return key;
}

/**
 * Parses `base64` (one key, id `default`) or `id:base64,id:base64` (first = current).
 * `source` names the input in error messages.
 */
export function parseMasterKeys(value: string, source = 'SESAME_MASTER_KEY'): Keyring {
  const entries = value.split(',').map((entry) => entry.trim());
  if (entries.length === 1 && entries[0] === '') throw new Error(`${source} is empty`);
  const keys = entries.map((entry, index): MasterKey => {
    const where = `${source} entry ${index + 1}`;
    if (entry === '') throw new Error(`${where} is empty`);
    const colon = entry.indexOf(':');
    if (colon === -1 && entries.length > 1) throw new Error(`${where} has no id (write id:base64 when listing several keys)`);
    const id = colon === -1 ? 'default' : entry.slice(0, colon).trim();
    const key = decodeKey(entry.slice(colon + 1).trim());
    if (!key) throw new Error(`${where} is not base64 of ${MASTER_KEY_BYTES} bytes`);
    return { id, key };
  });
  return new Keyring(keys, source);
}

/** The inverse of parseMasterKeys; always writes the `id:base64` form so ids survive a round trip. */
export function formatMasterKeys(keys: readonly MasterKey[]): string {
  // Never write a file we could not read back.
  assertValidKeys(keys, 'master key list');
  return keys.map(({ id, key }) => `${id}:${key.toString('base64')}`).join(',');
}

export function generateMasterKey(id: string): MasterKey {
  if (!isValidKeyId(id)) throw new Error('master key id must be 1-32 characters of A-Z a-z 0-9 _ . -');
  return { id, key: randomBytes(MASTER_KEY_BYTES) };
}

/** One above the highest `kN` id in use, so an id never comes back after its key was retired. */
export function nextKeyId(keyring: Keyring): string {
  const numbers = keyring.ids.map((id) => /^k(\d{1,9})$/.exec(id)?.[1]).filter((n) => n !== undefined);
  return `k${Math.max(0, ...numbers.map(Number)) + 1}`;
}

/** A new keyring whose current key is freshly generated; every older key stays to open what it sealed. */
export function withNewCurrentKey(keyring: Keyring, id = nextKeyId(keyring)): Keyring {
  if (keyring.get(id)) throw new Error(`master key '${id}' already exists`);
  return new Keyring([generateMasterKey(id), ...keyring.keys]);
}

/** The keyring without a retired key; the current key cannot be retired. */
export function withoutKey(keyring: Keyring, id: string): Keyring {
  if (!keyring.get(id)) throw new Error(`master key '${isValidKeyId(id) ? id : '?'}' is not configured`);
  if (keyring.current.id === id) throw new Error(`master key '${id}' is the current key; rotate to a new key before retiring it`);
  return new Keyring(keyring.keys.filter((entry) => entry.id !== id));
}

function isErrnoException(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function readKeyFileText(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const mode = fstatSync(fd).mode & 0o777;
    if (mode & 0o077) {
      throw new Error(
        `key file ${path} is accessible by group or others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${path}`,
      );
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Reads an existing key file (refusing one readable by group or others); never creates it. */
export function readKeyFile(path: string): Keyring {
  return parseMasterKeys(readKeyFileText(path), `key file ${path}`);
}

/** Writes the keyring to a new owner-only temporary file beside `path`, synced to disk, and returns its name. */
function writeTempKeyFile(path: string, keyring: Keyring): string {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  // `wx` + 0o600: the file is created with owner-only permissions, never loosened afterwards.
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, `${formatMasterKeys(keyring.keys)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return temp;
}

/** Persists a directory entry: losing the key file after a crash would orphan every sealed secret. */
function syncDirectory(dir: string): void {
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * Writes the whole file under a temporary name, then links it into place: readers never see a
 * half-written key, and if another process won the race we use its key instead of replacing it.
 */
function createKeyFile(path: string, keyring: Keyring): boolean {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = writeTempKeyFile(path, keyring);
  try {
    linkSync(temp, path);
  } catch (error) {
    if (isErrnoException(error, 'EEXIST')) return false;
    throw error;
  } finally {
    unlinkSync(temp);
  }
  syncDirectory(dir);
  return true;
}

/**
 * Replaces the key file with `change(current keys)`, atomically: the new list is written and synced
 * under a temporary name, then renamed over the file, so a crash leaves either the old or the new
 * list, never half of one. If the file changed while `change` ran (another keys command), nothing is
 * written. Returns the keyring now in the file.
 */
export function updateKeyFile(path: string, change: (keyring: Keyring) => Keyring): Keyring {
  const before = readKeyFileText(path);
  const next = change(parseMasterKeys(before, `key file ${path}`));
  const temp = writeTempKeyFile(path, next);
  try {
    if (readKeyFileText(path) !== before) throw new Error(`key file ${path} changed while it was being updated; nothing was written`);
    renameSync(temp, path);
  } finally {
    rmSync(temp, { force: true });
  }
  syncDirectory(dirname(path));
  return next;
}

/** Reads the key file, or creates it with a fresh key `k1` (the embedded default's first start). */
export function loadOrCreateKeyFile(path: string): { keyring: Keyring; created: boolean } {
  try {
    return { keyring: readKeyFile(path), created: false };
  } catch (error) {
    if (!isErrnoException(error, 'ENOENT')) throw error;
  }
  const keyring = new Keyring([generateMasterKey('k1')]);
  if (createKeyFile(path, keyring)) return { keyring, created: true };
  return { keyring: readKeyFile(path), created: false };
}
