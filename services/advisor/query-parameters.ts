import {
  Type,
  type Static,
  type TInteger,
  type TObject,
  type TOptional,
  type TString,
} from '@sinclair/typebox';
import { isSafeToken, SAFE_TOKEN_PATTERN } from '../../contracts/ids.ts';

/**
 * The query parameters of the advisor's API. Each route that reads a query names its
 * parameters once, as a schema made of these; the same schema checks every request (through
 * `parseParameters`) and is the route's query in the OpenAPI document.
 */

/** A parameter that is a safe token: the ids and names Berth puts in NATS subjects. */
export function tokenParameter(description: string): TString {
  return Type.String({ pattern: SAFE_TOKEN_PATTERN, description });
}

/** A parameter that is a whole number from `minimum` to `maximum`. */
export function integerParameter(minimum: number, maximum: number, description: string): TInteger {
  return Type.Integer({ minimum, maximum, description });
}

type Parameter = TString | TInteger;

/** Parameters by name; `Type.Optional` for each that may be left out. */
type Parameters = Readonly<Record<string, Parameter | TOptional<Parameter>>>;

/** A route's query as `queryParameters` makes it. */
export type QuerySchema = TObject<Parameters>;

/** A route's parameters: these and no others. */
export function queryParameters<Named extends Parameters>(parameters: Named): TObject<Named> {
  return Type.Object(parameters, { additionalProperties: false });
}

export type ParameterProblem = { readonly field: string; readonly message: string };

const TOKEN_RULE = 'must be 1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit, given once';

/** What a parameter's schema holds, read as plain JSON (the schema may come cloned). */
interface ParameterRule {
  readonly type?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
}

/** The value of one parameter by its rule, or undefined when it breaks the rule. */
function readParameter(rule: ParameterRule, value: unknown): string | number | undefined {
  if (rule.type !== 'integer') return isSafeToken(value) ? value : undefined;
  const number = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  const inRange =
    Number.isSafeInteger(number) &&
    number >= (rule.minimum ?? 0) &&
    number <= (rule.maximum ?? Number.MAX_SAFE_INTEGER);
  return inRange ? number : undefined;
}

function ruleText(rule: ParameterRule): string {
  return rule.type === 'integer'
    ? `must be a whole number from ${rule.minimum ?? 0} to ${rule.maximum ?? Number.MAX_SAFE_INTEGER}, given once`
    : TOKEN_RULE;
}

/**
 * Reads a query string's parameters by their schema: tokens as strings, integers as numbers,
 * absent ones left out. Each may be given once; a parameter the
 * schema does not name, a repeated one, a value that breaks its rule or a required one left
 * out is a problem naming it.
 */
export function parseParameters<Query extends QuerySchema>(
  query: Readonly<Record<string, unknown>>,
  schema: Query,
): { ok: true; parameters: Static<Query> } | { ok: false; problem: ParameterProblem } {
  const rules: Readonly<Record<string, ParameterRule>> = schema.properties;
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
    const read = readParameter(rule, value);
    if (read === undefined) return { ok: false, problem: { field: name, message: ruleText(rule) } };
    parameters[name] = read;
  }
  const missing = (schema.required ?? []).find((name) => parameters[name] === undefined);
  if (missing !== undefined) {
    return { ok: false, problem: { field: missing, message: 'is required' } };
  }
  return { ok: true, parameters };
}
