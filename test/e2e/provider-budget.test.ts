// The provider budget under load (issue 6): 1,000 fills on one vault within a minute, through the real
// server and a real Chromium page, on the fixture backend, cost at most ~1.1 provider reads per fill;
// list_secrets on a warm cache costs none. Reads are counted where they reach the backend (inside the
// server's request budget, with its production defaults), so they are what 1Password would see.
// Prints one JSON line with the measured numbers, the duration among them: it is reported, not asserted
// (speed belongs to the benchmarks), and here the 1,000 fills take 16-32 s, inside the cache's 30 s
// lifetime or just past it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedAgent } from '../../src/demo/agent.js';
import { type FillEnvironment, HOSTS, type ProviderCounts, startFillEnvironment } from './harness.js';

const FILLS = 1_000;
// A few agents at once, as on a busy vault; the server fills one page one request at a time.
const CONCURRENCY = 4;
const MAX_READS_PER_FILL = 1.1;

const total = (counts: ProviderCounts) => counts.checkVaultAccess + counts.listItems + counts.getItem;

describe('provider budget under load', () => {
  let env: FillEnvironment;
  beforeAll(async () => {
    env = await startFillEnvironment({ env: { LOG_LEVEL: 'warn' } });
  });
  afterAll(() => env?.close());

  it(`${FILLS} fills on one vault cost at most ${MAX_READS_PER_FILL} provider reads each; a warm list_secrets none`, {
    timeout: 120_000,
  }, async () => {
    await env.page.goto(env.site.url(HOSTS.login, '/login'));
    const agent = scriptedAgent({
      sesameUrl: env.t.url,
      credential: env.key,
      vaultId: env.vaultId,
      cdpEndpoint: env.chrome.cdpEndpoint,
      page: env.page,
    });

    // Cold: the item list and each eligible item's field metadata are read once.
    const cold = await agent.listSecrets();
    expect(cold.body.fields.length).toBeGreaterThan(0);
    expect(env.counts.listItems).toBe(1);
    // Warm: answered from the brief cache and the field metadata cache, without the provider.
    const beforeWarm = { ...env.counts };
    const warm = await agent.listSecrets();
    const warmReads = total(env.counts) - total(beforeWarm);
    expect(warm.body).toEqual(cold.body);
    expect(warmReads).toBe(0);

    const point = await agent.centre(env.page.locator('#password'));
    const before = { ...env.counts };
    let next = 0;
    let filled = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < FILLS) {
          next++;
          const answer = await agent.fillAtPoint(point, 'password');
          expect(answer.body).toEqual({ filled: true, field: 'password' });
          filled++;
        }
      }),
    );
    const durationMs = performance.now() - started;
    const reads = {
      checkVaultAccess: env.counts.checkVaultAccess - before.checkVaultAccess,
      listItems: env.counts.listItems - before.listItems,
      getItem: env.counts.getItem - before.getItem,
    };
    const perFill = total(reads) / filled;
    console.log(
      `provider budget: ${JSON.stringify({
        fills: filled,
        concurrency: CONCURRENCY,
        duration_ms: Math.round(durationMs),
        fills_per_s: Math.round((filled / durationMs) * 1000),
        reads,
        reads_per_fill: Number(perFill.toFixed(4)),
        warm_list_secrets_reads: warmReads,
      })}`,
    );

    expect(filled).toBe(FILLS);
    expect(perFill).toBeLessThanOrEqual(MAX_READS_PER_FILL);
    expect(await env.page.locator('#password').inputValue()).toBe(env.accounts.login?.password);
  });
});
