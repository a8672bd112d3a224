// Isolation: the SDK runs in worker threads (worker-pool.ts), so a WebAssembly panic, a blocked
// event loop or a memory blow-up costs the calls in flight on one worker, never the server.
// The workers run the build in dist/ (`npm test` builds it first).

import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '../../src/metrics.js';
import { encodeToken, fakeTokenPayload, mintFakeToken } from '../../src/providers/onepassword/fake-token.js';
import { createSdkProvider } from '../../src/providers/onepassword/sdk-backend.js';
import { checkTokenFormat } from '../../src/providers/onepassword/token-format.js';
import {
  createSdkWorkerPool,
  type PoolEvents,
  type SdkExecutor,
  type WorkerExitReason,
} from '../../src/providers/onepassword/worker-pool.js';
import type { WorkerCall } from '../../src/providers/onepassword/worker-protocol.js';
import { tokenKey } from '../../src/providers/service-token.js';
import { expectKind } from './provider-contract.js';
import { FAKE_SDK_MODULE, OFFLINE_SDK_MODULE, scenarioToken, VAULT } from './sdk/scenario.js';
import { startProviderServer } from './sdk/server.js';

/** A token the real SDK signs in with at `host` (answered by offline-sdk.mjs). */
const offlineToken = (seed: string, host: string) => mintFakeToken({ seed, signInAddress: `${host}.sesame.invalid` });

// Research §2.3: a token whose throttle seed is all zeros makes the SDK's WebAssembly core panic.
const CRASH_TOKEN = encodeToken(
  fakeTokenPayload({
    seed: 'crash',
    signInAddress: 'status-401.sesame.invalid',
    overrides: { throttleSecret: { seed: '0'.repeat(64), uuid: 'abcdefghijklmnopqrstuvwxyz' } },
  }),
);

const check = (token: string): WorkerCall => ({ op: 'checkVaultAccess', token, tokenKey: tokenKey(token), vaultId: VAULT });

let pool: SdkExecutor | undefined;
let exits: WorkerExitReason[];

