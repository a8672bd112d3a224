// The real '@1password/sdk', with `fetch` replaced inside the SDK worker so that nothing leaves the
// machine (the SDK's core sends every request through the global fetch, research note §6). The sign-in
// host tells the stub what to do: `status-<code>.…` answers with that HTTP status, `hang.…` never
// answers, anything else fails as a network error.

globalThis.fetch = async (request) => {
  const host = new URL(request.url).hostname;
  if (host.startsWith('hang.')) return new Promise(() => {});
  const status = /^status-(\d{3})\./.exec(host)?.[1];
  if (!status) throw new TypeError('fetch failed');
  const response = new Response('{}', { status: Number(status), headers: { 'content-type': 'application/json' } });
  // The SDK's glue parses response.url; a hand-made Response has none.
  Object.defineProperty(response, 'url', { value: request.url });
  return response;
};

export { createClient } from '@1password/sdk';
