import { describe, expect, it } from 'vitest';
import type { AutofillBehavior, Item, ItemField } from '../providers/provider.js';
import { resolveFieldName } from './fields.js';
import { listFillableFields, type MatchableItem, selectItem } from './rank.js';

const LOGIN_FIELDS: ItemField[] = [
  { id: 'username', label: 'username', kind: 'text', value: 'user-value' },
  { id: 'password', label: 'password', kind: 'concealed', value: 'password-value' },
];

function item(
  id: string,
  websites: (string | [string, AutofillBehavior])[],
  { updatedAt = '2024-01-01T00:00:00Z', fields = LOGIN_FIELDS }: { updatedAt?: string; fields?: ItemField[] } = {},
): Item {
  return {
    id,
    title: `title-${id}`,
    category: 'Login',
    updatedAt,
    websites: websites.map((site) =>
      typeof site === 'string' ? { url: site, autofill: 'AnywhereOnWebsite' } : { url: site[0], autofill: site[1] },
    ),
    fields,
  };
}

const field = (id: string, label: string, kind: ItemField['kind']): ItemField => ({ id, label, kind, value: `${id}-value` });

describe('selectItem', () => {
  it('closest host wins over a parent domain', () => {
    const items = [item('parent', ['example.com']), item('close', ['b.example.com'])];
    expect(selectItem({ pageUrl: 'https://a.b.example.com/', items, field: 'password' })).toMatchObject({
      item: { id: 'close' },
      ambiguous: false,
      tiedCount: 1,
    });
  });

  it('an exact host beats any parent, whatever the paths', () => {
    const items = [item('parent', ['example.com/app/login']), item('exact', ['app.example.com'])];
    expect(selectItem({ pageUrl: 'https://app.example.com/app/login', items, field: 'password' })?.item.id).toBe('exact');
  });

  it('path breaks ties between equal hosts', () => {
    const items = [item('root', ['example.com']), item('admin', ['example.com/admin'])];
    expect(selectItem({ pageUrl: 'https://example.com/admin/users', items, field: 'password' })).toMatchObject({
      item: { id: 'admin' },
      ambiguous: false,
    });
  });

  it('a partial segment is no path prefix, so the tie goes to the deterministic rule', () => {
    const items = [item('b', ['example.com/log']), item('a', ['example.com'])];
    expect(selectItem({ pageUrl: 'https://example.com/login', items, field: 'password' })).toMatchObject({
      item: { id: 'a' },
      ambiguous: true,
      tiedCount: 2,
    });
  });

  it('uses each item’s best website', () => {
    const items = [item('one', ['prod.example.com', 'example.com']), item('two', ['other.example.com', 'test.example.com'])];
    const selection = selectItem({ pageUrl: 'https://test.example.com/', items, field: 'password' });
    expect(selection?.item.id).toBe('two');
    expect(selection?.website.url).toBe('test.example.com');
  });

  it('same account: the item that already filled this origin wins a tie', () => {
    const items = [item('new', ['example.com'], { updatedAt: '2025-01-01T00:00:00Z' }), item('old', ['example.com'])];
    expect(selectItem({ pageUrl: 'https://example.com/', items, field: 'password', preferItemId: 'old' })).toMatchObject({
      item: { id: 'old' },
      ambiguous: false,
      tiedCount: 1,
    });
  });

  it('same account does not override a closer host', () => {
    const items = [item('parent', ['example.com']), item('exact', ['app.example.com'])];
    expect(selectItem({ pageUrl: 'https://app.example.com/', items, field: 'password', preferItemId: 'parent' })?.item.id).toBe('exact');
  });

  it('deterministic: the most recently updated item wins and the answer is ambiguous', () => {
    const items = [
      item('a', ['example.com'], { updatedAt: '2024-01-01T00:00:00Z' }),
      item('b', ['example.com'], { updatedAt: '2024-06-01T00:00:00Z' }),
      item('c', ['example.com'], { updatedAt: '2024-03-01T00:00:00Z' }),
    ];
    expect(selectItem({ pageUrl: 'https://example.com/', items, field: 'password' })).toMatchObject({
      item: { id: 'b' },
      ambiguous: true,
      tiedCount: 3,
    });
  });

  it('deterministic: equal update times fall back to the smallest id', () => {
    const items = [item('z', ['example.com']), item('m', ['example.com']), item('q', ['example.com'])];
    expect(selectItem({ pageUrl: 'https://example.com/', items, field: 'password' })?.item.id).toBe('m');
  });

  it('deterministic: an unreadable update time counts as oldest', () => {
    const items = [item('a', ['example.com'], { updatedAt: 'garbage' }), item('b', ['example.com'])];
    expect(selectItem({ pageUrl: 'https://example.com/', items, field: 'password' })?.item.id).toBe('b');
  });

  describe('account hint', () => {
    const usernames: Record<string, string> = { alice: 'alice@example.com', bob: 'Bob@Example.com', bob2: 'bob@example.com' };
    const usernameOf = (candidate: MatchableItem) => usernames[candidate.id];

    it('picks the tied candidate with that username', () => {
      const items = [item('alice', ['example.com'], { updatedAt: '2025-01-01T00:00:00Z' }), item('bob', ['example.com'])];
      const account = { username: 'bob@example.com', usernameOf };
      expect(selectItem({ pageUrl: 'https://example.com/', items, field: 'password', account })).toMatchObject({
        item: { id: 'bob' },
        ambiguous: false,
        tiedCount: 1,
      });
    });

    it('compares usernames trimmed and case-insensitively', () => {
      const items = [item('alice', ['example.com']), item('bob', ['example.com'])];
      const account = { username: ' BOB@example.COM ', usernameOf };
      expect(selectItem({ pageUrl: 'https://example.com/', items, field: 'password', account })?.item.id).toBe('bob');
    });

    it('beats the session’s earlier choice', () => {
      const items = [item('alice', ['example.com']), item('bob', ['example.com'])];
      const account = { username: 'bob@example.com', usernameOf };
      expect(selectItem({ pageUrl: 'https://example.com/', items, field: 'password', preferItemId: 'alice', account })?.item.id).toBe(
        'bob',
      );
    });

    it('naming no tied candidate selects nothing', () => {
      const items = [item('alice', ['example.com']), item('bob', ['example.com'])];
      const account = { username: 'carol@example.com', usernameOf };
      expect(selectItem({ pageUrl: 'https://example.com/', items, field: 'password', account })).toBeNull();
    });

    it('chooses only among candidates tied on host and path', () => {
      const items = [item('alice', ['app.example.com']), item('bob', ['example.com'])];
      const account = { username: 'bob@example.com', usernameOf };
      const selection = selectItem({ pageUrl: 'https://app.example.com/', items, field: 'password' });
      expect(selection?.contenders.map((c) => c.id)).toEqual(['alice']);
      expect(selectItem({ pageUrl: 'https://app.example.com/', items, field: 'password', account })).toBeNull();
    });

    it('two items with the same username stay ambiguous', () => {
      const items = [item('bob', ['example.com']), item('bob2', ['example.com']), item('alice', ['example.com'])];
      const account = { username: 'bob@example.com', usernameOf };
      expect(selectItem({ pageUrl: 'https://example.com/', items, field: 'password', account })).toMatchObject({
        item: { id: 'bob' },
        ambiguous: true,
        tiedCount: 2,
      });
    });

    it('is asked only about the contenders', () => {
      const asked: string[] = [];
      const items = [item('alice', ['example.com']), item('bob', ['example.com']), item('far', ['example.org'])];
      const usernameOf = (candidate: MatchableItem) => {
        asked.push(candidate.id);
        return undefined;
      };
      const account = { username: 'x', usernameOf };
      selectItem({ pageUrl: 'https://example.com/', items, field: 'password', account });
      expect(asked.sort()).toEqual(['alice', 'bob']);
    });
  });

  it('selects per field: a closer item without the field does not win it', () => {
    const items = [
      item('close', ['app.example.com']),
      item('parent', ['example.com'], { fields: [...LOGIN_FIELDS, field('otp', 'one-time password', 'totp')] }),
    ];
    expect(selectItem({ pageUrl: 'https://app.example.com/', items, field: 'totp' })?.item.id).toBe('parent');
    expect(selectItem({ pageUrl: 'https://app.example.com/', items, field: 'password' })?.item.id).toBe('close');
  });

  it('returns the resolved field, whose value stays in the caller’s object', () => {
    const items = [item('a', ['example.com'])];
    const selection = selectItem({ pageUrl: 'https://example.com/', items, field: 'Password' });
    expect(selection?.field).toBe(LOGIN_FIELDS[1]);
  });

  it.each([
    ['no item holds the field', 'https://example.com/', 'pin'],
    ['the page is insecure', 'http://example.com/', 'password'],
    ['the page does not parse', 'https//example.com', 'password'],
    ['no website matches', 'https://example.net/', 'password'],
  ])('is null when %s', (_name, pageUrl, name) => {
    const items = [item('a', ['example.com', ['example.net', 'Never']])];
    expect(selectItem({ pageUrl, items, field: name })).toBeNull();
  });
});

