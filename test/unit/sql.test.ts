import { describe, expect, it } from 'vitest';
import { BerthError } from '../../contracts/index.ts';
import { ident, joinSql, quoteString, sql } from '../../lib/storage/sql.ts';
import { tsvField } from '../../lib/storage/tsv.ts';

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return error instanceof BerthError ? error.code : 'not a BerthError';
  }
  return 'no error';
}

describe('sql``', () => {
  it('writes each kind of value as a literal', () => {
    const text = sql`SELECT ${"it's"}, ${42}, ${-1.5}, ${true}, ${null}, ${[1, 'a']}, ${10n}`.text;
    expect(text).toBe("SELECT 'it\\'s', 42, -1.5, 1, NULL, [1, 'a'], 10");
  });

  it('refuses numbers SQL cannot hold', () => {
    expect(codeOf(() => sql`${Number.NaN}`)).toBe('BERTH_ERR_SQL_VALUE');
    expect(codeOf(() => sql`${Number.POSITIVE_INFINITY}`)).toBe('BERTH_ERR_SQL_VALUE');
  });

  it('splices fragments and identifiers, and only plain identifiers', () => {
    const where = joinSql([sql`a = ${1}`, sql`b = ${'x'}`], ' AND ');
    expect(sql`SELECT * FROM ${ident('results')} WHERE ${where}`.text).toBe(
      "SELECT * FROM `results` WHERE a = 1 AND b = 'x'",
    );
    for (const name of ['', 'a b', 'a.b', 'a`b', '1a', 'a;b', 'résultat']) {
      expect(
        codeOf(() => ident(name)),
        name,
      ).toBe('BERTH_ERR_SQL_VALUE');
    }
  });

  it('escapes every byte that could end or bend a string literal', () => {
    expect(quoteString("a'b\\c")).toBe("'a\\'b\\\\c'");
    expect(quoteString('\0\n\r\t\b\f')).toBe("'\\0\\n\\r\\t\\b\\f'");
    expect(quoteString('\u0001\u001f\u007f')).toBe("'\\x01\\x1f\\x7f'");
    expect(quoteString('\ud800')).toBe("'\ufffd'");
  });
});

describe('tsvField', () => {
  it('escapes what TabSeparated reads back and writes NULL as \\N', () => {
    expect(tsvField('a\tb\nc\\d')).toBe('a\\tb\\nc\\\\d');
    expect(tsvField(null)).toBe('\\N');
    expect(tsvField(undefined)).toBe('\\N');
    expect(tsvField('\\N')).toBe('\\\\N');
    expect(tsvField(false)).toBe('0');
    expect(tsvField(1e-7)).toBe('1e-7');
    expect(codeOf(() => tsvField(Number.NaN))).toBe('BERTH_ERR_SQL_VALUE');
  });
});
