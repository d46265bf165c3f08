import type { RequestedRun } from '../../contracts/advisor-api.ts';
import type { HostView } from '../../contracts/advisor-frames.ts';
import type { JobProgress } from '../../contracts/job.ts';
import { ApiError, getJson, postJson } from './api.ts';
import { dataTable, el, scrolling } from './dom.ts';
import { formatAge, formatBytes, optionName } from './format.ts';
import type { AdvisorSocket } from './socket.ts';

/** A host as the page holds it: the view, and when (by this browser's clock) it was last seen. */
interface KnownHost {
  readonly view: HostView;
  readonly seenAtLocal: number;
}

function platformList(host: HostView): HTMLElement {
  if (host.platforms.length === 0) return el('p', { text: 'no inventory yet' });
  return el(
    'ul',
    { class: 'platforms', 'data-testid': 'host-platforms' },
    ...host.platforms.map((platform) =>
      el(
        'li',
        {
          'data-testid': 'host-platform',
          'data-platform': platform.platform,
          'data-runtime': platform.runtime,
          'data-available': platform.available,
          class: platform.available ? 'available' : 'unavailable',
        },
        el('span', {
          class: 'sr-only',
          text: platform.available ? 'available: ' : 'not available: ',
        }),
        el('span', { 'aria-hidden': 'true', text: platform.available ? '✓ ' : '✗ ' }),
        optionName(platform.platform, platform.runtime, platform.accel),
        platform.reason !== undefined &&
          el('span', { class: 'reason', text: ` — ${platform.reason}` }),
      ),
    ),
  );
}

function inventoryText(host: HostView): string {
  const inventory = host.inventory;
  if (inventory === undefined) return 'no inventory yet';
  return [
    `${inventory.cpu.model}, ${inventory.cpu.cores} cores / ${inventory.cpu.threads} threads`,
    formatBytes(inventory.memoryBytes),
    `${inventory.os.distro} ${inventory.os.release}, kernel ${inventory.os.kernel} (${inventory.os.arch})`,
    inventory.virtualised.is
      ? `virtualised (${inventory.virtualised.hypervisor ?? 'unknown'})`
      : 'bare metal',
    `cgroup ${inventory.cgroup}`,
    `agent ${inventory.agentVersion}`,
  ].join('; ');
}

function progressText(progress: JobProgress): string {
  const steps = progress.total > 0 ? ` ${progress.done}/${progress.total}` : '';
  const detail = progress.error?.message ?? progress.message;
  return `${progress.state}${steps}${detail === undefined ? '' : `: ${detail}`}`;
}

/**
 * The Fleet view: each host with its inventory, heartbeat age, platforms (available or not,
 * and why), the run going on and the last one, and a "run now" button whose job's progress
 * is shown live from the agent's progress messages.
 */