describe('resolveFieldName', () => {
  const username = field('username', 'username', 'text');
  const email = field('f1', 'Email', 'text');
  const login = field('f2', 'LOGIN', 'text');
  const hiddenUser = field('f3', 'username', 'concealed');
  const password = field('password', 'password', 'concealed');
  const textPassword = field('password', 'password', 'text');
  const labelledPassword = field('f4', 'Password', 'concealed');
  const totp1 = field('f5', 'one-time password', 'totp');
  const totp2 = field('f6', 'backup otp', 'totp');
  const pin = field('f7', 'PIN', 'concealed');
  const answer = field('f8', 'Security Answer', 'concealed');

  it.each([
    { name: 'username by id', fields: [email, username], wanted: 'username', expected: username },
    {
      name: 'username by the label email when there is no username id',
      fields: [password, email, login],
      wanted: 'username',
      expected: email,
    },
    { name: 'username by the label login', fields: [password, login], wanted: 'username', expected: login },
    { name: 'username fallback skips a concealed field', fields: [hiddenUser, login], wanted: 'username', expected: login },
    { name: 'password by id when concealed', fields: [labelledPassword, password], wanted: 'password', expected: password },
    { name: 'password id on a text field is not a password', fields: [textPassword], wanted: 'password', expected: undefined },
    { name: 'password is never found by label alone', fields: [labelledPassword], wanted: 'password', expected: undefined },
    { name: 'totp is the first one-time password field', fields: [password, totp1, totp2], wanted: 'totp', expected: totp1 },
    { name: 'custom label, case-insensitive', fields: [password, pin], wanted: 'pin', expected: pin },
    { name: 'custom label with spaces', fields: [answer], wanted: 'security answer', expected: answer },
    { name: 'requested names are trimmed and case-insensitive', fields: [password], wanted: ' PASSWORD ', expected: password },
    { name: 'an unknown label resolves to nothing', fields: [password, pin], wanted: 'otp', expected: undefined },
    { name: 'an empty name resolves to nothing', fields: [field('f9', '', 'text')], wanted: '', expected: undefined },
  ])('$name', ({ fields, wanted, expected }) => {
    expect(resolveFieldName(fields, wanted)).toBe(expected);
  });
});

