// Canary search: every form in which a secret could escape (plain, base64 and base64url at each
// byte alignment, hex, URL-encoded, and for a service account token its payload and the credentials
// inside), and the places to look (responses, SQLite files, a pg_dump).
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

/** Shorter forms would match by chance; every canary here is much longer. */
const MIN_FORM_LENGTH = 12;

/**
 * base64 of `bytes` as it would appear inside a longer base64 text that starts 0, 1 or 2 bytes
 * earlier: only the characters that depend on `bytes` alone are kept.
 */
function base64Alignments(bytes: Buffer, encoding: 'base64' | 'base64url'): string[] {
  return [0, 1, 2].map((shift) => {
    const text = Buffer.concat([Buffer.alloc(shift), bytes])
      .toString(encoding)
      .replace(/=+$/, '');
    const first = Math.ceil((shift * 8) / 6);
    const last = Math.floor(((shift + bytes.length) * 8) / 6);
    return text.slice(first, last);
  });
}

/** The encodings under which `secret` must never appear. */
export function encodedForms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms = [
    secret,
    ...base64Alignments(bytes, 'base64'),
    ...base64Alignments(bytes, 'base64url'),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
  ];
  return [...new Set(forms)].filter((form) => form.length >= MIN_FORM_LENGTH);
}

/** A service account token's forms: the token, its base64 payload after `ops_`, and the credentials inside it. */
export function tokenForms(token: string): string[] {
  const payload = token.slice('ops_'.length);
  // The payload as base64url too: the same credentials, re-encoded by a careless URL-safe round trip.
  const payloadUrl = Buffer.from(payload, 'base64').toString('base64url');
  const forms = [...encodedForms(token), ...encodedForms(payload), payloadUrl];
  try {
    const credentials = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as {
      secretKey?: string;
      srpX?: string;
      muk?: { k?: string };
      throttleSecret?: { seed?: string };
    };
    const parts = [
      credentials.secretKey,
      credentials.secretKey?.replace(/-/g, ''),
      credentials.srpX,
      credentials.muk?.k,
      credentials.throttleSecret?.seed,
    ];
    for (const part of parts) if (part) forms.push(...encodedForms(part));
  } catch {
    // a malformed canary has no credentials to look for
  }
  return [...new Set(forms)];
}

/** Which forms occur in `haystack`, abbreviated for a readable failure (never the whole secret). */
export function findCanaries(haystack: string, forms: readonly string[]): string[] {
  return forms.filter((form) => haystack.includes(form)).map((form) => `${form.slice(0, 10)}…(${form.length} chars)`);
}

/** A response as searchable text: status, body and every header. */
export function responseText(res: { status: number; text: string; headers: Headers }): string {
  return [res.status, res.text, ...[...res.headers.entries()].map(([k, v]) => `${k}: ${v}`)].join('\n');
}

/** The SQLite database's files (main file, WAL, shared memory), raw bytes as latin1 so any byte sequence is searchable. */
export function sqliteFilesText(path: string): string {
  const dir = dirname(path);
  const base = basename(path);
  return readdirSync(dir)
    .filter((name) => name.startsWith(base))
    .map((name) => readFileSync(join(dir, name)).toString('latin1'))
    .join('\n');
}

/** A full plain-text `pg_dump` of the database at `url` (schema and data). */
export async function pgDump(url: string): Promise<string> {
  const { stdout } = await promisify(execFile)('pg_dump', ['--no-owner', '--dbname', url], {
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, PGCONNECT_TIMEOUT: '10' },
  });
  return stdout;
}
