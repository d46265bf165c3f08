import { Command, Option } from 'commander';
import { sql } from '../../lib/storage/sql.ts';
import { dedupedResults } from '../../lib/storage/results.ts';
import { printTable } from '../output.ts';
import { settingsOf, STORE_SETTINGS, withSettings } from '../options.ts';

interface SummaryRow {
  host: string;
  platform: string;
  runtime: string;
  accel: string;
  workload: string;
  metric: string;
  unit: string;
  results: string | number;
  mean: number;
  last: string;
}

export function resultsCommand(): Command {
  const command = new Command('results')
    .description(
      'summarise stored results (deduplicated) per host, platform and runtime, workload and metric',
    )
    .addOption(new Option('--host <id>', 'only this host'))
    .addOption(new Option('--platform <name>', 'only this platform'))
    .addOption(new Option('--workload <name>', 'only this workload'))
    .option('--json', 'print JSON instead of a table');
  return withSettings(command, STORE_SETTINGS).action(async () => {
    const options = command.opts<{
      host?: string;
      platform?: string;
      workload?: string;
      json?: boolean;
    }>();
    const { openStore } = await import('../../lib/storage/open-store.ts');
    const store = await openStore(settingsOf(command, STORE_SETTINGS));
    try {
      const rows = await store.query<SummaryRow>(
        sql`SELECT host_id AS host, platform, runtime, accel, workload, metric, unit,
              count() AS results, avg(value) AS mean, toString(max(taken_at)) AS last
            FROM (${dedupedResults({
              ...(options.host === undefined ? {} : { hostId: options.host }),
              ...(options.platform === undefined ? {} : { platform: options.platform }),
              ...(options.workload === undefined ? {} : { workload: options.workload }),
            })})
            GROUP BY host, platform, runtime, accel, workload, metric, unit
            ORDER BY host, workload, metric, platform, runtime`,
      );
      printTable(
        rows.map((row) => ({
          ...row,
          results: Number(row.results),
          mean: Number(row.mean.toPrecision(6)),
        })),
        options.json === true,
      );
    } finally {
      await store.close();
    }
  });
}
