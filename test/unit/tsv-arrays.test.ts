import { describe, expect, it } from 'vitest';
import { resultRows, RESULT_COLUMNS } from '../../lib/storage/results.ts';
import { tsvField, tsvRow } from '../../lib/storage/tsv.ts';
import { makeResultV2 } from '../../support/results.ts';

describe('array fields', () => {
  it('writes number arrays as ClickHouse array literals', () => {
    expect(tsvField([1, 2.5, -3])).toBe('[1,2.5,-3]');
    expect(tsvField([1e-7, 1e21, -0])).toBe('[1e-7,1e+21,0]');
    expect(tsvField([])).toBe('[]');
  });

  it('still writes string arrays as quoted, escaped literals', () => {
    expect(tsvField(['a', "b'c", 'tab\there'])).toBe("['a','b\\'c','tab\\there']");
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    'refuses %s inside an array, as it does alone',
    (bad) => {
      expect(() => tsvField([1, bad])).toThrow(
        expect.objectContaining({ code: 'BERTH_ERR_SQL_VALUE' }),
      );
      const template = makeResultV2(6, 'host-a', 1);
      const batch = {
        ...template,
        metrics: template.metrics.map((metric) => ({ ...metric, roundValues: [1, bad] })),
      };
      const [row] = resultRows(batch, 1_764_000_000_000);
      if (row === undefined) throw new Error('no row');
      expect(() => tsvRow(row, RESULT_COLUMNS)).toThrow(
        expect.objectContaining({ code: 'BERTH_ERR_SQL_VALUE' }),
      );
    },
  );
});