describe('listFillableFields', () => {
  it('lists names and kinds, never values, titles or ids', () => {
    const items = [
      item('item-1', ['example.com'], {
        fields: [...LOGIN_FIELDS, field('otp', 'one-time password', 'totp'), field('pin', 'PIN', 'concealed')],
      }),
    ];
    const listed = listFillableFields('https://example.com/', items);
    expect(listed).toEqual([
      { field: 'username', kind: 'text', ambiguous: false },
      { field: 'password', kind: 'concealed', ambiguous: false },
      { field: 'totp', kind: 'totp', ambiguous: false },
      { field: 'pin', kind: 'concealed', ambiguous: false },
    ]);
    expect(JSON.stringify(listed)).not.toMatch(/value|title|item-1/);
  });

  it('marks tied fields ambiguous with the number of tied items', () => {
    const items = [item('a', ['example.com']), item('b', ['example.com'], { fields: [LOGIN_FIELDS[1] as ItemField] })];
    expect(listFillableFields('https://example.com/', items)).toEqual([
      { field: 'username', kind: 'text', ambiguous: false },
      { field: 'password', kind: 'concealed', ambiguous: true, tiedCount: 2 },
    ]);
    expect(listFillableFields('https://example.com/', items, { preferItemId: 'b' })[1]).toEqual({
      field: 'password',
      kind: 'concealed',
      ambiguous: false,
    });
  });

  it('lists custom labels A–Z after the well-known names, once each', () => {
    const items = [
      item('a', ['example.com'], { fields: [field('f1', 'Email', 'text'), field('f2', 'Zip', 'text'), field('f3', 'pin', 'text')] }),
      item('b', ['example.com'], { fields: [field('f4', 'PIN', 'concealed'), field('f5', 'Password', 'text')] }),
    ];
    expect(listFillableFields('https://example.com/', items).map((f) => f.field)).toEqual(['username', 'pin', 'zip']);
  });

  it('reports the kind of the field that would be filled', () => {
    const items = [
      item('close', ['app.example.com'], { fields: [field('f1', 'pin', 'concealed')] }),
      item('parent', ['example.com'], { fields: [field('f2', 'pin', 'text')] }),
    ];
    expect(listFillableFields('https://app.example.com/', items)).toEqual([{ field: 'pin', kind: 'concealed', ambiguous: false }]);
  });

  it.each([
    ['an insecure page', 'http://example.com/'],
    ['an unparseable page', 'nope'],
    ['a page no item matches', 'https://example.org/'],
  ])('is empty for %s', (_name, pageUrl) => {
    expect(listFillableFields(pageUrl, [item('a', ['example.com'])])).toEqual([]);
  });
});
