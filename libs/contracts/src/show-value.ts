/**
 * Renders values from untrusted input for messages people read (dead-letter reasons, logs):
 * bounded in length and nesting whatever the input, numbers shown as they are (Infinity, NaN and
 * -0, which JSON.stringify would hide as null or 0), and characters that are invisible or reorder
 * text (control characters, right-to-left overrides, zero-width marks, lone surrogates) escaped
 * as \uXXXX so a reason cannot be forged or hidden by what it quotes. Never throws.
 */

const MAX_TEXT = 64;
const MAX_ITEMS = 5;
const MAX_DEPTH = 2;
const MAX_TOTAL = 240;

/** A quoted, escaped string, cut after `maxChars` characters with its full length noted. */
export function showText(text: string, maxChars = MAX_TEXT): string {
  const head = cut(text, maxChars);
  const shown = `"${escape(head)}"`;
  return head.length < text.length ? `${shown}… (${text.length} characters)` : shown;
}

/** Free text from elsewhere (an exception's message), escaped and cut, without quotes. */
export function showMessage(text: string, maxChars = 200): string {
  const head = cut(text, maxChars);
  return head.length < text.length ? `${escape(head, false)}…` : escape(head, false);
}

/** Any value (a JSON value or worse), shown briefly and honestly. */
export function showValue(value: unknown): string {
  try {
    const shown = render(value, MAX_DEPTH);
    return shown.length > MAX_TOTAL ? `${cut(shown, MAX_TOTAL - 1)}…` : shown;
  } catch {
    return '(a value that cannot be shown)';
  }
}

function render(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return showText(value);
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value); // String gives Infinity, NaN, 1e+308
    case 'bigint':
      return `${value}n`;
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        if (depth === 0) return `[…${value.length} items]`;
        const items = value.slice(0, MAX_ITEMS).map((v) => render(v, depth - 1));
        return `[${items.join(',')}${value.length > MAX_ITEMS ? `,…${value.length - MAX_ITEMS} more` : ''}]`;
      }
      const keys = Object.keys(value);
      if (depth === 0) return `{…${keys.length} keys}`;
      const entries = keys.slice(0, MAX_ITEMS).map((k) => `${showText(k, 32)}:${render((value as Record<string, unknown>)[k], depth - 1)}`);
      return `{${entries.join(',')}${keys.length > MAX_ITEMS ? `,…${keys.length - MAX_ITEMS} more` : ''}}`;
    }
    default:
      return `(${typeof value})`;
  }
}

const SHORT_ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

function escape(text: string, quoted = true): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isHighSurrogate(code) && isLowSurrogate(text.charCodeAt(i + 1))) {
      out += text[i] + text[i + 1];
      i++;
    } else if (SHORT_ESCAPES[code] && (quoted || code < 0x20)) out += SHORT_ESCAPES[code];
    else if (isHidden(code)) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += text[i];
  }
  return out;
}

/** The first `maxChars` UTF-16 units of `text`, one fewer rather than half a surrogate pair. */
function cut(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  return text.slice(0, isHighSurrogate(text.charCodeAt(maxChars - 1)) ? maxChars - 1 : maxChars);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Control characters, bidi controls, zero-width and separator characters, and lone surrogates. */
function isHidden(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    (code >= 0x200b && code <= 0x200f) ||
    (code >= 0x2028 && code <= 0x202e) ||
    (code >= 0x2060 && code <= 0x2069) ||
    code === 0xfeff ||
    (code >= 0xfff9 && code <= 0xfffb) ||
    (code >= 0xd800 && code <= 0xdfff)
  );
}