export function createFleetView(
  panel: HTMLElement,
  socket: AdvisorSocket,
  onHosts: (hostIds: readonly string[]) => void,
): { refresh(): Promise<void> } {
  const hosts = new Map<string, KnownHost>();
  const progress = new Map<string, JobProgress>();
  const runs = new Map<string, RequestedRun | string>();
  const body = el('tbody', { id: 'fleet-hosts-body' });
  const empty = el('p', { 'data-testid': 'fleet-empty', text: 'No host has reported yet.' });
  const table = scrolling(
    dataTable(
      { id: 'fleet-hosts', 'data-testid': 'fleet-hosts', class: 'fleet' },
      'Hosts',
      ['host', 'inventory', 'heartbeat', 'runs', 'platforms', 'run now'],
      body,
    ),
  );
  panel.append(el('h2', { text: 'Fleet' }), empty, table);

  const runText = (hostId: string): string => {
    const job = progress.get(hostId);
    if (job !== undefined) return `job ${job.jobId}: ${progressText(job)}`;
    const run = runs.get(hostId);
    if (run === undefined) return '';
    if (typeof run === 'string') return run;
    return `job ${run.jobId}: ${run.state}${run.detail === undefined ? '' : ` (${run.detail})`}`;
  };

  const runNow = (hostId: string): void => {
    progress.delete(hostId);
    runs.set(hostId, 'asking the agent…');
    render();
    postJson<RequestedRun>(`v1/hosts/${encodeURIComponent(hostId)}/runs`).then(
      (run) => {
        runs.set(hostId, run);
        const job = progress.get(hostId);
        if (job !== undefined && job.jobId !== run.jobId) progress.delete(hostId);
        render();
      },
      (error: unknown) => {
        runs.set(hostId, error instanceof ApiError ? error.message : String(error));
        render();
      },
    );
  };

  /** The cells of a host's row that change; the row and its button stay, so focus stays. */
  interface HostRow {
    readonly row: HTMLElement;
    readonly inventory: HTMLElement;
    readonly age: HTMLElement;
    readonly busy: HTMLElement;
    readonly lastRun: HTMLElement;
    readonly platforms: HTMLElement;
    readonly bar: HTMLProgressElement;
    readonly status: HTMLElement;
  }
  const rows = new Map<string, HostRow>();

  const rowOf = (hostId: string): HostRow => {
    const existing = rows.get(hostId);
    if (existing !== undefined) return existing;
    const button = el('button', {
      type: 'button',
      'data-testid': 'run-now',
      'data-host-id': hostId,
      'aria-label': `Run the quick suite now on ${hostId}`,
      text: 'Run now',
    });
    button.addEventListener('click', () => {
      runNow(hostId);
    });
    const parts: HostRow = {
      row: el('tr', { 'data-testid': 'host-row', 'data-host-id': hostId }),
      inventory: el('td', {
        class: 'inventory',
        'data-testid': 'host-inventory',
        'data-label': 'inventory',
      }),
      age: el('td', { 'data-testid': 'heartbeat-age', 'data-label': 'heartbeat' }),
      busy: el('p', { 'data-testid': 'host-busy' }),
      lastRun: el('p', { 'data-testid': 'last-run' }),
      platforms: el('td', { 'data-label': 'platforms' }),
      bar: el('progress', {
        'data-testid': 'run-progress',
        'aria-label': `progress of the run on ${hostId}`,
        hidden: true,
      }),
      status: el('p', { 'data-testid': 'run-status', role: 'status', 'aria-live': 'polite' }),
    };
    parts.row.append(
      el('th', { scope: 'row', text: hostId }),
      parts.inventory,
      parts.age,
      el('td', { 'data-label': 'runs' }, parts.busy, parts.lastRun),
      parts.platforms,
      el('td', { class: 'run' }, button, parts.bar, parts.status),
    );
    rows.set(hostId, parts);
    return parts;
  };

  const update = ({ view, seenAtLocal }: KnownHost): HTMLElement => {
    const parts = rowOf(view.hostId);
    const job = progress.get(view.hostId);
    parts.inventory.textContent = inventoryText(view);
    parts.age.dataset['seenAt'] = String(seenAtLocal);
    parts.age.textContent = formatAge(Date.now() - seenAtLocal);
    parts.busy.textContent = view.busy ? `busy: ${view.runId ?? 'a run'}` : 'idle';
    parts.lastRun.textContent =
      view.lastRun === undefined
        ? 'no run seen'
        : `last run ${view.lastRun.runId}, seen ${formatAge(Date.now() - view.lastRun.seenAt)}`;
    parts.platforms.replaceChildren(platformList(view));
    parts.bar.hidden = job === undefined;
    parts.bar.max = Math.max(job?.total ?? 1, 1);
    parts.bar.value = job?.done ?? 0;
    parts.status.textContent = runText(view.hostId);
    return parts.row;
  };

  const render = (): void => {
    const sorted = [...hosts.values()].sort((a, b) => (a.view.hostId < b.view.hostId ? -1 : 1));
    empty.hidden = sorted.length > 0;
    const ordered = sorted.map(update);
    if (ordered.some((row, index) => body.children[index] !== row))
      body.replaceChildren(...ordered);
  };

  const take = (view: HostView): void => {
    hosts.set(view.hostId, { view, seenAtLocal: Date.now() - view.heartbeatAgeMs });
  };

  const tellHosts = (): void => {
    onHosts([...hosts.keys()].sort());
  };

  socket.on('host', (frame) => {
    const known = hosts.has(frame.host.hostId);
    take(frame.host);
    render();
    if (!known) tellHosts();
  });
  socket.on('job', (frame) => {
    progress.set(frame.progress.hostId, frame.progress);
    render();
  });
  // Heartbeat ages move on by themselves.
  window.setInterval(() => {
    for (const cell of body.querySelectorAll<HTMLElement>('[data-testid="heartbeat-age"]')) {
      cell.textContent = formatAge(Date.now() - Number(cell.dataset['seenAt']));
    }
  }, 1000);

  return {
    refresh: async () => {
      const { hosts: views } = await getJson<{ hosts: HostView[] }>('v1/hosts');
      for (const view of views) take(view);
      render();
      tellHosts();
    },
  };
}
