// What a 422 `json_invalid` says about a body that is not JSON: where the parser stopped (a character
// offset, for `loc`) and the parser's own message (for `ctx.error`), as the platform's stack answers
// `{"loc": ["body", 12], "ctx": {"error": "Expecting ',' delimiter"}}`. The message never quotes the
// body: V8 quotes up to ten characters of it in some messages ("Unexpected token 'o', "not json" is
// not valid JSON"), and a body may hold a token.

export interface JsonSyntaxProblem {
  /** Offset (UTF-16 code units) of the character where parsing failed; the text's length when it ended too early. */
  position: number;
  /** The parser's message without the position and without any quoted input. */
  message: string;
}

const POSITION = / at position (\d+)/;

export function describeJsonError(text: string, error: unknown): JsonSyntaxProblem {
  const raw = error instanceof Error ? error.message : '';
  const stated = POSITION.exec(raw)?.[1];
  let message = raw
    .replace(/(?: in JSON)? at position \d+.*$/s, '') // "… in JSON at position 5 (line 1 column 6)", "… after JSON at position 7"
    .replace(/, ".*" is not valid JSON$/s, '') // "Unexpected token 'o', "not json" is not valid JSON"
    .replace(/^(Unexpected token) .*$/s, '$1') // the offending character is input too
    .trim();
  // Anything that might still quote input, or a message of a form not seen before, says only that much.
  if (!message || /["\\]/.test(message) || message.length > 120) message = 'Invalid JSON';
  const position = stated !== undefined ? Number(stated) : (jsonSyntaxErrorAt(text) ?? text.length);
  return { position: Math.min(position, text.length), message };
}

type State = 'value' | 'key' | 'colon' | 'after';

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

/**
 * The offset where `text` stops being JSON (RFC 8259), or undefined when it is JSON. Used for the
 * messages in which V8 states no position. Iterative, so deep nesting costs no stack.
 */
export function jsonSyntaxErrorAt(text: string): number | undefined {
  const stack: ('{' | '[')[] = [];
  let i = 0;
  let state: State = 'value';

  /** Reads a string starting at its opening quote; false (with `i` at the problem) when it is not one. */
  const readString = (): boolean => {
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        const escaped = text[i + 1];
        if (escaped === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i += 2;
            return false;
          }
          i += 6;
          continue;
        }
        if (escaped === undefined || !ESCAPES.has(escaped)) {
          i++;
          return false;
        }
        i += 2;
        continue;
      }
      i++;
    }
    return false;
  };

  /** Reads a number or literal at `i`; false (with `i` at the problem) when there is none. */
  const readScalar = (): boolean => {
    const c = text[i] as string;
    if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(text);
      if (!match) {
        i++;
        return false;
      }
      i += match[0].length;
      return true;
    }
    for (const literal of ['true', 'false', 'null']) {
      if (literal[0] !== c) continue;
      for (let k = 0; k < literal.length; k++, i++) if (text[i] !== literal[k]) return false;
      return true;
    }
    return false;
  };

  for (;;) {
    while (i < text.length && WHITESPACE.has(text[i] as string)) i++;
    const c = text[i];
    if (state === 'after') {
      const top = stack.at(-1);
      if (!top) return c === undefined ? undefined : i;
      if (c === undefined) return i;
      if (c === ',') {
        i++;
        state = top === '{' ? 'key' : 'value';
      } else if ((top === '{' && c === '}') || (top === '[' && c === ']')) {
        stack.pop();
        i++;
      } else return i;
      continue;
    }
    if (c === undefined) return i;
    if (state === 'key') {
      if (c !== '"' || !readString()) return i;
      state = 'colon';
    } else if (state === 'colon') {
      if (c !== ':') return i;
      i++;
      state = 'value';
    } else if (c === '{' || c === '[') {
      stack.push(c);
      i++;
      while (i < text.length && WHITESPACE.has(text[i] as string)) i++;
      const close = c === '{' ? '}' : ']';
      if (text[i] === close) {
        stack.pop();
        i++;
        state = 'after';
      } else state = c === '{' ? 'key' : 'value';
    } else if (c === '"') {
      if (!readString()) return i;
      state = 'after';
    } else {
      if (!readScalar()) return i;
      state = 'after';
    }
  }
}
