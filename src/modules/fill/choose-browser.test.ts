// Which browser a call acts on: a grant bound to a browser acts there only; anyone else names one.
import { describe, expect, it } from 'vitest';
import { chooseBrowser } from './fill.service.js';

const bound = { cdpEndpoint: 'http://127.0.0.1:9222', targetId: null };
const boundToPage = { cdpEndpoint: 'http://127.0.0.1:9222', targetId: 'PAGE1' };

describe('chooseBrowser', () => {
  it('takes the request’s browser when the credential is not bound, and refuses a request that names none', () => {
    expect(chooseBrowser(null, { cdp_endpoint: 'http://127.0.0.1:9333', target_id: 'T' })).toEqual({
      cdpEndpoint: 'http://127.0.0.1:9333',
      targetId: 'T',
    });
    expect(() => chooseBrowser(null, {})).toThrow(expect.objectContaining({ code: 'browser_not_bound' }));
  });

  it('uses the bound browser when the request leaves it out, or repeats it in another spelling of the same URL', () => {
    expect(chooseBrowser(bound, {})).toEqual({ cdpEndpoint: bound.cdpEndpoint, targetId: undefined });
    expect(chooseBrowser(bound, { cdp_endpoint: 'HTTP://127.0.0.1:9222/' })).toEqual({
      cdpEndpoint: bound.cdpEndpoint,
      targetId: undefined,
    });
    // Bound to a browser, not a page: the request may pick one of its pages.
    expect(chooseBrowser(bound, { target_id: 'OTHER' })).toEqual({ cdpEndpoint: bound.cdpEndpoint, targetId: 'OTHER' });
    expect(chooseBrowser(boundToPage, {})).toEqual({ cdpEndpoint: bound.cdpEndpoint, targetId: 'PAGE1' });
    expect(chooseBrowser(boundToPage, { target_id: 'PAGE1' })).toEqual({ cdpEndpoint: bound.cdpEndpoint, targetId: 'PAGE1' });
  });

  it('refuses another browser or another page, naming what the request sent', () => {
    for (const other of ['http://127.0.0.1:9223', 'ws://127.0.0.1:9222/devtools/browser/x', 'http://localhost:9222', 'not a url']) {
      const chosen = chooseBrowser(bound, { cdp_endpoint: other });
      expect(chosen).toMatchObject({ mismatch: { code: 'cdp_endpoint_mismatch', data: { endpoint: other } } });
    }
    expect(chooseBrowser(boundToPage, { target_id: 'PAGE2' })).toMatchObject({
      mismatch: { code: 'target_id_mismatch', data: { targetId: 'PAGE2' } },
    });
  });
});
