import { describe, expect, it } from 'vitest';
import { parseParameters } from '../../services/advisor/query-parameters.ts';

const RULES = {
  host: { kind: 'token' },
  limit: { kind: 'integer', min: 1, max: 500 },
} as const;

describe('query parameters', () => {
  it('reads tokens as strings and whole numbers as numbers, leaving out those not given', () => {
    expect(parseParameters({ host: 'host-a', limit: '20' }, RULES)).toEqual({
      ok: true,
      parameters: { host: 'host-a', limit: 20 },
    });
    expect(parseParameters({}, RULES)).toEqual({ ok: true, parameters: {} });
  });

  it('names the parameter that is unknown, repeated, out of range or not a safe token', () => {
    for (const [query, field] of [
      [{ colour: 'red' }, 'colour'],
      [{ host: ['a', 'b'] }, 'host'],
      [{ host: 'a.b' }, 'host'],
      [{ host: "a' OR 1=1" }, 'host'],
      [{ limit: '0' }, 'limit'],
      [{ limit: '501' }, 'limit'],
      [{ limit: '1.5' }, 'limit'],
      [{ limit: '-1' }, 'limit'],
      [{ limit: '1e2' }, 'limit'],
      [{ limit: '' }, 'limit'],
      [{ limit: ['1', '2'] }, 'limit'],
      [{ limit: '99999999999999999' }, 'limit'],
    ] as const) {
      const parsed = parseParameters(query, RULES);
      expect(parsed.ok, JSON.stringify(query)).toBe(false);
      if (!parsed.ok) expect(parsed.problem.field).toBe(field);
    }
  });
});