function startPool(
  options: { sdkModule: string; size?: number; loginDeadlineMs?: number; maxHeapMb?: number; hangMs?: number },
  events?: PoolEvents,
) {
  exits = [];
  pool = createSdkWorkerPool({
    size: options.size ?? 1,
    loginDeadlineMs: options.loginDeadlineMs ?? 10_000,
    callDeadlineMs: 10_000,
    integrationVersion: 'test',
    clientIdleMs: 60_000,
    maxClients: 10,
    sdkModule: options.sdkModule,
    maxHeapMb: options.maxHeapMb,
    hangMs: options.hangMs,
    onRequest: events?.onRequest,
    onExit: (reason) => {
      exits.push(reason);
      events?.onExit(reason);
    },
  });
  return pool;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

describe('SDK worker isolation, real SDK', () => {
  it('a crash token fed straight to the worker kills only that worker; the next call gets a new one', async () => {
    // In service the local check stops it; here it bypasses the check and reaches the real SDK.
    expect(checkTokenFormat(CRASH_TOKEN)).toEqual({ ok: false, reason: 'throttle seed is all zeros' });
    const p = startPool({ sdkModule: OFFLINE_SDK_MODULE });
    await expectKind(p.run(check(offlineToken('warm', 'status-401')), 10_000), 'token_rejected');

    // A login in flight on the same worker when it dies fails at once as `internal`, not at its deadline.
    const started = performance.now();
    const bystander = p.run(check(offlineToken('bystander', 'hang')), 10_000);
    await expectKind(p.run(check(CRASH_TOKEN), 10_000), 'internal');
    await expectKind(bystander, 'internal');
    expect(performance.now() - started).toBeLessThan(5000);
    expect(exits).toEqual(['crashed']);

    await expectKind(p.run(check(offlineToken('after', 'status-429')), 10_000), 'rate_limited');
    expect(exits).toEqual(['crashed']);
  });

  it('a crash costs only the calls on the worker that crashed', async () => {
    const p = startPool({ sdkModule: OFFLINE_SDK_MODULE, size: 2 });
    const slotOf = (token: string) => Number.parseInt(tokenKey(token).slice(0, 8), 16) % 2;
    // A hanging login on the other worker than the crash token's.
    let seed = 0;
    let other = offlineToken(`other-${seed}`, 'hang');
    while (slotOf(other) === slotOf(CRASH_TOKEN)) other = offlineToken(`other-${++seed}`, 'hang');
    const survivor = p.run(check(other), 1500);
    await expectKind(p.run(check(CRASH_TOKEN), 10_000), 'internal');
    expect(exits).toEqual(['crashed']);
    // Still in flight on the live worker: it ends at its own deadline, as a timeout.
    await expectKind(survivor, 'timeout');
  });
});

describe('SDK worker isolation, fake SDK', () => {
  it('replaces a worker whose event loop is blocked after a call times out', async () => {
    const p = startPool({ sdkModule: FAKE_SDK_MODULE, hangMs: 300 });
    await p.run(check(scenarioToken('warm')), 10_000);
    await expectKind(p.run(check(scenarioToken('block', { faults: [{ op: 'login', error: 'block' }] })), 500), 'timeout');
    await until(() => exits.length > 0);
    expect(exits).toEqual(['hung']);
    await expect(p.run(check(scenarioToken('next')), 10_000)).resolves.toBeUndefined();
  });

  it('keeps a worker whose login merely hangs: the login deadline answers timeout', async () => {
    const p = startPool({ sdkModule: FAKE_SDK_MODULE, loginDeadlineMs: 200, hangMs: 300 });
    const started = performance.now();
    await expectKind(p.run(check(scenarioToken('hang', { faults: [{ op: 'login', error: 'hang' }] })), 10_000), 'timeout');
    expect(performance.now() - started).toBeLessThan(2000);
    await expect(p.run(check(scenarioToken('next')), 10_000)).resolves.toBeUndefined();
    expect(exits).toEqual([]);
  });

  it('stops a worker that outgrows its heap limit; the next call gets a new one', async () => {
    const p = startPool({ sdkModule: FAKE_SDK_MODULE, maxHeapMb: 48 });
    await expectKind(p.run(check(scenarioToken('oom', { faults: [{ op: 'login', error: 'oom' }] })), 20_000), 'internal');
    expect(exits).toEqual(['out_of_memory']);
    await expect(p.run(check(scenarioToken('next')), 10_000)).resolves.toBeUndefined();
  });

  it('fails calls in flight and later calls as internal once closed', async () => {
    const p = startPool({ sdkModule: FAKE_SDK_MODULE });
    const inFlight = p.run(check(scenarioToken('hang', { faults: [{ op: 'login', error: 'hang' }] })), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await p.close();
    await expectKind(inFlight, 'internal');
    await expectKind(p.run(check(scenarioToken('late')), 1000), 'internal');
    // Closing is not a crash.
    expect(exits).toEqual([]);
  });
});

describe('the server keeps serving when the SDK crashes', () => {
  it('answers over HTTP before, during and after a worker crash', async () => {
    const warnings: string[] = [];
    const metrics = createMetricsRegistry();
    let p: SdkExecutor = undefined as unknown as SdkExecutor;
    const provider = createSdkProvider({
      loginDeadlineMs: 10_000,
      callDeadlineMs: 10_000,
      integrationVersion: 'test',
      metrics,
      onWarning: (message) => warnings.push(message),
      createExecutor: (events) => {
        p = startPool({ sdkModule: OFFLINE_SDK_MODULE }, events);
        return p;
      },
    });
    const server = await startProviderServer(provider);
    try {
      const create = (name: string, token: string) =>
        server.request('POST', '/api/v2/vaults', { name, provider_config: { op_vault_id: VAULT }, token });

      // Over the API the crash token never reaches the SDK: the local check refuses it.
      const refused = await create('crash', CRASH_TOKEN);
      expect(refused.status).toBe(422);
      expect(JSON.parse(refused.text).detail[0].type).toBe('token_format');
      expect((await create('warm', offlineToken('warm', 'status-401'))).status).toBe(422);

      // A request whose login is in flight when the worker dies costs one 503, at once.
      const started = performance.now();
      const inFlight = create('in-flight', offlineToken('in-flight', 'hang'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await expectKind(p.run(check(CRASH_TOKEN), 10_000), 'internal');
      const lost = await inFlight;
      expect(lost.status).toBe(503);
      expect(lost.headers.get('retry-after')).toBeTruthy();
      expect(performance.now() - started).toBeLessThan(5000);

      // Everything after it is served, through a new worker.
      expect((await server.request('GET', '/healthz')).status).toBe(200);
      const rejected = await create('after', offlineToken('after', 'status-401'));
      expect(rejected.status).toBe(422);
      expect(rejected.text).toContain('1Password rejected the service account token');
      const down = await create('down', offlineToken('down', 'status-503'));
      expect(down.status).toBe(503);
      expect(exits).toEqual(['crashed']);
      expect(warnings).toEqual(['1Password SDK worker stopped (crashed); its calls in flight failed, the next call starts a new worker']);
      expect(await metrics.render()).toContain('sesame_onepassword_worker_exits_total{reason="crashed"} 1');
      expect(await metrics.render()).toContain('sesame_onepassword_requests_total{operation="login",outcome="token_rejected"} 2');
    } finally {
      await server.close();
      pool = undefined; // closed with the server
    }
  });
});
