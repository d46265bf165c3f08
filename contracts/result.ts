import { Type, type Static } from '@sinclair/typebox';
import { HostId, ResultId, RunId } from './ids.ts';

/** A short lower-case name: platform, runtime, workload or metric. */
const Name = Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$' });

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

export type ResultBatch = Static<typeof ResultBatchV1>;
export type ResultMetric = Static<typeof Metric>;
export type Platform = Static<typeof PlatformRecord>;
export type Accel = Static<typeof Accel>;
