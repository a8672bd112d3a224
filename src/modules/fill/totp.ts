// The `totp` field's value is a seed (an otpauth:// URI or bare base32), never filled as such: the
// fill types the current code. Errors here never quote the seed.
import { Secret, TOTP, URI } from 'otpauth';

/** A code with less time left than this is not typed: it could expire before the form is sent. */
export const MIN_REMAINING_MS = 3_000;

export class TotpSeedError extends Error {
  override readonly name = 'TotpSeedError';
}

export interface TotpClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export const systemClock: TotpClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Reads period, digits and algorithm from an otpauth:// URI; a bare seed gets the RFC 6238 defaults (30 s, 6 digits, SHA-1). */
export function parseTotp(seed: string): TOTP {
  const text = seed.trim();
  try {
    if (/^otpauth:/i.test(text)) {
      const otp = URI.parse(text);
      if (!(otp instanceof TOTP)) throw new TotpSeedError('the one-time password is counter-based (HOTP), not time-based');
      return otp;
    }
    return new TOTP({ secret: Secret.fromBase32(text.replace(/[\s-]/g, '').toUpperCase()) });
  } catch (err) {
    if (err instanceof TotpSeedError) throw err;
    // otpauth's messages may quote the input.
    throw new TotpSeedError('the one-time password seed cannot be read');
  }
}

/** The code to type now, waiting for the next time window when fewer than 3 seconds are left in this one. */
export async function currentTotpCode(seed: string, clock: TotpClock = systemClock): Promise<string> {
  const totp = parseTotp(seed);
  const remaining = totp.remaining({ timestamp: clock.now() });
  if (remaining < MIN_REMAINING_MS) await clock.sleep(remaining + 50);
  return totp.generate({ timestamp: clock.now() });
}
