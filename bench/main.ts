import { Command } from 'commander';
import { benchIngest } from './ingest.ts';

/** A whole-number option within bounds, or an error naming the option. */
function wholeNumber(option: string, text: string, min: number, max?: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || (max !== undefined && value > max)) {
    throw new Error(
      `${option} must be a whole number ${max === undefined ? `of at least ${min}` : `from ${min} to ${max}`}`,
    );
  }
  return value;
}

/** `npm run bench -- <name>`: each benchmark measures its own baseline in the same run. */
const program = new Command('bench')
  .description('Berth benchmarks; each prints ratios against a baseline measured in the same run')
  .exitOverride();

program
  .command('ingest')
  .description(
    'raw JetStream pull rate, raw ClickHouse insert rate and Berth end-to-end, per backend',
  )
  .option('--results <n>', 'result messages per measurement', '50000')
  .option('--batch-size <n>', 'results per batch, for ingest and the raw insert alike', '5000')
  .option('--backends <list>', 'comma-separated: chdb,clickhouse', 'chdb,clickhouse')
  .action(async (options: { results: string; batchSize: string; backends: string }) => {
    const backends = options.backends.split(',').map((name) => name.trim());
    for (const backend of backends) {
      if (backend !== 'chdb' && backend !== 'clickhouse') {
        throw new Error(`--backends: unknown backend "${backend}" (chdb, clickhouse)`);
      }
    }
    const results = wholeNumber('--results', options.results, 1000);
    const batchSize = wholeNumber('--batch-size', options.batchSize, 1, 100_000);
    await benchIngest({ results, batchSize, backends: backends as ('chdb' | 'clickhouse')[] });
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof Error && 'exitCode' in error)) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exitCode = 1;
}
