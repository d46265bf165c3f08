import { Command, Option } from 'commander';
import { connectNats } from '../../lib/nats/connect.ts';
import { readDeadLetters } from '../../lib/nats/dead-letters.ts';
import { printTable } from '../output.ts';
import { settingsOf, withSettings } from '../options.ts';

export function dlqCommand(): Command {
  const command = new Command('dlq')
    .description('list the newest messages ingest could not accept, with the reason')
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
  return withSettings(command, ['natsUrl']).action(async () => {
    const options = command.opts<{ limit: string; json?: boolean }>();
    const config = settingsOf(command, ['natsUrl']);
    const nc = await connectNats({ url: config.natsUrl, name: 'berth-dlq' });
    try {
      const entries = await readDeadLetters(nc, Number(options.limit));
      if (options.json === true) {
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
    } finally {
      await nc.close();
    }
  });
}
