import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  describeError,
  jobProgressCodec,
  jobProgressSubject,
  type JobProgress,
} from '../../contracts/index.ts';

/** Lines for a person, and one status line that is kept below them. */
export interface Terminal {
  /** Prints a line (above the status line on a terminal). */
  readonly print: (line: string) => void;
  /** Shows the status: redrawn in place on a terminal, a line of its own otherwise. */
  readonly status: (text: string) => void;
  /** Ends the status with a last line that stays. */
  readonly endStatus: (line: string) => void;
}

/** A Terminal on a stream: in place on a TTY, plain lines (each status once) otherwise. */
export function terminalOn(stream: NodeJS.WriteStream): Terminal {
  const tty = stream.isTTY;
  let shown: string | undefined;
  const fit = (text: string): string => {
    const width = stream.columns > 0 ? stream.columns - 1 : 79;
    return text.length > width ? `${text.slice(0, width - 1)}…` : text;
  };
  const clear = (): void => {
    if (tty && shown !== undefined) stream.write('\r\x1b[2K');
  };
  return {
    print: (line) => {
      clear();
      stream.write(`${line}\n`);
      if (tty && shown !== undefined) stream.write(fit(shown));
    },
    status: (text) => {
      if (text === shown) return;
      clear();
      shown = text;
      stream.write(tty ? fit(text) : `${text}\n`);
    },
    endStatus: (line) => {
      clear();
      shown = undefined;
      stream.write(`${line}\n`);
    },
  };
}

const BAR_WIDTH = 20;

function bar(done: number, total: number): string {
  const filled = total === 0 ? 0 : Math.round((BAR_WIDTH * Math.min(done, total)) / total);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
}

function duration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

const SKIPPED = /^(\S+) skipped: (.*)$/;
/** A round beginning ('round 2/3', 'extra round 4 for vm: …', 'round 2 again: …'), not a platform. */
const ROUND = /^(extra )?round \d+/;

/** What one job went through, from its progress messages, for the summary. */
interface JobSeen {
  readonly startedAt: number;
  runId?: string;
  readonly measured: Set<string>;
  readonly skipped: Map<string, string>;
}

/**
 * Shows the local agent's jobs (the first suite of `berth up`, and any the dashboard or the
 * advisor asks for) from `berth.progress.<hostId>`: one status line while a job runs, then
 * a summary of what was measured and what was skipped, with the reasons.
 */
export function showAgentProgress(
  nc: NatsConnection,
  hostId: string,
  terminal: Terminal,
): Subscription {
  const jobs = new Map<string, JobSeen>();
  const seen = (progress: JobProgress): JobSeen => {
    let job = jobs.get(progress.jobId);
    if (job === undefined) {
      job = { startedAt: progress.at, measured: new Set(), skipped: new Map() };
      jobs.set(progress.jobId, job);
    }
    if (progress.runId !== undefined) job.runId = progress.runId;
    return job;
  };
  const onProgress = (progress: JobProgress): void => {
    if (progress.state === 'rejected') {
      terminal.print(`agent: job ${progress.jobId} rejected: ${progress.error?.message ?? ''}`);
      return;
    }
    const job = seen(progress);
    const text = progress.message ?? '';
    const skipped = SKIPPED.exec(text);
    if (skipped?.[1] !== undefined) job.skipped.set(skipped[1], skipped[2] ?? '');
    else if (progress.state === 'running' && !ROUND.test(text))
      job.measured.add(text.split(':')[0] ?? '');
    if (progress.state === 'accepted' || progress.state === 'running') {
      terminal.status(
        `agent ${bar(progress.done, progress.total)} ${progress.done}/${progress.total} ${text}`,
      );
      return;
    }
    jobs.delete(progress.jobId);
    // The agent ends a run it was told to stop as failed with "stopped".
    const outcome =
      progress.state === 'done' ? 'done' : text === 'stopped' ? 'stopped' : `failed: ${text}`;
    const skips = [...job.skipped].map(([platform, reason]) => `${platform} (${reason})`);
    terminal.endStatus(
      [
        `agent: run ${job.runId ?? '?'} ${outcome}`,
        `in ${duration(progress.at - job.startedAt)}`,
        `measured ${[...job.measured].join(', ') || 'nothing'}`,
        ...(skips.length === 0 ? [] : [`skipped ${skips.join(', ')}`]),
      ].join('; '),
    );
  };
  return nc.subscribe(jobProgressSubject(hostId), {
    callback: (error, message) => {
      if (error !== null) {
        terminal.print(`agent progress: ${describeError(error)}`);
        return;
      }
      const decoded = jobProgressCodec.decode(message.data, 1 << 20);
      if (decoded.ok) onProgress(decoded.value);
    },
  });
}
