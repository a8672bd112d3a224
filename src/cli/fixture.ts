import { randomUUID } from 'node:crypto';
import { mintFakeToken } from '../providers/onepassword/fake-token.js';

export function mintTokenCommand(seed: string = randomUUID()): { token: string } {
  return { token: mintFakeToken({ seed }) };
}
