import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../lib/storage/migrations.ts';
import { SqlFragment } from '../../lib/storage/sql.ts';
import { createIngestMetrics } from '../../services/ingest/metrics.ts';
import { openTestStore, type TestStore } from '../../support/servers.ts';

const DIR = new URL('../../dashboards/grafana/', import.meta.url);
const CLICKHOUSE = 'grafana-clickhouse-datasource';

interface Target {
  readonly refId: string;
  readonly datasource: { readonly type: string; readonly uid: string };
  readonly rawSql?: string;
  readonly format?: number;
  readonly expr?: string;
}

interface Panel {
  readonly id: number;
  readonly title: string;
  readonly type: string;
  readonly targets?: readonly Target[];
  readonly panels?: readonly Panel[];
}

interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: {
    readonly list: readonly {
      readonly name: string;
      readonly type: string;
      readonly query: string;
      readonly datasource?: Target['datasource'];
    }[];
  };
}

const dashboards = readdirSync(DIR)
  .filter((name) => name.endsWith('.json'))
  .map((name) => ({
    name,
    board: JSON.parse(readFileSync(new URL(name, DIR), 'utf8')) as Dashboard,
  }));

/** Every panel, rows' panels included. */
const allPanels = (panels: readonly Panel[]): Panel[] =>
  panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])]);

/** Every ClickHouse query of the dashboards: panels' targets and query variables. */
const queries = dashboards.flatMap(({ name, board }) => [
  ...allPanels(board.panels).flatMap((panel) =>
    (panel.targets ?? [])
      .filter((target) => target.datasource.type === CLICKHOUSE)
      .map((target) => ({ where: `${name}: ${panel.title}`, sql: target.rawSql ?? '' })),
  ),
  ...board.templating.list
    .filter((variable) => variable.type === 'query' && variable.datasource?.type === CLICKHOUSE)
    .map((variable) => ({ where: `${name}: variable ${variable.name}`, sql: variable.query })),
]);

/** Table name to its columns, from the CREATE TABLE statements of the migrations. */
function tablesOfMigrations(): Map<string, Set<string>> {
  const tables = new Map<string, Set<string>>();
  for (const { statements } of MIGRATIONS) {
    for (const { text } of statements) {
      const create = /CREATE TABLE (?:IF NOT EXISTS )?(\w+) \(([^]*?)\)\s*ENGINE/.exec(text);
      if (create?.[1] === undefined || create[2] === undefined) continue;
      const columns = create[2]
        .split('\n')
        .map((line) => /^\s*(\w+)\s+\w/.exec(line)?.[1])
        .filter((column) => column !== undefined);
      tables.set(create[1], new Set(columns));
    }
  }
  return tables;
}

/** SQL words that name neither a table nor a column. */
const KEYWORDS = new Set(
  `SELECT DISTINCT FROM FINAL WHERE AND OR NOT IN AS ON USING INNER LEFT RIGHT FULL JOIN GROUP BY
  ORDER ASC DESC LIMIT HAVING WITH CASE WHEN THEN ELSE END NULL IS INTERVAL SECOND MINUTE HOUR DAY
  WEEK MONTH`.split(/\s+/),
);

/**
 * What in a dashboard query names no table or column of the migrations: each table after
 * FROM or JOIN must be one of them, and every other plain word must be a column of a table
 * it reads, an alias it defines (AS x), a function (x(…)) or an SQL keyword.
 */
