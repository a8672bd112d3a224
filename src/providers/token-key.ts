// What caches, back-offs and SDK clients are keyed by: a hash of the token, never the token itself,
// so a rotated token never meets the old one's entries and no map holds a plaintext token.

import { createHash } from 'node:crypto';

export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
