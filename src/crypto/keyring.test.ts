import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  formatMasterKeys,
  generateMasterKey,
  Keyring,
  loadOrCreateKeyFile,
  nextKeyId,
  parseMasterKeys,
  readKeyFile,
  updateKeyFile,
  withNewCurrentKey,
  withoutKey,
} from './keyring.js';

const keyA = Buffer.alloc(32, 0xa1);
const keyB = Buffer.alloc(32, 0xb2);
const b64A = keyA.toString('base64');
const b64B = keyB.toString('base64');

function parseError(value: string): Error {
  try {
    parseMasterKeys(value);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected parseMasterKeys to throw');
}

describe('parseMasterKeys', () => {
  it('reads a bare base64 key as id "default"', () => {
    const keyring = parseMasterKeys(b64A);
    expect(keyring.ids).toEqual(['default']);
    expect(keyring.current.id).toBe('default');
    expect(keyring.current.key.equals(keyA)).toBe(true);
  });

  it('reads an id:key list with the first entry current, trimming whitespace', () => {
    const keyring = parseMasterKeys(` k2:${b64B} ,\n k1:${b64A}\n`);
    expect(keyring.ids).toEqual(['k2', 'k1']);
    expect(keyring.current.id).toBe('k2');
    expect(keyring.get('k1')?.key.equals(keyA)).toBe(true);
    expect(keyring.get('k3')).toBeUndefined();
  });

  it('accepts unpadded base64', () => {
    expect(parseMasterKeys(`a.b_c-1:${b64A.replace(/=+$/, '')}`).current.key.equals(keyA)).toBe(true);
  });

  const invalid: [string, string, RegExp][] = [
    ['empty', '  ', /SESAME_MASTER_KEY is empty/],
    ['too short', Buffer.alloc(31, 7).toString('base64'), /entry 1 is not base64 of 32 bytes/],
    ['too long', Buffer.alloc(33, 7).toString('base64'), /entry 1 is not base64 of 32 bytes/],
    ['not base64', `${b64A.slice(0, 20)}!${b64A.slice(21)}`, /entry 1 is not base64 of 32 bytes/],
    ['a bad second key', `k1:${b64A},k2:${b64B.slice(4)}`, /SESAME_MASTER_KEY entry 2 is not base64 of 32 bytes/],
    ['an empty entry', `k1:${b64A},`, /entry 2 is empty/],
    ['a list entry without id', `k1:${b64A},${b64B}`, /entry 2 has no id/],
    ['an invalid id', `bad id!:${b64A}`, /entry 1 has an invalid id/],
    ['an empty id', `:${b64A}`, /entry 1 has an invalid id/],
    ['a 33-character id', `${'x'.repeat(33)}:${b64A}`, /entry 1 has an invalid id/],
    ['duplicate ids', `k1:${b64A},k2:${b64B},k1:${b64B}`, /entries 1 and 3 have the same id/],
  ];

  it.each(invalid)('rejects %s without echoing the input', (_name, value, message) => {
    const error = parseError(value);
    expect(error.message).toMatch(message);
    for (const secret of [b64A, b64B, b64A.slice(0, 8), b64B.slice(4, 12), value.trim()].filter((s) => s !== '')) {
      expect(error.message).not.toContain(secret);
    }
  });
});

describe('Keyring', () => {
  it('validates keys built in code', () => {
    expect(() => new Keyring([])).toThrow(/has no keys/);
    expect(() => new Keyring([{ id: 'k1', key: Buffer.alloc(16) }])).toThrow(/entry 1 is not 32 bytes/);
  });
});

describe('formatMasterKeys and generateMasterKey', () => {
  it('round-trips through parseMasterKeys', () => {
    const keys = [generateMasterKey('k2'), generateMasterKey('k1')];
    const keyring = parseMasterKeys(formatMasterKeys(keys));
    expect(keyring.ids).toEqual(['k2', 'k1']);
    for (const { id, key } of keys) expect(keyring.get(id)?.key.equals(key)).toBe(true);
  });

  it('generates distinct 32-byte keys', () => {
    const [a, b] = [generateMasterKey('k1'), generateMasterKey('k1')];
    expect(a.key).toHaveLength(32);
    expect(a.key.equals(b.key)).toBe(false);
  });

  it('refuses ids the parser would reject', () => {
    expect(() => generateMasterKey('a:b')).toThrow(/master key id/);
    expect(() => formatMasterKeys([{ id: 'a,b', key: keyA }])).toThrow(/invalid id/);
  });
});

describe('loadOrCreateKeyFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-keyring-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a 0600 key file with key k1, then reads the same key back', () => {
    const path = join(dir, 'nested', 'data', 'master.key');
    const first = loadOrCreateKeyFile(path);
    expect(first.created).toBe(true);
    expect(first.keyring.ids).toEqual(['k1']);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toMatch(/^k1:[A-Za-z0-9+/]{43}=\n$/);
    expect(readdirSync(join(dir, 'nested', 'data'))).toEqual(['master.key']); // no temporary file left behind

    const second = loadOrCreateKeyFile(path);
    expect(second.created).toBe(false);
    expect(second.keyring.current.id).toBe('k1');
    expect(second.keyring.current.key.equals(first.keyring.current.key)).toBe(true);
  });

  it('reads a key file written by hand in the environment variable format', () => {
    const path = join(dir, 'master.key');
    writeFileSync(path, `${b64A}\n`, { mode: 0o600 });
    const { keyring, created } = loadOrCreateKeyFile(path);
    expect(created).toBe(false);
    expect(keyring.current.id).toBe('default');
    expect(keyring.current.key.equals(keyA)).toBe(true);
  });

  it('refuses a key file readable by group or others', () => {
    const path = join(dir, 'master.key');
    loadOrCreateKeyFile(path);
    chmodSync(path, 0o644);
    expect(() => loadOrCreateKeyFile(path)).toThrow(/chmod 600/);
    chmodSync(path, 0o640);
    expect(() => loadOrCreateKeyFile(path)).toThrow(/mode 0640/);
  });

  it('names the file, not its contents, when the file is malformed', () => {
    const path = join(dir, 'master.key');
    writeFileSync(path, `k1:${b64A.slice(2)}\n`, { mode: 0o600 });
    let message = '';
    try {
      loadOrCreateKeyFile(path);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(`key file ${path} entry 1 is not base64 of 32 bytes`);
  });
});

