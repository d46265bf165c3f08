import type { PublishedFigures, ResultView } from '../../contracts/advisor-api.ts';
import type { HostView } from '../../contracts/advisor-frames.ts';
import { BASELINE_PLATFORM } from './engine/placements.ts';
import { PUBLISHED_FIGURES, PUBLISHED_SOURCES } from './engine/published.ts';
import type { EvidenceRow } from './engine/types.ts';
import type { FleetHost } from './fleet.ts';

/** A host as /v1/hosts and the `host` frame show it: inventory summary, age, platforms. */
export function hostView(host: FleetHost, now: number): HostView {
  const inventory = host.inventory;
  return {
    hostId: host.hostId,
    lastSeenAt: host.lastSeenAt,
    heartbeatAgeMs: Math.max(0, now - host.lastSeenAt),
    busy: host.busy,
    ...(host.runId === undefined ? {} : { runId: host.runId }),
    ...(host.lastRun === undefined ? {} : { lastRun: { ...host.lastRun } }),
    ...(inventory === undefined
      ? {}
      : {
          inventory: {
            sentAt: inventory.sentAt,
            agentVersion: inventory.agentVersion,
            cpu: {
              model: inventory.cpu.model,
              cores: inventory.cpu.cores,
              threads: inventory.cpu.threads,
            },
            memoryBytes: inventory.memoryBytes,
            os: inventory.os,
            virtualised: inventory.virtualised,
            cgroup: inventory.cgroup,
          },
        }),
    platforms: inventory?.platforms ?? [],
  };
}

/** The published figures the engine knows, with their sources, as GET /v1/published shows them. */
export function publishedFigures(): PublishedFigures {
  return {
    sources: Object.entries(PUBLISHED_SOURCES).map(([id, source]) => ({ id, ...source })),
    figures: PUBLISHED_FIGURES.map((figure) => ({
      ...figure,
      standsInFor: [...figure.standsInFor],
    })),
  };
}

export interface ResultFilter {
  readonly host?: string;
  readonly platform?: string;
  readonly workload?: string;
}

/** The evidence aggregates that match the filter, each with its ratio to the bare process. */
export function resultViews(rows: readonly EvidenceRow[], filter: ResultFilter): ResultView[] {
  const key = (row: EvidenceRow): string => `${row.hostId}\n${row.workload}\n${row.metric}`;
  const baseline = new Map(
    rows.filter((row) => row.platform === BASELINE_PLATFORM).map((row) => [key(row), row.mean]),
  );
  return rows
    .filter(
      (row) =>
        (filter.host === undefined || row.hostId === filter.host) &&
        (filter.platform === undefined || row.platform === filter.platform) &&
        (filter.workload === undefined || row.workload === filter.workload),
    )
    .map((row) => {
      const processMean = baseline.get(key(row));
      return {
        ...row,
        ratioToProcess:
          processMean === undefined || processMean === 0 ? null : row.mean / processMean,
      };
    });
}
