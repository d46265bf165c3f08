import { Command, Option } from 'commander';
import type { DeadLetter } from '../../contracts/index.ts';
import { ADVISOR_CLIENT_SETTINGS } from '../../services/advisor/client-settings.ts';
import { printTable } from '../output.ts';
import { settingsOf, withSettings } from '../options.ts';

/** Every setting `berth dlq` reads: the running advisor's it asks first, and NATS. */
const DLQ_SETTINGS = ['natsUrl', ...ADVISOR_CLIENT_SETTINGS] as const;

/** Prints the dead letters as a table, or as JSON with their payloads. */
function printDeadLetters(entries: readonly DeadLetter[], asJson: boolean): void {
  if (asJson) {
    process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
    return;
  }
  printTable(
    entries.map((entry) => ({
      received: new Date(entry.receivedAt).toISOString(),
      seq: entry.streamSequence,
      subject: entry.subject,
      code: entry.code,
      bytes: entry.payloadBytes,
      reason: entry.reason.length > 80 ? `${entry.reason.slice(0, 77)}…` : entry.reason,
    })),
    false,
  );
}

export function dlqCommand(): Command {
  const command = new Command('dlq')
    .description(
      'list the newest messages ingest could not accept, with the reason; asks the running advisor, or reads NATS',
    )
    .addOption(
      new Option('--limit <n>', 'how many').default('50').argParser((raw) => {
        const value = Number(raw);
        if (!Number.isInteger(value) || value < 1 || value > 100_000) {
          throw new Error(`--limit must be a whole number from 1 to 100000, got "${raw}"`);
        }
        return String(value);
      }),
    )
    .option('--json', 'print JSON (with the original payload, base64) instead of a table');
  return withSettings(command, DLQ_SETTINGS).action(async () => {
    const options = command.opts<{ limit: string; json?: boolean }>();
    const limit = Number(options.limit);
    const config = settingsOf(command, DLQ_SETTINGS);
    const { DeadLetterListV1 } = await import('../../contracts/advisor-api.ts');
    const { advisorUrl, askAdvisor } = await import('../../services/advisor/client.ts');
    const answer = await askAdvisor(config, {
      method: 'GET',
      path: '/v1/dead-letters',
      query: { limit },
      answer: DeadLetterListV1,
    });
    if (answer !== undefined) {
      process.stderr.write(`note: answered by the advisor at ${advisorUrl(config)}\n`);
      printDeadLetters(answer.deadLetters, options.json === true);
      return;
    }
    const { connectNats } = await import('../../lib/nats/connect.ts');
    const { readDeadLetters } = await import('../../lib/nats/dead-letters.ts');
    const nc = await connectNats({ url: config.natsUrl, name: 'berth-dlq' });
    try {
      printDeadLetters(await readDeadLetters(nc, limit), options.json === true);
    } finally {
      await nc.close();
    }
  });
}