function sqlProblems(query: string, tables: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const text = query
    .replace(/'(?:[^'\\]|\\.)*'/g, "''")
    .replace(/\$\{[^}]*\}/g, '')
    .replace(/\$__\w+/g, '');
  const problems: string[] = [];
  const read = [...text.matchAll(/\b(?:FROM|JOIN)\s+(\w+)(?!\s*\()/gi)].map(
    (match) => match[1] ?? '',
  );
  for (const table of read) if (!tables.has(table)) problems.push(`table ${table}`);
  const aliases = new Set([...text.matchAll(/\bAS\s+(\w+)/gi)].map((match) => match[1]));
  const columns = new Set(read.flatMap((table) => [...(tables.get(table) ?? [])]));
  for (const match of text.matchAll(/(?<!\w)([A-Za-z_]\w*)(?!\w|\s*\()/g)) {
    const word = match[1] ?? '';
    if (KEYWORDS.has(word.toUpperCase()) || aliases.has(word) || read.includes(word)) continue;
    if (!columns.has(word)) problems.push(`column ${word}`);
  }
  return [...new Set(problems)];
}

const FROM_S = 1_700_000_000;
const TO_S = FROM_S + 86_400;

/**
 * The query as Grafana's ClickHouse data source sends it for the range FROM_S..TO_S with
 * every host selected: its macros expanded the way the plugin does.
 */
function expandMacros(query: string, hosts: readonly string[]): string {
  return query
    .replace(
      /\$__timeFilter\((\w+)\)/g,
      `$1 >= toDateTime(${FROM_S}) AND $1 <= toDateTime(${TO_S})`,
    )
    .replace(/\$__timeInterval\((\w+)\)/g, 'toStartOfInterval(toDateTime($1), INTERVAL 60 second)')
    .replace(/\$\{host:singlequote\}/g, hosts.map((host) => `'${host}'`).join(','));
}

describe('the Grafana dashboards', () => {
  const tables = tablesOfMigrations();

  it('parse, have unique panel ids and read ClickHouse through the data source variable', () => {
    expect(dashboards.map(({ name }) => name).sort()).toEqual([
      'berth-advice-ingest.json',
      'berth-results.json',
    ]);
    for (const { board } of dashboards) {
      const panels = allPanels(board.panels);
      expect(new Set(panels.map((panel) => panel.id)).size).toBe(panels.length);
      for (const panel of panels) {
        for (const target of panel.targets ?? []) {
          if (target.datasource.type === CLICKHOUSE) {
            expect(target.datasource.uid).toBe('${datasource}');
            expect(target.rawSql).toMatch(/\$__timeFilter\(\w+\)/);
            expect([0, 1]).toContain(target.format);
          } else {
            expect(target.datasource).toEqual({ type: 'prometheus', uid: '${prometheus}' });
          }
        }
      }
    }
    expect(queries.length).toBeGreaterThanOrEqual(12);
  });

  it('name only tables and columns the migrations create', () => {
    expect([...tables.keys()]).toEqual(['results', 'advice']);
    for (const { where, sql } of queries) expect(sqlProblems(sql, tables), where).toEqual([]);
    // The check itself finds what does not exist.
    expect(
      sqlProblems('SELECT host_id, cpu FROM results WHERE $__timeFilter(taken_at)', tables),
    ).toEqual(['column cpu']);
    expect(sqlProblems('SELECT count() AS n FROM dlq', tables)).toEqual(['table dlq']);
  });

  it('ask Prometheus only for metrics and labels berth ingest exports', () => {
    const { registry } = createIngestMetrics();
    // prom-client keeps a metric's label names on the metric; its types do not say so.
    const labelsOf = (name: string): readonly string[] | undefined =>
      (registry.getSingleMetric(name) as { labelNames?: readonly string[] } | undefined)
        ?.labelNames;
    const exprs = dashboards.flatMap(({ board }) =>
      allPanels(board.panels).flatMap((panel) =>
        (panel.targets ?? []).flatMap((target) => (target.expr === undefined ? [] : [target.expr])),
      ),
    );
    expect(exprs.length).toBeGreaterThan(0);
    for (const expr of exprs) {
      const metrics = [...expr.matchAll(/\b(berth_\w+)/g)].map((match) => match[1] ?? '');
      expect(metrics.length, expr).toBeGreaterThan(0);
      for (const metric of metrics) {
        expect(labelsOf(metric), `${metric} in ${expr}`).toBeDefined();
        for (const [, labels] of expr.matchAll(/\bby \(([^)]*)\)/g)) {
          for (const label of (labels ?? '').split(',').map((name) => name.trim())) {
            expect(labelsOf(metric), expr).toContain(label);
          }
        }
      }
    }
  });

  describe('run on the embedded store with the migrations, macros expanded', () => {
    let test: TestStore;
    const at = FROM_S + 3600;

    beforeAll(async () => {
      test = await openTestStore('chdb');
      const row = (
        host: string,
        platform: string,
        runtime: string,
        workload: string,
        metric: string,
        value: number,
        settings: Record<string, string> = {},
      ): Record<string, string | number> => ({
        result_id: `${host}-${platform}-${runtime}-${workload}`,
        metric,
        host_id: host,
        run_id: 'run-1',
        taken_at: at,
        taken_at_ms: at * 1000,
        platform,
        runtime,
        runtime_version: '1',
        accel: platform.includes('vm') ? 'kvm' : '',
        settings: JSON.stringify(settings),
        workload,
        workload_version: '1',
        unit: 'x',
        value,
        samples: 5,
        rme: 1,
        stopped_by: 'rme',
        schema_version: 1,
        ingested_at: at,
      });
      const rows = ['host-a', 'host-b'].flatMap((host) => [
        row(host, 'process', 'node', 'cpu-sha256', 'throughput', 1000),
        row(host, 'container', 'runc', 'cpu-sha256', 'throughput', 800),
        row(host, 'process', 'node', 'instance', 'startup', 20),
        row(host, 'container', 'runc', 'instance', 'startup', 120),
        row(host, 'container', 'runc', 'instance', 'memory-overhead', 6),
        row(host, 'container', 'runc', 'instance', 'density', 40, { densityStoppedBy: 'budget' }),
      ]);
      await test.store.insert('results', rows);
      await test.store.insert(
        'advice',
        [0.85, 0.4].map((confidence, index) => ({
          advice_id: `advice-${index}`,
          answered_at: at,
          answered_at_ms: at * 1000,
          workload: 'cpu-sha256',
          top_placement: index === 0 ? 'container:runc' : '',
          confidence,
          question: '{}',
          answer: '{}',
          evidence_ids: ['host-a-process-node-cpu-sha256'],
        })),
      );
    });

    afterAll(async () => {
      await test.dispose();
    });

    it('every query runs and returns rows', async () => {
      for (const { where, sql } of queries) {
        const rows = await test.store.query<Record<string, unknown>>(
          new SqlFragment(expandMacros(sql, ['host-a', 'host-b'])),
        );
        expect(rows.length, where).toBeGreaterThan(0);
      }
    });

    it('the throughput panel gives the ratio to the bare process', async () => {
      const ratio = queries.find(({ where }) => where.endsWith('ratio to the bare process'));
      const rows = await test.store.query<{ placement: string; ratio_to_process: number }>(
        new SqlFragment(expandMacros(ratio?.sql ?? '', ['host-a'])),
      );
      expect(rows.map((row) => [row.placement, row.ratio_to_process])).toEqual([
        ['container:runc', 0.8],
        ['process:node', 1],
      ]);
    });
  });
});
