import { AdviceV1, type Advice, type AdviceQuestion } from '../../contracts/advice.ts';
import { describeError } from '../../contracts/index.ts';
import type { Config } from '../../lib/config.ts';
import type { Logger } from '../../lib/logger.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import type { StoreConfig } from '../../lib/storage/open-store.ts';
import { openStore } from '../../lib/storage/open-store.ts';
import { loadSeriesSummaries } from '../../lib/storage/results.ts';
import { openAuditLog } from './audit-log.ts';
import { adviceOf, DEFAULT_ADVISOR_OPTIONS } from './advisor.ts';
import { advisorUrl, askAdvisor, type AdvisorClientConfig } from './client.ts';
import { advise } from './engine/engine.ts';
import type { HostInfo } from './engine/types.ts';
import { watchFleet } from './fleet.ts';

export type AdviseConfig = StoreConfig & Config<'natsUrl'> & AdvisorClientConfig;

export interface AdviseOutcome {
  readonly advice: Advice;
  /** Which way the answer came: a running advisor, or this process from the store. */
  readonly via: string;
  /** Why the answer may know less than a running advisor would (no inventory, …). */
  readonly notes: readonly string[];
}

/** The fleet's inventory from NATS, or none (with why) when NATS does not answer. */
async function readHosts(
  config: AdviseConfig,
  logger: Logger,
): Promise<{ hosts: readonly HostInfo[]; note?: string }> {
  let nc;
  try {
    nc = await connectNats({ url: config.natsUrl, name: 'berth-advise', timeoutMs: 2_000 });
  } catch (error) {
    return { hosts: [], note: `no host inventory: ${describeError(error)}` };
  }
  try {
    const fleet = await watchFleet(nc, logger);
    await Promise.race([fleet.ready(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
    const hosts = fleet.hostInfos();
    await fleet.stop();
    return { hosts };
  } catch (error) {
    return { hosts: [], note: `no host inventory: ${describeError(error)}` };
  } finally {
    await nc.close();
  }
}

/**
 * `berth advise`: asks the advisor running on this machine when there is one (the embedded
 * store admits one process), else answers here from the configured store and the inventory
 * on NATS, and keeps the answer in the audit log as the service would.
 */
export async function adviseOnce(
  config: AdviseConfig,
  question: AdviceQuestion,
  logger: Logger,
): Promise<AdviseOutcome> {
  const running = await askAdvisor(config, {
    method: 'POST',
    path: '/v1/advice',
    body: question,
    answer: AdviceV1,
  });
  if (running !== undefined)
    return { advice: running, via: `the advisor at ${advisorUrl(config)}`, notes: [] };
  const { hosts, note } = await readHosts(config, logger);
  const store = await openStore(config);
  try {
    const now = Date.now();
    const engine = advise({
      question,
      // Only the hosts asked about are read; the engine keeps to them in what it is given.
      evidence: await loadSeriesSummaries(
        store,
        question.hosts === undefined || question.hosts.length === 0
          ? {}
          : { hostIds: question.hosts },
      ),
      hosts,
      now,
      staleAfterMs: DEFAULT_ADVISOR_OPTIONS.staleAfterMs,
    });
    const advice = adviceOf(question, engine, now);
    const audit = openAuditLog(store, logger);
    audit.record(advice, engine.evidenceIds);
    await audit.stop();
    const notes = note === undefined ? [] : [note];
    if (engine.refresh.length > 0) {
      notes.push(
        `fresh runs would help on ${engine.refresh.join(', ')}; a running advisor asks for them`,
      );
    }
    return {
      advice,
      via: `this process, from the ${store.backend} store at ${store.location}`,
      notes,
    };
  } finally {
    await store.close();
  }
}