describe('rotation helpers', () => {
  it('picks the next kN id, one above the highest ever used', () => {
    expect(nextKeyId(parseMasterKeys(b64A))).toBe('k1');
    expect(nextKeyId(new Keyring([generateMasterKey('k1')]))).toBe('k2');
    expect(nextKeyId(new Keyring([generateMasterKey('k3'), generateMasterKey('legacy'), generateMasterKey('k10')]))).toBe('k11');
  });

  it('adds a fresh current key and keeps the older ones in order', () => {
    const before = new Keyring([generateMasterKey('k2'), generateMasterKey('k1')]);
    const after = withNewCurrentKey(before);
    expect(after.ids).toEqual(['k3', 'k2', 'k1']);
    expect(after.get('k2')?.key.equals(before.get('k2')?.key as Buffer)).toBe(true);
    expect(withNewCurrentKey(before, 'spring-2026').current.id).toBe('spring-2026');
    expect(() => withNewCurrentKey(before, 'k1')).toThrow(/already exists/);
    expect(() => withNewCurrentKey(before, 'bad:id')).toThrow(/master key id/);
  });

  it('retires an older key but never the current one or an unknown one', () => {
    const keyring = new Keyring([generateMasterKey('k2'), generateMasterKey('k1')]);
    expect(withoutKey(keyring, 'k1').ids).toEqual(['k2']);
    expect(() => withoutKey(keyring, 'k2')).toThrow(/is the current key/);
    expect(() => withoutKey(keyring, 'k9')).toThrow(/'k9' is not configured/);
  });
});

describe('updateKeyFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-keyring-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('replaces the file atomically with owner-only permissions and leaves no temporary file', () => {
    const path = join(dir, 'master.key');
    const { keyring: first } = loadOrCreateKeyFile(path);
    const rotated = updateKeyFile(path, (keyring) => withNewCurrentKey(keyring));
    expect(rotated.ids).toEqual(['k2', 'k1']);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['master.key']);
    const reread = readKeyFile(path);
    expect(reread.ids).toEqual(['k2', 'k1']);
    expect(reread.get('k1')?.key.equals(first.current.key)).toBe(true);
    expect(reread.current.key.equals(rotated.current.key)).toBe(true);
  });

  it('writes nothing when the change fails or the file changed meanwhile', () => {
    const path = join(dir, 'master.key');
    loadOrCreateKeyFile(path);
    const before = readFileSync(path, 'utf8');
    expect(() =>
      updateKeyFile(path, () => {
        throw new Error('refused');
      }),
    ).toThrow('refused');
    expect(readFileSync(path, 'utf8')).toBe(before);

    let concurrent = '';
    expect(() =>
      updateKeyFile(path, (keyring) => {
        // Another `keys` command lands between our read and our write.
        concurrent = `${formatMasterKeys(withNewCurrentKey(keyring, 'other').keys)}\n`;
        writeFileSync(path, concurrent, { mode: 0o600 });
        return withNewCurrentKey(keyring);
      }),
    ).toThrow(/changed while it was being updated/);
    expect(readFileSync(path, 'utf8')).toBe(concurrent);
    expect(readdirSync(dir)).toEqual(['master.key']);
  });

  it('refuses a key file readable by others, like the server does', () => {
    const path = join(dir, 'master.key');
    loadOrCreateKeyFile(path);
    chmodSync(path, 0o644);
    expect(() => updateKeyFile(path, (keyring) => withNewCurrentKey(keyring))).toThrow(/chmod 600/);
  });
});
