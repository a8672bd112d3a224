// Configuration of the fill routes: the CDP allow-list and deadline, and the refusal to start with
// Playwright's protocol logging on (it would print the value of every fill).
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('fill configuration', () => {
  it('defaults to loopback only and a 10 s browser deadline', () => {
    const config = loadConfig({});
    expect(config.cdpAllow).toEqual(['loopback']);
    expect(config.cdpTimeoutMs).toBe(10_000);
    expect(loadConfig({ SESAME_CDP_ALLOW: '127.0.0.1, *.browsers.example', SESAME_CDP_TIMEOUT_MS: '2500' })).toMatchObject({
      cdpAllow: ['127.0.0.1', '*.browsers.example'],
      cdpTimeoutMs: 2500,
    });
    expect(() => loadConfig({ SESAME_CDP_TIMEOUT_MS: '50' })).toThrow(ConfigError);
  });

  it.each(['pw:protocol', 'pw:*', '*', 'pw:api', 'express,pw:channel', 'pw*'])('refuses to start with DEBUG=%s', (debug) => {
    expect(() => loadConfig({ DEBUG: debug })).toThrow(/Playwright protocol logging/);
  });

  it.each(['', 'express:*', 'pw:browser', '*,-pw:*', 'sesame'])('starts with DEBUG=%s', (debug) => {
    expect(() => loadConfig({ DEBUG: debug })).not.toThrow();
  });
});
