import { describe, expect, it } from 'vitest';
import { BerthError } from '../../contracts/index.ts';
import {
  ident,
  joinSql,
  quoteString,
  sql,
  SqlFragment,
  type SqlValue,
} from '../../lib/storage/sql.ts';
import { tsvField } from '../../lib/storage/tsv.ts';

/** The code of the BerthError a call throws ('no error' or 'not a BerthError' otherwise). */
function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return error instanceof BerthError ? error.code : 'not a BerthError';
  }
  return 'no error';
}

describe('sql``', () => {
  it('keeps the template text as it is when there are no values', () => {
    const fragment = sql`SELECT 1`;
    expect(fragment).toBeInstanceOf(SqlFragment);
    expect(fragment.text).toBe('SELECT 1');
    expect(String(fragment)).toBe('SELECT 1');
    expect(sql``.text).toBe('');
  });

  it('writes numbers as plain literals', () => {
    expect(sql`${42}`.text).toBe('42');
    expect(sql`${-1.5}`.text).toBe('-1.5');
    expect(sql`${0}, ${-0}`.text).toBe('0, 0');
    expect(sql`${1e-7}, ${1e21}`.text).toBe('1e-7, 1e+21');
    expect(sql`${Number.MAX_SAFE_INTEGER}`.text).toBe('9007199254740991');
    expect(sql`${10n}, ${-18446744073709551615n}`.text).toBe('10, -18446744073709551615');
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    'refuses %s with BERTH_ERR_SQL_VALUE, alone or inside an array',
    (value) => {
      expect(codeOf(() => sql`SELECT ${value}`)).toBe('BERTH_ERR_SQL_VALUE');
      expect(codeOf(() => sql`SELECT ${[1, [2, value]]}`)).toBe('BERTH_ERR_SQL_VALUE');
    },
  );

  it('writes booleans as 1 and 0 and null as NULL', () => {
    expect(sql`${true}, ${false}, ${null}`.text).toBe('1, 0, NULL');
  });

  it('writes arrays as array literals, nested and empty too', () => {
    expect(sql`${[1, 'a', null, true]}`.text).toBe("[1, 'a', NULL, 1]");
    expect(sql`${[[1, 2], [], ["it's"]]}`.text).toBe("[[1, 2], [], ['it\\'s']]");
    expect(sql`${[]}`.text).toBe('[]');
  });

  it('quotes every string, whatever it looks like', () => {
    expect(sql`${''}`.text).toBe("''");
    expect(sql`${'plain'}`.text).toBe("'plain'");
    expect(sql`${'1'}`.text).toBe("'1'");
    expect(sql`${'NULL'}`.text).toBe("'NULL'");
    expect(sql`x = ${"it's"}`.text).toBe("x = 'it\\'s'");
    expect(sql`${"'; DROP TABLE results; --"}`.text).toBe("'\\'; DROP TABLE results; --'");
    expect(sql`${'`results`'}`.text).toBe("'`results`'");
    expect(sql`${'{x:String}'}, ${'?'}`.text).toBe("'{x:String}', '?'");
  });

  it('splices fragments as they are, at any depth', () => {
    const inner = sql`b = ${'x'}`;
    const where = joinSql([sql`a = ${1}`, inner], ' AND ');
    const nested = sql`SELECT * FROM ${ident('results')} WHERE ${where}`;
    expect(nested.text).toBe("SELECT * FROM `results` WHERE a = 1 AND b = 'x'");
    expect(sql`SELECT count() FROM (${nested})`.text).toBe(
      "SELECT count() FROM (SELECT * FROM `results` WHERE a = 1 AND b = 'x')",
    );
    expect(joinSql([], ' AND ').text).toBe('');
    // A fragment's text is trusted only because sql`` built it: the string is not re-escaped.
    expect(sql`${[sql`now()`, 'now()']}`.text).toBe("[now(), 'now()']");
  });

  it('accepts plain identifiers and wraps them in backquotes', () => {
    for (const name of ['results', '_x', 'A1', 'a'.repeat(128)]) {
      expect(sql`${ident(name)}`.text).toBe(`\`${name}\``);
    }
  });

  it.each([
    '',
    'a b',
    'a.b',
    'a`b',
    '`',
    'a;b',
    '1a',
    'a-b',
    "a'b",
    'a\\b',
    'a\nb',
    'résultat',
    'a'.repeat(129),
  ])('refuses the identifier %j', (name) => {
    expect(codeOf(() => ident(name))).toBe('BERTH_ERR_SQL_VALUE');
  });

  it('refuses values the type checker would have stopped, by code', () => {
    for (const value of [undefined, {}, new Date(0), Symbol('s'), () => 1]) {
      expect(codeOf(() => sql`${value as unknown as SqlValue}`)).toBe('BERTH_ERR_SQL_VALUE');
    }
  });
});

describe('quoteString', () => {
  it('escapes quotes and backslashes so the literal cannot end early', () => {
    expect(quoteString("a'b\\c")).toBe("'a\\'b\\\\c'");
    expect(quoteString('trailing\\')).toBe("'trailing\\\\'");
    expect(quoteString("\\'")).toBe("'\\\\\\''");
  });

  it('escapes every control character, and leaves other text as it is', () => {
    expect(quoteString('\0\n\r\t\b\f')).toBe("'\\0\\n\\r\\t\\b\\f'");
    expect(quoteString('\u0001\u001f\u007f')).toBe("'\\x01\\x1f\\x7f'");
    for (let code = 0; code < 0x20; code += 1) {
      expect(quoteString(String.fromCharCode(code))).toMatch(/^'\\(?:[0nrtbf]|x[0-9a-f]{2})'$/);
    }
    expect(quoteString('"`é\u0301😀中文\u202e')).toBe("'\"`é\u0301😀中文\u202e'");
  });

  it('turns lone surrogates into U+FFFD and keeps pairs', () => {
    expect(quoteString('\ud800')).toBe("'\ufffd'");
    expect(quoteString('a\udc00b')).toBe("'a\ufffdb'");
    expect(quoteString('\udc00\ud800')).toBe("'\ufffd\ufffd'");
    expect(quoteString('\ud83d\ude00')).toBe("'😀'");
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
