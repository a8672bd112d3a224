import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeJsonError, jsonSyntaxErrorAt } from './json-error.js';

function parseError(text: string): unknown {
  try {
    JSON.parse(text);
  } catch (err) {
    return err;
  }
  throw new Error(`${text} is JSON`);
}

const describe_ = (text: string) => describeJsonError(text, parseError(text));

describe('json_invalid: position and message', () => {
  it("gives the parser's position and message, without the position text", () => {
    expect(describe_('{"name": "x" "token": 1}')).toEqual({ position: 13, message: "Expected ',' or '}' after property value" });
    expect(describe_('{"a":1}}')).toEqual({ position: 7, message: 'Unexpected non-whitespace character after JSON' });
    expect(describe_('{"a":')).toEqual({ position: 5, message: 'Unexpected end of JSON input' });
  });

  it('never quotes the body, and finds the position when the parser does not state it', () => {
    const token = 'ops_eyJzZWNyZXRLZXkiOiJBMy1YWFhYWFgifQ';
    for (const [text, position] of [
      [token, 0],
      [`{"token":${token}}`, 9],
      [`[1,${token}]`, 3],
      ['not json', 1],
    ] as const) {
      const problem = describe_(text);
      expect(problem).toEqual({ position, message: 'Unexpected token' });
    }
    expect(describe_('{"a":tru}').position).toBe(8);
    expect(describe_('[1,]').position).toBe(3);
  });

  it('says only "Invalid JSON" for a message that could hold input', () => {
    expect(describeJsonError('{', new SyntaxError('Unexpected "{" somewhere'))).toEqual({ position: 1, message: 'Invalid JSON' });
    expect(describeJsonError('{', new Error(''))).toEqual({ position: 1, message: 'Invalid JSON' });
  });

  it('agrees with the parser wherever the parser states a position', () => {
    const jsonish = fc.stringMatching(/^[\s{}[\]",:0-9a-z\\.+-]{0,24}$/);
    fc.assert(
      fc.property(jsonish, (text) => {
        let stated: number | undefined;
        let valid = true;
        try {
          JSON.parse(text);
        } catch (err) {
          valid = false;
          const match = / at position (\d+)/.exec((err as Error).message);
          stated = match ? Number(match[1]) : undefined;
        }
        if (valid) expect(jsonSyntaxErrorAt(text)).toBeUndefined();
        else expect(jsonSyntaxErrorAt(text)).toBeTypeOf('number');
        // Numbers cut short ("1.", "1e") and bad \u escapes are placed one character apart; nothing else.
        if (stated !== undefined && !/\d[.eE]|\\u/.test(text)) expect(jsonSyntaxErrorAt(text)).toBe(stated);
      }),
      { numRuns: 3000 },
    );
  });

  it('costs no stack on deep nesting', () => {
    expect(jsonSyntaxErrorAt(`${'['.repeat(100_000)}x`)).toBe(100_000);
  });
});
