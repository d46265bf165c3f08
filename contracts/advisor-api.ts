import { Type, type Static } from '@sinclair/typebox';

/**
 * The bodies of the advisor's HTTP answers beyond the question and the answer
 * (contracts/advice.ts): a run asked of a host, the audit log's list of answers, the values
 * behind the evidence, and the published figures the engine may stand in with.
 */

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

export type RequestedRun = Static<typeof RequestedRunV1>;
export type AdviceSummary = Static<typeof AdviceSummaryV1>;
export type AdviceList = Static<typeof AdviceListV1>;
export type ValueSeries = Static<typeof ValueSeriesV1>;
export type ResultValues = Static<typeof ResultValuesV1>;
export type PublishedFigures = Static<typeof PublishedFiguresV1>;
