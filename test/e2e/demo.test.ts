// `sesame demo`: a scripted agent signs in to the demo site with username, password and TOTP, and
// nothing it prints carries a value from the demo fixture.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEMO_FIXTURE, demoCommand } from '../../src/cli/demo.js';
import { loadConfig } from '../../src/config.js';

describe('sesame demo', () => {
  it('signs in with username, password and a TOTP code, printing each step and no value', async () => {
    const lines: string[] = [];
    const result = await demoCommand(loadConfig({ LOG_LEVEL: 'silent' }), (line) => lines.push(line));
    expect(result.signed_in).toBe(true);
    const output = lines.join('\n');
    expect(output).toContain('fill_secret_at');
    expect(output).toMatch(/"field":"totp"/);
    expect(output).toContain('the site accepted the sign-in');
    expect(output).toMatch(/audit trail: .*fill\(totp\):ok/);

    const fixture = readFileSync(fileURLToPath(DEMO_FIXTURE), 'utf8');
    const values = [...fixture.matchAll(/"(?:value|secret)"\s*:\s*"([^"]+)"/g)].map((m) => m[1] as string);
    const tokens = [...fixture.matchAll(/"(ops_[^"]+)"/g)].map((m) => m[1] as string);
    const seed = /secret=([A-Z2-7]+)/.exec(fixture)?.[1] as string;
    for (const secret of [...values, ...tokens, seed]) {
      expect(output.includes(secret), 'a secret in the demo output').toBe(false);
    }
  });
});
