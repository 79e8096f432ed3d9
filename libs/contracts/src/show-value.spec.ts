import { showMessage, showText, showValue } from './show-value';

describe('showValue', () => {
  it('shows numbers as they are, where JSON.stringify would print null or 0', () => {
    expect([Infinity, -Infinity, NaN, -0, 0, 1e308, 119.6].map(showValue)).toEqual(['Infinity', '-Infinity', 'NaN', '-0', '0', '1e+308', '119.6']);
    expect([null, undefined, true, 12n].map(showValue)).toEqual(['null', 'undefined', 'true', '12n']);
  });

  it('quotes strings, escapes characters that hide or reorder text, and cuts long ones with their length', () => {
    expect(showValue('yesterday')).toBe('"yesterday"');
    expect(showValue('a\u202Eb\u0000c\u200Bd"e\\')).toBe('"a\\u202eb\\u0000c\\u200bd\\"e\\\\"');
    expect(showValue('x'.repeat(5000))).toBe(`"${'x'.repeat(64)}"… (5000 characters)`);
    // A surrogate pair straddling the cut is dropped whole, never halved into a lone surrogate.
    expect(showText(`${'x'.repeat(63)}😀`, 64)).toBe(`"${'x'.repeat(63)}"… (65 characters)`);
    expect(showValue('\uD800x')).toBe('"\\ud800x"');
  });

  it('summarises containers briefly, however deep or wide they are', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(showValue(deep)).toBe('[[[…1 items]]]');
    expect(showValue({ a: 1, b: [1, 2, 3, 4, 5, 6, 7] })).toBe('{"a":1,"b":[1,2,3,4,5,…2 more]}');
    expect(showValue(Array.from({ length: 1000 }, () => 'y'.repeat(100))).length).toBeLessThanOrEqual(240);
  });

  it('never throws, even for a value whose properties throw', () => {
    const hostile = {
      get x() {
        throw new Error('boom');
      },
    };
    expect(showValue(hostile)).toBe('(a value that cannot be shown)');
  });
});

describe('showMessage', () => {
  it('keeps quotes of free text but escapes hidden characters and cuts it', () => {
    expect(showMessage('Unexpected token \'\u202E\', "\u202E{" is not valid JSON')).toBe('Unexpected token \'\\u202e\', "\\u202e{" is not valid JSON');
    expect(showMessage('e'.repeat(1000))).toBe(`${'e'.repeat(200)}…`);
  });
});
