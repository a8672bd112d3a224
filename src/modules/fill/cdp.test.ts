import { describe, expect, it } from 'vitest';
import { ConfigError, parseCdpAllow } from '../../config.js';
import { createCdpAllowList, parseCdpEndpoint } from './cdp.js';

const allows = (entries: string, endpoint: string) => {
  const url = parseCdpEndpoint(endpoint);
  return url !== null && createCdpAllowList(parseCdpAllow(entries)).allows(url);
};

describe('CDP allow-list', () => {
  it.each([
    ['http://127.0.0.1:9222', true],
    ['ws://127.0.0.1:9222/devtools/browser/abc', true],
    ['http://127.9.8.7:9222', true],
    ['http://localhost:9222', true],
    ['http://LOCALHOST.:9222', true],
    ['http://[::1]:9222', true],
    ['http://0x7f.1:9222', true], // WHATWG URL reads it as 127.0.0.1
    ['http://2130706433:9222', true],
    ['http://app.localhost:9222', false], // resolved by Chromium, not necessarily by this server
    ['http://10.0.0.1:9222', false],
    ['http://[::ffff:127.0.0.1]:9222', true], // IPv4-mapped loopback is loopback
    ['http://browser.example:9222', false],
    ['http://user:pass@127.0.0.1:9222', false],
    ['file:///tmp/x', false],
    ['not a url', false],
  ])('default (loopback): %s → %s', (endpoint, expected) => {
    expect(allows('loopback', endpoint)).toBe(expected);
  });

  it('allows listed addresses, CIDR ranges, names and *.domains only', () => {
    const entries = '10.1.2.0/24, 2001:db8::/32, browser.internal, *.browsers.example, 192.0.2.7';
    expect(allows(entries, 'wss://10.1.2.200:443/devtools/browser/x')).toBe(true);
    expect(allows(entries, 'http://10.1.3.1:9222')).toBe(false);
    expect(allows(entries, 'http://[2001:db8::1]:9222')).toBe(true);
    expect(allows(entries, 'http://browser.internal:9222')).toBe(true);
    expect(allows(entries, 'http://evil-browser.internal:9222')).toBe(false);
    expect(allows(entries, 'https://eu.browsers.example')).toBe(true);
    expect(allows(entries, 'https://browsers.example')).toBe(false);
    expect(allows(entries, 'https://browsers.example.evil.test')).toBe(false);
    expect(allows(entries, 'http://192.0.2.7:1')).toBe(true);
    expect(allows(entries, 'http://127.0.0.1:9222')).toBe(false); // loopback only when listed
  });

  it('refuses malformed configuration at start-up', () => {
    for (const bad of ['', ' , ', '10.0.0.0/33', '::/129', 'host/8', 'http://x', 'a..b', '*']) {
      expect(() => parseCdpAllow(bad), bad).toThrow(ConfigError);
    }
    expect(parseCdpAllow(' Loopback , *.Example.COM ')).toEqual(['loopback', '*.example.com']);
  });
});
