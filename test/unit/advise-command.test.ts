import { describe, expect, it } from 'vitest';
import { adviseCommand } from '../../cli/commands/advise.ts';
import { BerthError } from '../../contracts/errors.ts';

/** `berth advise` with these arguments, as the user types them after the command. */
const run = (args: readonly string[]): Promise<unknown> =>
  adviseCommand()
    .exitOverride()
    .parseAsync([...args], { from: 'user' });

describe('berth advise options', () => {
  it('refuses a --neighbours other than own or shared, naming the option, before reading the question', async () => {
    await expect(run(['no-such-question.json', '--neighbours', 'crowded'])).rejects.toEqual(
      new BerthError(
        'BERTH_ERR_PARAMETER',
        '--neighbours must be one of own, shared, got "crowded"',
      ),
    );
  });

  it.each(['0', '2.5', 'many'])(
    'refuses export runtimeclass --instances %s, naming the option, before opening the store',
    async (instances) => {
      await expect(
        run(['export', 'runtimeclass', '--runtime', 'container:runc', '--instances', instances]),
      ).rejects.toEqual(
        new BerthError(
          'BERTH_ERR_PARAMETER',
          `--instances must be a whole number of 1 or more, got "${instances}"`,
        ),
      );
    },
  );
});
