import { describe, expect, it } from 'vitest';
import { formatList, formatNumber } from '../../services/advisor/engine/format.ts';

describe('formatNumber', () => {
  const intl = (value: number, digits: number): string =>
    new Intl.NumberFormat('en-US', { maximumFractionDigits: digits }).format(value);

  it('writes each number as Intl does, the first time and again from the texts it keeps', () => {
    const values = [0, -0, 1.005, 2.5, -2.5, 1234.5678, 1e21, Number.NaN, -0.0004, 999_999.95];
    for (const round of [1, 2]) {
      for (const digits of [0, 1, 2]) {
        for (const value of values) {
          expect([round, digits, value, formatNumber(value, digits)]).toEqual([
            round,
            digits,
            value,
            intl(value, digits),
          ]);
        }
      }
    }
  });

  it('tells 0 from -0 whichever comes first', () => {
    expect(formatNumber(-0, 3)).toBe('-0');
    expect(formatNumber(0, 3)).toBe('0');
    expect(formatNumber(-0, 3)).toBe('-0');
  });

  it('stays right after more numbers than it keeps', () => {
    for (let value = 0; value < 10_000; value += 1) formatNumber(value + 0.25, 1);
    expect(formatNumber(12_345.25, 1)).toBe('12,345.3');
    expect(formatNumber(9_999.25, 1)).toBe('9,999.3');
  });
});

describe('formatList', () => {
  it('names the first few and counts the rest, of the items or of a longer list', () => {
    expect(formatList([])).toBe('none');
    expect(formatList(['a'])).toBe('a');
    expect(formatList(['a', 'b', 'c'])).toBe('a, b and c');
    expect(formatList(['a', 'b', 'c', 'd'], 2)).toBe('a, b and 2 more');
    expect(formatList(['a', 'b'], 5, 9)).toBe('a, b and 7 more');
  });
});
