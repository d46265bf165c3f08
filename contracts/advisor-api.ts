import { Type, type Static } from '@sinclair/typebox';
import { DeadLetterV1 } from './dead-letter.ts';
import { HostView } from './advisor-frames.ts';
import { Verdict } from './result.ts';

/**
 * The bodies of the advisor's HTTP answers beyond the question and the answer
 * (contracts/advice.ts): errors, health, the fleet, a run asked of a host, the audit log's list
 * of answers, the stored results summarised per series and their values, the published figures
 * the engine may stand in with, and the dead letters ingest refused.
 */

/** The body of every HTTP error the advisor sends. */
export const ApiErrorBodyV1 = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'a code of docs/errors.md' }),
        field: Type.Optional(
          Type.String({ description: 'the field or parameter at fault, as a dotted path' }),
        ),
        message: Type.String(),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, $id: 'ApiErrorBodyV1' },
);

export const HealthV1 = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('unhealthy')]),
    problems: Type.Array(Type.String()),
  },
  { additionalProperties: false, $id: 'HealthV1' },
);

export const HostListV1 = Type.Object(
  { hosts: Type.Array(HostView, { description: 'by host id' }) },
  { additionalProperties: false, $id: 'HostListV1' },
);

export const RequestedRunV1 = Type.Object(
  {
    hostId: Type.String(),
    jobId: Type.String(),
    requestedAt: Type.Integer({ description: 'epoch ms' }),
    requestedBy: Type.String({
      description: '"advisor" for fresh runs, "advisor-api" for run now',
    }),
    state: Type.Union([
      Type.Literal('accepted'),
      Type.Literal('rejected'),
      Type.Literal('unanswered'),
    ]),
    detail: Type.Optional(Type.String({ description: 'why it was rejected or not answered' })),
  },
  { additionalProperties: false, $id: 'RequestedRunV1' },
);

export const AdviceSummaryV1 = Type.Object(
  {
    id: Type.String(),
    answeredAt: Type.Integer({ description: 'epoch ms' }),
    workload: Type.String(),
    topPlacement: Type.String({ description: 'the first option\'s placement; "" when none' }),
    confidence: Type.Number({ minimum: 0, maximum: 1 }),
  },
  { additionalProperties: false, $id: 'AdviceSummaryV1' },
);

export const AdviceListV1 = Type.Object(
  { answers: Type.Array(AdviceSummaryV1, { description: 'newest first' }) },
  { additionalProperties: false, $id: 'AdviceListV1' },
);

/** What names one series of measurements: the host, the option, the workload and the metric. */
export const SERIES_KEY = {
  hostId: Type.String(),
  platform: Type.String(),
  runtime: Type.String(),
  accel: Type.String(),
  workload: Type.String(),
  metric: Type.String(),
  unit: Type.String(),
};

/**
 * One series summarised over its deduplicated results: how many results and samples, the mean
 * and median of their values, the 0.95 quantile of each result's upper tail (its p99, else its
 * max, else its value), the newest time and a few result ids; for version 2 results, the
 * newest comparison with the process platform (ratio, 95% interval, rounds, verdict), how
 * many results came from uncalibrated runs and how many host states (distinct host
 * fingerprints) they were measured in; for start-up, the newest result's p95 over its
 * interleaved launches with that p95's 95% interval and whether the launches looked bimodal.
 * The advisor's evidence, the results API and `berth results` all read this one summary.
 */
export const SeriesSummaryV1 = Type.Object(
  {
    ...SERIES_KEY,
    results: Type.Integer({ description: 'deduplicated results summarised' }),
    samples: Type.Integer({ description: 'the sum of their samples' }),
    mean: Type.Number({ description: "the mean of the results' values" }),
    p50: Type.Number({ description: "the median of the results' values" }),
    p95: Type.Number({
      description: "0.95 quantile over each result's upper tail (its p99, else max, else value)",
    }),
    latestAt: Type.Integer({ description: 'epoch ms of the newest result' }),
    resultIds: Type.Array(Type.String(), { description: 'up to 20 ids of the results behind it' }),
    ratio: Type.Optional(
      Type.Number({
        description:
          'the paired ratio to the process platform of the newest result that has one (version 2 results only)',
      }),
    ),
    ratioLow: Type.Optional(
      Type.Number({ description: "the low end of that ratio's 95% interval" }),
    ),
    ratioHigh: Type.Optional(
      Type.Number({ description: "the high end of that ratio's 95% interval" }),
    ),
    ratioRounds: Type.Optional(Type.Integer({ description: 'the rounds that ratio used' })),
    verdict: Type.Optional(Verdict),
    uncalibratedResults: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          "how many of the series' results came from runs whose calibration canary missed (present with the ratio)",
      }),
    ),
    hostStates: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'how many distinct host fingerprints its results carry (present when the series has a version 2 result); more than 1: the host changed (kernel, CPU settings, runtime versions) between its results',
      }),
    ),
    startupP95: Type.Optional(
      Type.Number({
        description:
          'the p95 over the interleaved launches of the newest start-up result that gives one with its interval (version 2 start-up only), ms',
      }),
    ),
    startupP95Low: Type.Optional(
      Type.Number({ description: "the low end of that p95's distribution-free 95% interval" }),
    ),
    startupP95High: Type.Optional(
      Type.Number({
        description:
          "the high end of that p95's 95% interval: what the advisor's start-up budget rule compares",
      }),
    ),
    startupP95Exact: Type.Optional(
      Type.Boolean({
        description:
          'false when too few launches bound the interval, so an end is the fastest or slowest launch',
      }),
    ),
    startupBimodal: Type.Optional(
      Type.Boolean({ description: "whether that result's launches fell into two separate groups" }),
    ),
  },
  { additionalProperties: false, $id: 'SeriesSummaryV1' },
);

