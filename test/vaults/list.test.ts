// The /api/v2/vaults contract, GET /api/v2/vaults (list): order, paging and query validation.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeDialects, type TestServer } from '../helpers/server.js';
import { createBody, createVault, VAULTS, type VaultObject } from '../helpers/vaults.js';
import { expectVaultShape, issuesByLoc, startContractServer } from './contract.js';

describeDialects('vaults contract (%s)', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startContractServer(dialect);
  });
  afterAll(() => t?.close());
  // Faults are per server: every test starts with a healthy provider.
  afterEach(() => t.fixture.setFaults({}));

  describe('GET /api/v2/vaults (list)', () => {
    it('answers an empty list with the default limit and offset', async () => {
      const { key } = await t.newOrg();
      const res = await t.request('GET', VAULTS, { key });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ total: 0, limit: 50, offset: 0, vaults: [] });
    });

    it('lists oldest first (created_at, then id), counts all, and pages with limit/offset', async () => {
      const { key } = await t.newOrg();
      const created: VaultObject[] = [];
      for (let i = 0; i < 7; i++) created.push((await createVault(t, key, { name: `v${i}` })).vault);
      const expected = [...created].sort((a, b) =>
        a.created_at === b.created_at ? (a.id < b.id ? -1 : 1) : a.created_at < b.created_at ? -1 : 1,
      );

      const all = await t.request('GET', VAULTS, { key });
      expect(all.body).toEqual({ total: 7, limit: 50, offset: 0, vaults: expected });
      for (const vault of all.body.vaults) expectVaultShape(vault);

      const page1 = await t.request('GET', `${VAULTS}?limit=3`, { key });
      const page2 = await t.request('GET', `${VAULTS}?limit=3&offset=3`, { key });
      const page3 = await t.request('GET', `${VAULTS}?limit=3&offset=6`, { key });
      expect(page1.body).toEqual({ total: 7, limit: 3, offset: 0, vaults: expected.slice(0, 3) });
      expect(page2.body).toEqual({ total: 7, limit: 3, offset: 3, vaults: expected.slice(3, 6) });
      expect(page3.body).toEqual({ total: 7, limit: 3, offset: 6, vaults: expected.slice(6) });

      const beyond = await t.request('GET', `${VAULTS}?offset=100`, { key });
      expect(beyond.body).toEqual({ total: 7, limit: 50, offset: 100, vaults: [] });
      const max = await t.request('GET', `${VAULTS}?limit=1000&offset=0`, { key });
      expect(max.body).toEqual({ total: 7, limit: 1000, offset: 0, vaults: expected });

      // Stable: asking again gives the same order.
      expect((await t.request('GET', VAULTS, { key })).body.vaults).toEqual(expected);
    });

    it('orders vaults created in the same millisecond by id', async () => {
      const { key } = await t.newOrg();
      // Parallel creates are likely to share a created_at; the order must still be (created_at, id).
      const responses = await Promise.all(
        Array.from({ length: 8 }, (_, i) => t.request('POST', VAULTS, { key, body: createBody(`p${i}`, t.fixture.token()) })),
      );
      for (const r of responses) expect(r.status).toBe(201);
      const expected = responses
        .map((r) => r.body)
        .sort((a, b) => (a.created_at === b.created_at ? (a.id < b.id ? -1 : 1) : a.created_at < b.created_at ? -1 : 1));
      const list = await t.request('GET', VAULTS, { key });
      expect(list.body.vaults).toEqual(expected);
    });

    it('answers 422 at ["query","limit"] for limit 0 and 1001', async () => {
      const { key } = await t.newOrg();
      const zero = await t.request('GET', `${VAULTS}?limit=0`, { key });
      expect(zero.body).toEqual({
        detail: [
          {
            type: 'greater_than_equal',
            loc: ['query', 'limit'],
            msg: 'Input should be greater than or equal to 1',
            input: '0',
            ctx: { ge: 1 },
          },
        ],
      });
      const big = await t.request('GET', `${VAULTS}?limit=1001`, { key });
      expect(big.body).toEqual({
        detail: [
          {
            type: 'less_than_equal',
            loc: ['query', 'limit'],
            msg: 'Input should be less than or equal to 1000',
            input: '1001',
            ctx: { le: 1000 },
          },
        ],
      });
    });

    it('answers 422 int_parsing for a limit that is not an integer', async () => {
      const { key } = await t.newOrg();
      for (const value of ['abc', '1.5', '', 'true', '0x10', '1e1']) {
        const res = await t.request('GET', `${VAULTS}?limit=${encodeURIComponent(value)}`, { key });
        expect(res.body, value).toEqual({
          detail: [
            {
              type: 'int_parsing',
              loc: ['query', 'limit'],
              msg: 'Input should be a valid integer, unable to parse string as an integer',
              input: value,
            },
          ],
        });
      }
    });

    it('answers 422 at ["query","offset"] for a negative offset, listing every bad parameter', async () => {
      const { key } = await t.newOrg();
      const neg = await t.request('GET', `${VAULTS}?offset=-1`, { key });
      expect(neg.body).toEqual({
        detail: [
          {
            type: 'greater_than_equal',
            loc: ['query', 'offset'],
            msg: 'Input should be greater than or equal to 0',
            input: '-1',
            ctx: { ge: 0 },
          },
        ],
      });
      // An absurd offset is refused (never a database error), whatever its notation.
      for (const value of ['99999999999999999999', '9223372036854775808']) {
        const huge = await t.request('GET', `${VAULTS}?offset=${value}`, { key });
        expect(huge.status, value).toBe(422);
        expect(huge.body.detail).toHaveLength(1);
        expect(huge.body.detail[0]).toMatchObject({ loc: ['query', 'offset'], input: value });
      }
      const both = issuesByLoc(await t.request('GET', `${VAULTS}?limit=abc&offset=-1`, { key }));
      expect(Object.keys(both).sort()).toEqual(['["query","limit"]', '["query","offset"]']);
      expect(both['["query","limit"]']?.type).toBe('int_parsing');
      expect(both['["query","offset"]']?.type).toBe('greater_than_equal');
    });
  });
});
