import { describe, expect, it } from 'vitest';
import { isSecurePage, normalizeHost, parsePageUrl, parseWebsiteUrl } from './url.js';

describe('parsePageUrl', () => {
  it('normalises host, port, path and origin', () => {
    expect(parsePageUrl('https://Shop.BÜCHER.example.:8443/a//b/caf%C3%A9?q=1#x')).toEqual({
      host: 'shop.xn--bcher-kva.example',
      kind: 'domain',
      scheme: 'https',
      port: 8443,
      explicitPort: true,
      path: ['a', 'b', 'café'],
      origin: 'https://shop.xn--bcher-kva.example:8443',
    });
  });

  it.each([
    { name: 'https default port', url: 'https://example.com/', port: 443, explicitPort: false, origin: 'https://example.com' },
    { name: 'http default port', url: 'http://localhost/', port: 80, explicitPort: false, origin: 'http://localhost' },
    { name: 'https port written as :443', url: 'https://example.com:443/', port: 443, explicitPort: true, origin: 'https://example.com' },
    { name: 'IPv6 loopback with a port', url: 'http://[::1]:3000/', port: 3000, explicitPort: true, origin: 'http://[::1]:3000' },
  ])('$name', ({ url, port, explicitPort, origin }) => {
    expect(parsePageUrl(url)).toMatchObject({ port, explicitPort, origin });
  });

  it.each([
    ['IPv4', 'https://10.0.0.1/', 'ipv4', '10.0.0.1'],
    ['IPv4 in hex', 'https://0x7f.1/', 'ipv4', '127.0.0.1'],
    ['IPv6', 'https://[2001:DB8::1]/', 'ipv6', '[2001:db8::1]'],
    ['domain ending in a letter', 'https://1.2.3.com/', 'domain', '1.2.3.com'],
  ])('classifies %s hosts', (_name, url, kind, host) => {
    expect(parsePageUrl(url)).toMatchObject({ kind, host });
  });

  it.each(['', 'example.com', 'javascript:alert(1)', 'data:text/html,hi', 'https://', 'https://.example.com/', 'https://a..b.com/'])(
    'refuses %j',
    (url) => {
      expect(parsePageUrl(url)).toBeNull();
    },
  );
});

describe('parseWebsiteUrl', () => {
  it.each([
    ['example.com', 'https', 443, false],
    ['localhost:3000', 'https', 3000, true],
    ['http://example.com:80', 'http', 80, true],
    ['https:example.com', 'https', 443, false],
  ])('reads %j', (url, scheme, port, explicitPort) => {
    expect(parseWebsiteUrl(url)).toMatchObject({ scheme, port, explicitPort });
  });
});

describe('normalizeHost', () => {
  it.each([
    ['Example.COM.', 'example.com', 'domain'],
    ['bücher.example', 'xn--bcher-kva.example', 'domain'],
    ['::1', '[::1]', 'ipv6'],
    ['[::1]', '[::1]', 'ipv6'],
    ['127.0.0.1', '127.0.0.1', 'ipv4'],
  ])('%j → %j', (input, host, kind) => {
    expect(normalizeHost(input)).toEqual({ host, kind });
  });

  it.each(['', 'example.com/path', 'example.com:443', 'user@example.com', 'exa mple.com', 'example.com?x'])('refuses %j', (input) => {
    expect(normalizeHost(input)).toBeNull();
  });
});

describe('isSecurePage', () => {
  it.each([
    ['https://example.com/', true],
    ['http://example.com/', false],
    ['http://localhost:3000/', true],
    ['http://LOCALHOST./', true],
    ['http://app.localhost/', true],
    ['http://a.b.localhost/', true],
    ['http://localhost.example.com/', false],
    ['http://notlocalhost/', false],
    ['http://127.0.0.1/', true],
    ['http://127.255.0.9:8080/', true],
    ['http://128.0.0.1/', false],
    ['http://[::1]/', true],
    ['http://[::2]/', false],
    ['http://10.0.0.1/', false],
    ['ftp://localhost/', false],
    ['not a url', false],
  ])('%s → %s', (url, secure) => {
    expect(isSecurePage(url)).toBe(secure);
  });
});
