// The provider contract against real 1Password. Runs only when both variables are set:
//   OP_SERVICE_ACCOUNT_TOKEN  a service account token that can read OP_TEST_VAULT_ID
//   OP_TEST_VAULT_ID          a vault with at least one Login item (read-only use)
// Every call counts against the account's hourly and daily request limits.

import { describe } from 'vitest';
import { mintFakeToken } from '../../src/providers/onepassword/fake-token.js';
import { createSdkProvider } from '../../src/providers/onepassword/sdk-backend.js';
import { describeProviderContract } from './provider-contract.js';

const token = process.env.OP_SERVICE_ACCOUNT_TOKEN?.trim();
const vaultId = process.env.OP_TEST_VAULT_ID?.trim();

function signInAddressOf(serviceAccountToken: string): string {
  const credentials = JSON.parse(Buffer.from(serviceAccountToken.slice(4), 'base64').toString('utf8')) as { signInAddress: string };
  return credentials.signInAddress;
}

describe.skipIf(!token || !vaultId)('1Password, live', () => {
  describeProviderContract('1Password SDK (live)', () => ({
    provider: createSdkProvider({ loginDeadlineMs: 15_000, callDeadlineMs: 15_000, integrationVersion: 'contract-test' }),
    token: token as string,
    vaultId: vaultId as string,
    // A made-up id in 1Password's format: no account has it.
    otherVaultId: 'aaaaaaaaaaaaaaaaaaaaaaaaaa',
    // Invented credentials on the real account's sign-in address, which 1Password must refuse at login.
    refusedToken: mintFakeToken({ seed: 'sesame-live-refused', signInAddress: signInAddressOf(token as string) }),
    // Within vitest's 20 s test timeout.
    deadlineMs: 15_000,
  }));
});
