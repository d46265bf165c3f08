import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../contracts/errors.ts';
import { SETTINGS } from '../../lib/config.ts';

const read = (path: string): string =>
  readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('the docs match the code', () => {
  it('docs/configuration.md names every setting by flag and environment variable', () => {
    const page = read('docs/configuration.md');
    for (const setting of Object.values(SETTINGS)) {
      expect(page).toContain(`\`${setting.flag}\``);
      expect(page).toContain(`\`${setting.env}\``);
    }
  });

  it('docs/errors.md explains every error code, and only those', () => {
    const page = read('docs/errors.md');
    const documented = [...page.matchAll(/`(BERTH_ERR_[A-Z_0-9]+)`/g)].map((match) => match[1]);
    expect(new Set(documented)).toEqual(new Set(Object.keys(ErrorCodes)));
  });
});