export const ResultViewV1 = Type.Object(
  {
    ...SeriesSummaryV1.properties,
    ratioToProcess: Type.Union([Type.Number(), Type.Null()], {
      description: 'mean over the bare process mean of the same host, workload and metric',
    }),
  },
  { additionalProperties: false, $id: 'ResultViewV1' },
);

export const ResultListV1 = Type.Object(
  {
    readAt: Type.Integer({ description: 'epoch ms the evidence was last read from the store' }),
    problem: Type.Optional(Type.String({ description: 'why the last read failed, if it did' })),
    results: Type.Array(ResultViewV1),
  },
  { additionalProperties: false, $id: 'ResultListV1' },
);

export const ValueSeriesV1 = Type.Object(
  {
    ...SERIES_KEY,
    values: Type.Array(
      Type.Object(
        {
          value: Type.Number(),
          takenAt: Type.Integer({ description: 'epoch ms' }),
          resultId: Type.String(),
        },
        { additionalProperties: false },
      ),
      { description: 'one per deduplicated result, newest first' },
    ),
  },
  { additionalProperties: false, $id: 'ValueSeriesV1' },
);

export const ResultValuesV1 = Type.Object(
  {
    series: Type.Array(ValueSeriesV1, {
      description: 'by host, platform, runtime, accel and metric',
    }),
    truncated: Type.Boolean({ description: 'whether the overall row bound cut the list short' }),
  },
  { additionalProperties: false, $id: 'ResultValuesV1' },
);

export const PublishedSourceV1 = Type.Object(
  { id: Type.String(), short: Type.String(), citation: Type.String(), conditions: Type.String() },
  { additionalProperties: false },
);

export const PublishedFigureV1 = Type.Object(
  {
    source: Type.String({ description: 'the id of a source in `sources`' }),
    placement: Type.String(),
    runtime: Type.String(),
    accel: Type.String(),
    metric: Type.Union([
      Type.Literal('startup'),
      Type.Literal('memory-overhead'),
      Type.Literal('throughput-ratio'),
    ]),
    sensitivity: Type.Optional(Type.String()),
    value: Type.Number(),
    unit: Type.String(),
    claim: Type.String({ description: 'what the source says, in its own terms' }),
    reading: Type.Optional(Type.String({ description: 'how a claim in words became the number' })),
    unverified: Type.Boolean(),
    standsInFor: Type.Array(Type.String(), {
      description: 'the unmeasured placements it may stand in for; empty: for comparison only',
    }),
  },
  { additionalProperties: false },
);

export const PublishedFiguresV1 = Type.Object(
  { sources: Type.Array(PublishedSourceV1), figures: Type.Array(PublishedFigureV1) },
  { additionalProperties: false, $id: 'PublishedFiguresV1' },
);

export const DeadLetterListV1 = Type.Object(
  {
    deadLetters: Type.Array(DeadLetterV1, {
      description: 'the newest dead letters, oldest first',
    }),
  },
  { additionalProperties: false, $id: 'DeadLetterListV1' },
);

export type ApiErrorBody = Static<typeof ApiErrorBodyV1>;
export type Health = Static<typeof HealthV1>;
export type HostList = Static<typeof HostListV1>;
export type SeriesSummary = Static<typeof SeriesSummaryV1>;
export type ResultView = Static<typeof ResultViewV1>;
export type ResultList = Static<typeof ResultListV1>;
export type DeadLetterList = Static<typeof DeadLetterListV1>;
export type RequestedRun = Static<typeof RequestedRunV1>;
export type AdviceSummary = Static<typeof AdviceSummaryV1>;
export type AdviceList = Static<typeof AdviceListV1>;
export type ValueSeries = Static<typeof ValueSeriesV1>;
export type ResultValues = Static<typeof ResultValuesV1>;
export type PublishedFigures = Static<typeof PublishedFiguresV1>;
