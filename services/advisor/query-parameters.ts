import { isSafeToken } from '../../contracts/ids.ts';

/** How a query parameter is read: a safe token, or a whole number within bounds. */
export type ParameterRule =
  | { readonly kind: 'token' }
  | { readonly kind: 'integer'; readonly min: number; readonly max: number };

export type ParameterRules = Readonly<Record<string, ParameterRule>>;

/** The parameters read: tokens as strings, integers as numbers; absent ones are left out. */
export type ParsedParameters<Rules extends ParameterRules> = {
  -readonly [Name in keyof Rules]?: Rules[Name] extends { kind: 'integer' } ? number : string;
};

export type ParameterProblem = { readonly field: string; readonly message: string };

const TOKEN_RULE = 'must be 1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit, given once';

/**
 * Reads a query string's parameters by their rules. Each may be given once; a parameter
 * with no rule, a repeated one or a value that breaks its rule is a problem naming it.
 */
export function parseParameters<Rules extends ParameterRules>(
  query: Readonly<Record<string, unknown>>,
  rules: Rules,
): { ok: true; parameters: ParsedParameters<Rules> } | { ok: false; problem: ParameterProblem } {
  const names = Object.keys(rules);
  const unknown = Object.keys(query).find((key) => !names.includes(key));
  if (unknown !== undefined) {
    return {
      ok: false,
      problem: {
        field: unknown.slice(0, 64),
        message: `is not a parameter (use ${names.join(', ')})`,
      },
    };
  }
  const parameters: Record<string, string | number> = {};
  for (const [name, rule] of Object.entries(rules)) {
    const value = query[name];
    if (value === undefined) continue;
    if (rule.kind === 'token') {
      if (!isSafeToken(value)) return { ok: false, problem: { field: name, message: TOKEN_RULE } };
      parameters[name] = value;
      continue;
    }
    const number = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(number) || number < rule.min || number > rule.max) {
      return {
        ok: false,
        problem: {
          field: name,
          message: `must be a whole number from ${rule.min} to ${rule.max}, given once`,
        },
      };
    }
    parameters[name] = number;
  }
  return { ok: true, parameters: parameters as ParsedParameters<Rules> };
}
