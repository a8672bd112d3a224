import { describe, expect, it } from 'vitest';
import { isPublicSuffix, isSameSite, registrableDomain } from './site.js';
import { normalizeHost } from './url.js';

describe('registrableDomain', () => {
  it.each([
    ['a.b.example.co.uk', 'example.co.uk'],
    ['www.example.com', 'example.com'],
    ['user.github.io', 'user.github.io'],
    ['x.user.github.io', 'user.github.io'],
    ['github.io', 'github.io'],
    ['Bücher.example.', 'xn--bcher-kva.example'],
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '[::1]'],
    ['localhost', 'localhost'],
    ['app.localhost', 'app.localhost'],
    ['a.app.localhost', 'app.localhost'],
  ])('%s → %s', (host, site) => {
    expect(registrableDomain(host)).toBe(site);
  });

  it.each(['', 'example.com/path', 'exa mple.com'])('is null for %j', (host) => {
    expect(registrableDomain(host)).toBeNull();
  });
});

describe('isSameSite', () => {
  it.each([
    ['https://login.example.com/', 'https://www.example.com/x', true],
    ['https://example.com/', 'http://example.com:8080/', true],
    ['https://alice.github.io/', 'https://bob.github.io/', false],
    ['https://example.com/', 'https://evil.com/', false],
    ['https://example.co.uk/', 'https://other.co.uk/', false],
    ['http://app.localhost/', 'http://x.app.localhost/', true],
    ['http://app.localhost/', 'http://other.localhost/', false],
    ['http://127.0.0.1/', 'http://127.0.0.2/', false],
    ['https://example.com/', 'about:blank', false],
    ['garbage', 'garbage', false],
  ])('%s ~ %s → %s', (a, b, same) => {
    expect(isSameSite(a, b)).toBe(same);
    expect(isSameSite(b, a)).toBe(same);
  });
});

describe('isPublicSuffix', () => {
  it.each([
    ['com', true],
    ['co.uk', true],
    ['github.io', true],
    ['localhost', true],
    ['example.com', false],
    ['app.localhost', false],
    ['127.0.0.1', false],
  ])('%s → %s', (host, suffix) => {
    const normalized = normalizeHost(host);
    expect(normalized && isPublicSuffix(normalized)).toBe(suffix);
  });
});
