import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import {
  integerParameter,
  parseParameters,
  queryParameters,
  tokenParameter,
} from '../../services/advisor/query-parameters.ts';

const RULES = queryParameters({
  host: Type.Optional(tokenParameter('a host')),
  limit: Type.Optional(integerParameter(1, 500, 'how many')),
});

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

describe('a required query parameter', () => {
  const REQUIRED = queryParameters({
    workload: tokenParameter('the workload'),
    limit: Type.Optional(integerParameter(1, 10, 'how many')),
  });

  it('is named when it is left out, after the parameters given are checked', () => {
    expect(parseParameters({ limit: '2' }, REQUIRED)).toEqual({
      ok: false,
      problem: { field: 'workload', message: 'is required' },
    });
    expect(parseParameters({ limit: '11' }, REQUIRED)).toEqual({
      ok: false,
      problem: { field: 'limit', message: 'must be a whole number from 1 to 10, given once' },
    });
    expect(parseParameters({ workload: 'cpu-sha256' }, REQUIRED)).toEqual({
      ok: true,
      parameters: { workload: 'cpu-sha256' },
    });
  });
});
