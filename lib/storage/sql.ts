import { BerthError } from '../../contracts/index.ts';

/**
 * The one way values reach SQL. ClickHouse 18.16 has no query parameters, so every value
 * from outside is written as a literal here, and only here:
 *
 *   sql`SELECT count() FROM results WHERE host_id = ${hostId} LIMIT ${limit}`
 *
 * Strings become quoted literals with every special byte escaped, numbers must be finite,
 * arrays become array literals, identifiers must be wrapped in ident(), and trusted SQL
 * fragments (built by sql`` themselves) are spliced as they are.
 */
export class SqlFragment {
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  toString(): string {
    return this.text;
  }
}

class Identifier {
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }
}

export type SqlValue =
  string | number | bigint | boolean | null | SqlFragment | Identifier | readonly SqlValue[];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A table or column name. Only plain names are accepted; anything else throws. */
export function ident(name: string): Identifier {
  if (!IDENTIFIER.test(name)) {
    throw new BerthError('BERTH_ERR_SQL_VALUE', `${JSON.stringify(name)} is not a plain SQL name`);
  }
  return new Identifier(name);
}

const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  "'": "\\'",
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * A ClickHouse string literal. Lone UTF-16 surrogates (which no UTF-8 text can hold)
 * become U+FFFD, the same as when the string is encoded for the wire.
 */
export function quoteString(value: string): string {
  // eslint-disable-next-line no-control-regex
  const escaped = value.toWellFormed().replace(/[\\'\x00-\x1f\x7f]/g, (char) => {
    const known = ESCAPES[char];
    if (known !== undefined) return known;
    return `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
  return `'${escaped}'`;
}

function literal(value: SqlValue): string {
  if (value instanceof SqlFragment) return value.text;
  if (value instanceof Identifier) return `\`${value.name}\``;
  if (value === null) return 'NULL';
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new BerthError('BERTH_ERR_SQL_VALUE', `${value} cannot be written into SQL`);
    }
    return Object.is(value, -0) ? '0' : String(value);
  }
  if (Array.isArray(value)) return `[${(value as readonly SqlValue[]).map(literal).join(', ')}]`;
  // Only reachable past the type checker (undefined, an object, a Date): refuse it by code.
  throw new BerthError(
    'BERTH_ERR_SQL_VALUE',
    `a ${typeof value === 'object' ? 'non-array object' : typeof value} cannot be written into SQL`,
  );
}

/** A tagged template: the literal parts are trusted SQL, every ${value} is escaped. */
export function sql(strings: TemplateStringsArray, ...values: readonly SqlValue[]): SqlFragment {
  let text = strings[0] ?? '';
  values.forEach((value, index) => {
    text += literal(value) + (strings[index + 1] ?? '');
  });
  return new SqlFragment(text);
}

/** Joins fragments with a separator (for WHERE clauses built from optional filters). */
export function joinSql(parts: readonly SqlFragment[], separator: string): SqlFragment {
  return new SqlFragment(parts.map((part) => part.text).join(separator));
}
