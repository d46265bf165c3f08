import { Type, type Static, type TNumber } from '@sinclair/typebox';
import { HostId, ResultId, RunId } from './ids.ts';

/** A short lower-case name: platform, runtime, workload or metric. */
const NAME_PATTERN = '[a-z0-9][a-z0-9_.-]{0,63}';
const Name = Type.String({ pattern: `^${NAME_PATTERN}$` });

export const Accel = Type.Union(
  [
    Type.Literal('none'),
    Type.Literal('kvm'),
    Type.Literal('tcg'),
    Type.Literal('xen'),
    Type.Literal('hvf'),
  ],
  { description: 'how the guest CPU is provided; none for platforms that share the host kernel' },
);

/** Where and how a measurement was taken: everything that changes the numbers. */
export const PlatformRecord = Type.Object(
  {
    name: Name,
    runtime: Name,
    runtimeVersion: Type.String({ maxLength: 128 }),
    accel: Accel,
    settings: Type.Record(
      Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
      Type.Union([Type.String({ maxLength: 512 }), Type.Number(), Type.Boolean()]),
      // Without this, keys outside the pattern (and their values) are not checked at all.
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const Percentiles = Type.Object(
  {
    p50: Type.Optional(Type.Number()),
    p75: Type.Optional(Type.Number()),
    p90: Type.Optional(Type.Number()),
    p99: Type.Optional(Type.Number()),
    p999: Type.Optional(Type.Number()),
  },
  { additionalProperties: false },
);

export const Metric = Type.Object(
  {
    name: Name,
    unit: Type.String({ minLength: 1, maxLength: 32 }),
    value: Type.Number({ description: 'the mean of the samples' }),
    samples: Type.Integer({ minimum: 1, maximum: 4_294_967_295 }),
    rme: Type.Number({ minimum: 0, description: 'relative margin of error, percent' }),
    stddev: Type.Optional(Type.Number({ minimum: 0 })),
    min: Type.Optional(Type.Number()),
    max: Type.Optional(Type.Number()),
    percentiles: Type.Optional(Percentiles),
    stoppedBy: Type.Optional(
      Type.Union(
        [
          Type.Literal('rme-target'),
          Type.Literal('time-cap'),
          Type.Literal('sample-count'),
          Type.Literal('single'),
        ],
        {
          description:
            'why sampling ended: the margin of error was reached, the time cap was hit, a fixed number of samples was taken, or there was one sample',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const ResultBatchV1 = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    id: ResultId,
    hostId: HostId,
    runId: RunId,
    takenAt: Type.Integer({
      minimum: 0,
      maximum: 4_102_444_800_000,
      description: 'epoch milliseconds (before 2100)',
    }),
    platform: PlatformRecord,
    workload: Type.Object(
      { name: Name, version: Type.String({ maxLength: 64 }) },
      { additionalProperties: false },
    ),
    metrics: Type.Array(Metric, { minItems: 1, maxItems: 64 }),
  },
  { additionalProperties: false, $id: 'ResultBatchV1' },
);

/** The most rounds a suite runs, and so the longest per-round list a metric carries. */
const MAX_ROUNDS = 1000;

/** A ratio of two measurements of a positive quantity. */
const positiveRatio = (description: string): TNumber =>
  Type.Number({ exclusiveMinimum: 0, description });

/** What a comparison with the process platform concludes, against the equivalence margin. */
export const Verdict = Type.Union(
  [Type.Literal('same'), Type.Literal('faster'), Type.Literal('slower'), Type.Literal('unclear')],
  {
    description:
      'same: the whole interval lies within the margin of 1; faster or slower: it lies on one side of 1; unclear otherwise',
  },
);

/**
 * How a platform's metric compares with the same metric of the process platform, paired
 * round by round: the geometric mean of the per-round ratios, its 95% interval and the
 * verdict against the equivalence margin.
 */
export const Comparison = Type.Object(
  {
    baseline: Type.String({
      pattern: `^${NAME_PATTERN}:${NAME_PATTERN}$`,
      description:
        'the platform and runtime compared with, as platform:runtime (process:node; in an interference result, the platform itself)',
    }),
    ratio: positiveRatio('geometric mean of the per-round ratios value / baseline'),
    ci95: Type.Tuple([positiveRatio('low end'), positiveRatio('high end')], {
      description: '95% interval of the ratio',
    }),
    rounds: Type.Integer({ minimum: 1, maximum: MAX_ROUNDS, description: 'rounds used' }),
    perRound: Type.Array(positiveRatio('the ratio of one round'), {
      minItems: 1,
      maxItems: MAX_ROUNDS,
      description: 'the ratio of each round, in round order',
    }),
    verdict: Verdict,
    margin: Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      description: 'the equivalence margin, as a fraction (0.03 is 3%)',
    }),
    method: Type.Union([Type.Literal('t'), Type.Literal('bootstrap')], {
      description: 't interval on the log-ratios, or a seeded bootstrap over rounds',
    }),
    roundsToDecide: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 4_294_967_295,
        description: 'for unclear: how many rounds in all would likely decide it',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      "how this metric compares with the process platform's, round by round (absent on the process platform itself); in an interference result, how the victim beside the antagonist compares with the same platform alone",
  },
);

/** A metric of a version 2 batch: a version 1 metric, with its rounds and its comparison. */
export const MetricV2 = Type.Object(
  {
    ...Metric.properties,
    roundValues: Type.Optional(
      Type.Array(Type.Number(), {
        minItems: 1,
        maxItems: MAX_ROUNDS,
        description: "this metric's value in each round, in round order",
      }),
    ),
    comparison: Type.Optional(Comparison),
  },
  { additionalProperties: false },
);

/**
 * Version 2: a suite of randomised, interleaved rounds. Every field of version 1, the
 * rounds run, the host's state and the calibration, and per metric its rounds and its
 * comparison with the process platform.
 */
export const ResultBatchV2 = Type.Object(
  {
    ...ResultBatchV1.properties,
    schemaVersion: Type.Literal(2),
    metrics: Type.Array(MetricV2, { minItems: 1, maxItems: 64 }),
    rounds: Type.Object(
      {
        count: Type.Integer({ minimum: 1, maximum: MAX_ROUNDS, description: 'rounds run' }),
        seed: Type.String({
          minLength: 1,
          maxLength: 64,
          description: 'the seed the order of each round was shuffled from',
        }),
        disturbed: Type.Integer({
          minimum: 0,
          maximum: MAX_ROUNDS,
          description: 'rounds run again because the host was disturbed',
        }),
      },
      { additionalProperties: false },
    ),
    hostFingerprint: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'a hash of the host state that changes the numbers',
    }),
    uncalibrated: Type.Boolean({
      description: "the run's calibration canary missed its expected ratio of 0.5",
    }),
  },
  { additionalProperties: false, $id: 'ResultBatchV2' },
);

export type ResultBatchV1 = Static<typeof ResultBatchV1>;
export type ResultBatchV2 = Static<typeof ResultBatchV2>;
/** A result batch of any version ingest accepts. */
export type ResultBatch = ResultBatchV1 | ResultBatchV2;
export type ResultMetric = Static<typeof Metric>;
export type ResultMetricV2 = Static<typeof MetricV2>;
export type Comparison = Static<typeof Comparison>;
export type Verdict = Static<typeof Verdict>;
export type Platform = Static<typeof PlatformRecord>;
export type Accel = Static<typeof Accel>;
