import { readFile } from 'node:fs/promises';
import { AdviceV1, type Advice, type AdviceQuestion } from '../../contracts/advice.ts';
import { describeError } from '../../contracts/index.ts';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Config } from '../../lib/config.ts';
import type { Logger } from '../../lib/logger.ts';
import { connectNats } from '../../lib/nats/connect.ts';
import type { StoreConfig } from '../../lib/storage/open-store.ts';
import { openStore } from '../../lib/storage/open-store.ts';
import { openAuditLog } from './audit-log.ts';
import { adviceOf, DEFAULT_ADVISOR_OPTIONS } from './advisor.ts';
import { advise } from './engine/engine.ts';
import type { HostInfo } from './engine/types.ts';
import { loadEvidence } from './evidence-query.ts';
import { watchFleet } from './fleet.ts';
import { postJsonTls, type JsonResponse } from './tls.ts';

export type AdviseConfig = StoreConfig &
  Config<'natsUrl' | 'advisorHost' | 'advisorPort' | 'advisorToken' | 'advisorTlsCert'>;

export interface AdviseOutcome {
  readonly advice: Advice;
  /** Which way the answer came: a running advisor, or this process from the store. */
  readonly via: string;
  /** Why the answer may know less than a running advisor would (no inventory, …). */
  readonly notes: readonly string[];
}

const adviceCheck = TypeCompiler.Compile(AdviceV1);

/**
 * The advisor's address as a client reaches it (a wildcard bind is reached on loopback), over
 * HTTPS when it has a certificate.
 */
export function advisorUrl(
  config: Config<'advisorHost' | 'advisorPort' | 'advisorTlsCert'>,
): string {
  const host = ['0.0.0.0', '::', ''].includes(config.advisorHost)
    ? '127.0.0.1'
    : config.advisorHost;
  const scheme = config.advisorTlsCert === undefined ? 'http' : 'https';
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${config.advisorPort}`;
}

/** POSTs the question to the advisor: over HTTPS trusting its certificate, else over HTTP. */
async function post(config: AdviseConfig, body: string): Promise<JsonResponse> {
  const url = `${advisorUrl(config)}/v1/advice`;
  const headers =
    config.advisorToken === undefined ? {} : { authorization: `Bearer ${config.advisorToken}` };
  if (config.advisorTlsCert !== undefined) {
    const cert = await readFile(config.advisorTlsCert);
    return postJsonTls(url, headers, body, cert, 5_000);
  }
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, text: await response.text() };
}

/** Asks a running advisor; undefined when none answers at that address. */
async function askRunning(
  config: AdviseConfig,
  question: AdviceQuestion,
): Promise<Advice | undefined> {
  let response: JsonResponse;
  try {
    response = await post(config, JSON.stringify(question));
  } catch {
    return undefined;
  }
  let body: unknown;
  try {
    body = JSON.parse(response.text);
  } catch {
    body = undefined;
  }
  if (response.status < 200 || response.status > 299) {
    const message = (body as { error?: { message?: string; field?: string } } | undefined)?.error;
    throw new Error(
      `the advisor at ${advisorUrl(config)} answered ${response.status}: ${message?.field ?? ''} ${message?.message ?? ''}`.trim(),
    );
  }
  if (!adviceCheck.Check(body)) {
    throw new Error(
      `the advisor at ${advisorUrl(config)} answered with something that is not advice`,
    );
  }
  return body;
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
  const running = await askRunning(config, question);
  if (running !== undefined)
    return { advice: running, via: `the advisor at ${advisorUrl(config)}`, notes: [] };
  const { hosts, note } = await readHosts(config, logger);
  const store = await openStore(config);
  try {
    const now = Date.now();
    const engine = advise({
      question,
      // Only the hosts asked about are read; the engine keeps to them in what it is given.
      evidence: await loadEvidence(
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
