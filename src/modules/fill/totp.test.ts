import { TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { currentTotpCode, MIN_REMAINING_MS, parseTotp, TotpSeedError } from './totp.js';

const SEED = 'JBSWY3DPEHPK3PXP';

/** A clock that only moves when the code under test sleeps. */
function fakeClock(start: number) {
  const clock = { time: start, slept: [] as number[] };
  return {
    clock,
    totpClock: {
      now: () => clock.time,
      sleep: async (ms: number) => {
        clock.slept.push(ms);
        clock.time += ms;
      },
    },
  };
}

describe('TOTP', () => {
  it('reads period, digits and algorithm from the otpauth URI', () => {
    const totp = parseTotp(`otpauth://totp/X:a?secret=${SEED}&digits=8&period=60&algorithm=SHA256`);
    expect({ digits: totp.digits, period: totp.period, algorithm: totp.algorithm }).toEqual({ digits: 8, period: 60, algorithm: 'SHA256' });
  });

  it('reads a bare base32 seed (any case, spaces) with the RFC 6238 defaults', () => {
    const totp = parseTotp('jbsw y3dp ehpk 3pxp');
    expect({ digits: totp.digits, period: totp.period, algorithm: totp.algorithm }).toEqual({ digits: 6, period: 30, algorithm: 'SHA1' });
    expect(totp.secret.base32).toBe(SEED);
  });

  it('types the code of the current window when enough time is left', async () => {
    const start = Date.UTC(2026, 0, 1, 0, 0, 10); // 20 s left in a 30 s window
    const { clock, totpClock } = fakeClock(start);
    const code = await currentTotpCode(SEED, totpClock);
    expect(clock.slept).toEqual([]);
    expect(code).toBe(new TOTP({ secret: SEED }).generate({ timestamp: start }));
  });

  it('waits for the next window when fewer than 3 seconds are left, and types its code', async () => {
    const start = Date.UTC(2026, 0, 1, 0, 0, 28); // 2 s left
    const { clock, totpClock } = fakeClock(start);
    const code = await currentTotpCode(`otpauth://totp/X:a?secret=${SEED}&period=30&digits=6`, totpClock);
    expect(clock.slept).toHaveLength(1);
    expect(clock.slept[0]).toBeGreaterThanOrEqual(2000);
    expect(clock.slept[0]).toBeLessThan(MIN_REMAINING_MS);
    expect(code).toBe(new TOTP({ secret: SEED }).generate({ timestamp: Date.UTC(2026, 0, 1, 0, 0, 30) }));
    expect(code).not.toBe(new TOTP({ secret: SEED }).generate({ timestamp: start }));
  });

  it('refuses counter-based (HOTP) URIs and unreadable seeds without quoting them', async () => {
    await expect(currentTotpCode(`otpauth://hotp/X:a?secret=${SEED}&counter=1`)).rejects.toThrow(/counter-based/);
    for (const seed of ['not base32 at all!', 'otpauth://totp/X?secret=', 'otpauth://totp/X:a?secret=JBSWY3DP&algorithm=NOPE']) {
      const error = await currentTotpCode(seed).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(TotpSeedError);
      expect((error as Error).message).not.toContain(seed);
      expect((error as Error).message).not.toContain('JBSWY3DP');
    }
  });
});
