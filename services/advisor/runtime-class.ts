import type { EvidenceRow } from './engine/types.ts';
import { INSTANCE_WORKLOAD, METRICS } from '../../contracts/workloads.ts';

export interface RuntimeClassRequest {
  readonly platform: string;
  readonly runtime: string;
  /** The CRI handler name the nodes know the runtime by. */
  readonly handler: string;
  /** The RuntimeClass's name; `berth-<runtime>` when absent. */
  readonly name?: string;
}

export interface RuntimeClassExport {
  readonly yaml: string;
  /** The measured memory overhead per pod, MiB, rounded up. */
  readonly memoryMiB: number;
  readonly hosts: readonly string[];
  readonly results: number;
}

/** A DNS-1123 label, as Kubernetes names objects. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * A Kubernetes RuntimeClass whose pod overhead is what Berth measured: the mean of the
 * `memory-overhead` results (net of the bare process) of that platform and runtime over the
 * hosts given, rounded up to a MiB. CPU overhead is left out: Berth measures how much slower
 * work runs, not a fixed CPU cost of the sandbox, and the file says so.
 */
export function runtimeClassOf(
  request: RuntimeClassRequest,
  evidence: readonly EvidenceRow[],
): RuntimeClassExport {
  const name = request.name ?? `berth-${request.runtime}`;
  for (const [field, value] of [
    ['name', name],
    ['handler', request.handler],
  ] as const) {
    if (!DNS_LABEL.test(value)) {
      throw new Error(`the RuntimeClass ${field} "${value}" is not a DNS-1123 label`);
    }
  }
  const rows = evidence.filter(
    (row) =>
      row.platform === request.platform &&
      row.runtime === request.runtime &&
      row.workload === INSTANCE_WORKLOAD &&
      row.metric === METRICS.memoryOverhead.metric,
  );
  if (rows.length === 0) {
    throw new Error(
      `no measured memory overhead for ${request.platform}:${request.runtime}; run the agent's suite on a host that has it`,
    );
  }
  const results = rows.reduce((sum, row) => sum + row.results, 0);
  const mean = rows.reduce((sum, row) => sum + row.mean * row.results, 0) / results;
  const memoryMiB = Math.max(1, Math.ceil(mean));
  const hosts = [...new Set(rows.map((row) => row.hostId))].sort();
  const accel = [...new Set(rows.map((row) => row.accel))].sort().join(', ');
  const newest = new Date(Math.max(...rows.map((row) => row.latestAt))).toISOString();
  const yaml = [
    `# Pod overhead measured by Berth for ${request.platform}:${request.runtime} (accel ${accel}):`,
    `# mean memory overhead per instance, net of the bare process, over ${results} results`,
    `# from ${hosts.length} host(s) (${hosts.join(', ')}), newest ${newest}.`,
    '# CPU overhead is not set: Berth measures throughput relative to the bare process, not a',
    "# fixed CPU cost of the sandbox; set overhead.podFixed.cpu from your runtime's own figures.",
    'apiVersion: node.k8s.io/v1',
    'kind: RuntimeClass',
    'metadata:',
    `  name: ${name}`,
    '  labels:',
    '    app.kubernetes.io/managed-by: berth',
    `handler: ${request.handler}`,
    'overhead:',
    '  podFixed:',
    `    memory: "${memoryMiB}Mi"`,
    '',
  ].join('\n');
  return { yaml, memoryMiB, hosts, results };
}
