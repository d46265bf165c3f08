import { BerthError } from '../../contracts/index.ts';

/**
 * Rows for INSERT … FORMAT TabSeparated: the format both ClickHouse 18.16 and chDB parse
 * fastest, and the one way rows reach the store. Values never pass through SQL text.
 */
export type TsvValue =
  string | number | boolean | null | undefined | readonly string[] | readonly number[];

const NEEDS_ESCAPE = /[\\\t\n\r\0\b\f]/;

const ESCAPABLE = /[\\\t\n\r\0\b\f]/g;
const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
};

function escapeString(value: string): string {
  const wellFormed = value.isWellFormed() ? value : value.toWellFormed();
  return NEEDS_ESCAPE.test(wellFormed)
    ? wellFormed.replace(ESCAPABLE, (char) => ESCAPES[char] ?? char)
    : wellFormed;
}

/** A number as ClickHouse reads it; NaN and the infinities are refused. */
function finiteNumber(value: number): string {
  if (!Number.isFinite(value)) {
    throw new BerthError('BERTH_ERR_SQL_VALUE', `${value} cannot be stored`);
  }
  return String(value);
}

/**
 * An Array(String) or Array(Float64) value as ClickHouse reads it in a TabSeparated field:
 * ['a','b\'c'] or [1,2.5]. The array is parsed straight from the field, so each string is
 * escaped once, as a quoted string with no raw tab or line break left.
 */
function arrayField(items: readonly string[] | readonly number[]): string {
  const literals = items.map((item: string | number) =>
    typeof item === 'number'
      ? finiteNumber(item)
      : `'${escapeString(item).replaceAll("'", "\\'")}'`,
  );
  return `[${literals.join(',')}]`;
}

/** One field: strings escaped, null as \N, numbers finite, booleans 1/0, arrays as literals. */
export function tsvField(value: TsvValue): string {
  if (Array.isArray(value)) return arrayField(value);
  switch (typeof value) {
    case 'string':
      return escapeString(value);
    case 'number':
      return finiteNumber(value);
    case 'boolean':
      return value ? '1' : '0';
    default:
      return '\\N';
  }
}

/** A row object as a TabSeparated line of the given columns (with its newline). */
export function tsvRow(
  row: Readonly<Record<string, TsvValue>>,
  columns: readonly string[],
): string {
  return `${columns.map((column) => tsvField(row[column])).join('\t')}\n`;
}

/** Rows given as objects: the columns are the first row's keys, in order. */
export function rowsToTsv(rows: readonly Readonly<Record<string, TsvValue>>[]): {
  columns: string[];
  body: string;
} {
  const columns = Object.keys(rows[0] ?? {});
  return { columns, body: rows.map((row) => tsvRow(row, columns)).join('') };
}
